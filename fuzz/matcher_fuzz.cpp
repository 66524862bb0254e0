// The intent matcher on the fixture content: the RE2::Set path and the one-by-one baseline
// must agree on every input; ranking and confidence stay within their contracts.
#include "bot/content.hpp"
#include "bot/normalizer.hpp"
#include "fuzz/fuzz_support.hpp"

#include <filesystem>
#include <iostream>

using namespace tandem;

namespace {
std::shared_ptr<const bot::content> load(const bot::content_paths& paths, bool must) {
    bot::diagnostics diags;
    auto loaded = bot::content::load(paths, diags);
    if (!diags.empty()) {
        if (!must)
            return nullptr;
        std::cerr << diags.to_string();
        std::abort();
    }
    return loaded;
}

// The fixture content (a few dozen patterns: one RE2::Set) and, when it is valid, the
// shipped content (hundreds: the literal prefilter path of the matcher).
const std::vector<std::shared_ptr<const bot::content>>& contents() {
    static auto all = [] {
        std::vector<std::shared_ptr<const bot::content>> v{
            load(fuzz::paths_in(fuzz::fixture_content()), true)};
        std::filesystem::path root = TANDEM_SOURCE_DIR;
        auto locales = root / "config" / "locales.json";
        if (auto shipped = load({(root / "intents").string(), (root / "dialogs").string(),
                                 (root / "config" / "resources.json").string(),
                                 std::filesystem::exists(locales) ? locales.string() : ""},
                                false))
            v.push_back(shipped);
        return v;
    }();
    return all;
}
} // namespace

// Loading and compiling the shipped content takes tens of seconds under ASan (thousands of
// patterns, each example self-tested); done here it does not count against -timeout, which
// is meant for one input.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
    (void)contents();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    for (const auto& c : contents()) {
        for (const bot::content* lc : {c.get(), &c->for_locale("es")}) {
            const auto& m = lc->matcher();
            auto a = m.classify(in);
            auto b = m.test_classify_one_by_one(in);
            fuzz::check(a.intent == b.intent && a.topic == b.topic, "set and one-by-one disagree");
            fuzz::check(a.ranked.size() == b.ranked.size() && a.captures == b.captures,
                        "set and one-by-one rank differently");
            for (std::size_t k = 0; k < a.ranked.size(); ++k) {
                fuzz::check(a.ranked[k].intent == b.ranked[k].intent, "ranking differs");
                if (k > 0)
                    fuzz::check(a.ranked[k - 1].priority >= a.ranked[k].priority,
                                "ranked is not by priority");
            }
            fuzz::check(a.matched() == !a.ranked.empty(), "matched() and ranked disagree");
            fuzz::check(!a.matched() || (a.confidence > 0 && a.confidence <= 1),
                        "confidence out of (0, 1]");
            fuzz::check(a.normalized == bot::normalize(in), "normalized text differs");
        }
        (void)c->locale_for(std::string(in));
        (void)c->resources().region_for(bot::normalize(in));
    }
    return 0;
}
