#include "test_support.hpp"

#include <catch2/catch.hpp>

namespace tandem::test {

std::shared_ptr<const bot::content> load_ok(const bot::content_paths& paths) {
    bot::diagnostics diags;
    auto c = bot::content::load(paths, diags);
    INFO(diags.to_string());
    REQUIRE(diags.empty());
    return c;
}

} // namespace tandem::test
