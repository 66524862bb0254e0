#include "adapters/console/console_chat.hpp"
#include "app/commands.hpp"
#include "app/runtime.hpp"

#include <filesystem>
#include <iostream>
#include <unistd.h>

namespace tandem::app {

namespace {

// Watches the content files; reloads and validates them when one changes, so an author
// sees an edit on the next line. Invalid content is reported and the old content kept.
class content_watcher {
  public:
    explicit content_watcher(const bot::config& cfg) : cfg_(cfg) { stamp_ = snapshot(); }

    std::shared_ptr<const bot::content> reload_if_changed(std::ostream& out) {
        auto now = snapshot();
        if (now == stamp_)
            return nullptr;
        stamp_ = now;
        bot::diagnostics diags;
        auto c = bot::content::load(content_paths_for(cfg_), diags);
        if (!diags.empty()) {
            out << "(content changed but has " << diags.size()
                << " problem(s); still using the previous version)\n"
                << diags.to_string() << std::flush;
            return nullptr;
        }
        out << "(content reloaded: " << c->matcher().intents().size() << " intents, "
            << c->dialogs().size() << " dialogs)\n"
            << std::flush;
        return c;
    }

  private:
    std::string snapshot() const {
        namespace fs = std::filesystem;
        std::string s;
        std::error_code ec;
        for (const auto& dir : {cfg_.content.intents_dir, cfg_.content.dialogs_dir}) {
            for (const auto& e : fs::recursive_directory_iterator(cfg_.resolve(dir), ec)) {
                auto t = fs::last_write_time(e.path(), ec);
                s += e.path().string() + "@" + std::to_string(t.time_since_epoch().count()) + ";";
            }
        }
        for (const auto& f : {cfg_.content.resources_file, cfg_.content.locales_file}) {
            auto t = fs::last_write_time(cfg_.resolve(f), ec);
            s += std::to_string(ec ? 0 : t.time_since_epoch().count()) + ";";
        }
        return s;
    }

    const bot::config& cfg_;
    std::string stamp_;
};

} // namespace

int cmd_chat(args_t args) {
    common_options common;
    std::string err;
    if (!parse_common(args, common, err)) {
        std::cerr << "tandem chat: " << err << "\n";
        return 2;
    }
    adapters::console::console_options opts;
    bool watch = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--json") {
            opts.json = true;
        } else if (args[i] == "--watch") {
            watch = true;
        } else if ((args[i] == "--record" || args[i] == "--conversation") && i + 1 < args.size()) {
            (args[i] == "--record" ? opts.record_file : opts.conversation_id) = args[i + 1];
            ++i;
        } else if (args[i] == "--language" && i + 1 < args.size()) {
            opts.language = args[++i];
        } else {
            std::cerr
                << "tandem chat: unknown option \"" << args[i]
                << "\"\nusage: tandem chat [--json] [--watch] [--record FILE] [--conversation ID] "
                   "[--language CODE] [--config FILE] [--data DIR]\n";
            return 2;
        }
    }
    opts.interactive = !opts.json && ::isatty(STDIN_FILENO);
    auto rt = open_runtime(common, true);
    if (!rt)
        return 1;
    content_watcher watcher(rt->cfg);
    if (watch)
        opts.before_turn = [&](std::ostream& out) {
            if (auto fresh = watcher.reload_if_changed(out))
                rt->service->set_content(std::move(fresh));
        };
    int rc = adapters::console::run_console(*rt->service, std::cin, std::cout, opts);
    rt->service->stop();
    return rc;
}

} // namespace tandem::app
