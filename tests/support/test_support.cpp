#include "test_support.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <mutex>

namespace tandem::test {

std::shared_ptr<const bot::content> load_ok(const bot::content_paths& paths) {
    bot::diagnostics diags;
    auto c = bot::content::load(paths, diags);
    INFO(diags.to_string());
    REQUIRE(diags.empty());
    return c;
}

std::shared_ptr<const bot::content> load_ok_once(const bot::content_paths& paths) {
    static std::mutex mu;
    static std::map<std::string, std::shared_ptr<const bot::content>> loaded;
    std::string key = paths.intents_dir + '\n' + paths.dialogs_dir + '\n' + paths.resources_file +
                      '\n' + paths.locales_file;
    std::lock_guard lock(mu);
    auto& c = loaded[key];
    if (!c)
        c = load_ok(paths);
    return c;
}

} // namespace tandem::test
