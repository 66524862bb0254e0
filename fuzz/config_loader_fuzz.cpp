// The config loader and the resources loader on arbitrary files.
#include "bot/config.hpp"
#include "bot/normalizer.hpp"
#include "bot/resources.hpp"
#include "fuzz/fuzz_support.hpp"

using namespace tandem;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto path = fuzz::scratch().write("root/config/tandem.json", data, size);
    bot::diagnostics diags;
    auto cfg = bot::load_config(path, diags, {"server", "telegram", "discord", "widget"});
    fuzz::check(cfg.has_value() == diags.empty(), "a config with problems was accepted");
    if (cfg) {
        (void)cfg->data_path(cfg->store.file);
        (void)cfg->resolve(cfg->content.intents_dir);
        fuzz::check(cfg->core.threads >= 1 && cfg->core.strands >= 1,
                    "a config with no worker threads or strands was accepted");
    }
    auto res_path = fuzz::scratch().write("root/config/resources.json", data, size);
    bot::diagnostics rdiags;
    if (auto rs = bot::resource_set::load(res_path, rdiags)) {
        for (const auto& [code, region] : rs->regions()) {
            for (const auto& cat : bot::resource_set::categories())
                (void)rs->render(cat, code);
            (void)rs->emergency(code);
            for (const auto& a : region.aliases)
                (void)rs->region_for(a);
        }
        (void)rs->render("crisis", "nowhere");
        (void)rs->unverified();
    }
    return 0;
}
