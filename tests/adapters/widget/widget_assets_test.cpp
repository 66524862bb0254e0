#include "../../support/test_support.hpp"

#include "adapters/widget/widget_assets.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

using namespace tandem;
using adapters::widget::find_asset;

namespace {
std::string read(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}
} // namespace

TEST_CASE("widget assets: the built-in copies match adapters/widget/web", "[widget][assets]") {
    auto web = test::source_dir() / "adapters" / "widget" / "web";
    auto js = find_asset("/widget.js");
    REQUIRE(js);
    CHECK(js->content_type == "text/javascript; charset=utf-8");
    CHECK(js->body == read(web / "widget.js"));
    auto page = find_asset("/");
    REQUIRE(page);
    CHECK(page->content_type == "text/html; charset=utf-8");
    CHECK(page->body == read(web / "index.html"));
    CHECK(find_asset("/demo.css"));
    CHECK(find_asset("/favicon.svg"));
}

TEST_CASE("widget assets: only known paths, a folder replaces the built-in copies",
          "[widget][assets]") {
    CHECK_FALSE(find_asset("/widget.js.map"));
    CHECK_FALSE(find_asset("/../CMakeLists.txt"));
    CHECK_FALSE(find_asset("/web/widget.js"));
    test::temp_dir dir;
    std::ofstream(dir.path() / "widget.js") << "// mine";
    auto js = find_asset("/widget.js", dir.str());
    REQUIRE(js);
    CHECK(js->body == "// mine");
    CHECK_FALSE(find_asset("/demo.css", dir.str())); // missing from the folder
}
