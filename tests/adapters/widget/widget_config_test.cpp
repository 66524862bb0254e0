#include "../../support/test_support.hpp"

#include "adapters/widget/widget_config.hpp"
#include "adapters/widget/widget_http.hpp"

#include <catch2/catch.hpp>

using namespace tandem;
using namespace tandem::adapters::widget;

namespace {
widget_config parse(const std::string& json, bot::diagnostics& d) {
    bot::config cfg;
    cfg.root = test::source_dir().string();
    cfg.sections["widget"] = nlohmann::json::parse(json);
    return parse_widget_config(cfg, "config/tandem.json", d);
}
} // namespace

TEST_CASE("widget config: defaults when the section is absent", "[widget][config]") {
    bot::config cfg;
    bot::diagnostics d;
    auto w = parse_widget_config(cfg, "config/tandem.json", d);
    CHECK(d.empty());
    CHECK(w.enabled);
    CHECK(w.allowed_origins.empty());
    CHECK(w.max_frame_bytes == 16384);
}

TEST_CASE("widget config: origins are normalised", "[widget][config]") {
    bot::diagnostics d;
    auto w = parse(R"({"allowed_origins":["https://Blog.Example.org/","http://localhost:8081",
                       "https://example.org:443","*"],"assets_dir":"adapters/widget/web"})",
                   d);
    INFO(d.to_string());
    CHECK(d.empty());
    CHECK(w.allowed_origins == std::vector<std::string>{"https://blog.example.org",
                                                        "http://localhost:8081",
                                                        "https://example.org", "*"});
    CHECK(w.assets_dir == (test::source_dir() / "adapters/widget/web").string());
}

TEST_CASE("widget config: every problem is reported with its JSON path", "[widget][config]") {
    bot::diagnostics d;
    parse(R"({"allowed_origins":["example.org","https://ok.org","https://x.org/path"],
              "history_limit":"lots","max_frame_bytes":10,"colour":"red","enabled":1,
              "assets_dir":"no/such/folder"})",
          d);
    auto text = d.to_string();
    INFO(text);
    CHECK(text.find("config/tandem.json:/widget/allowed_origins/0: widget.origin") !=
          std::string::npos);
    CHECK(text.find("/widget/allowed_origins/2: widget.origin") != std::string::npos);
    CHECK(text.find("/widget/allowed_origins/1") == std::string::npos);
    CHECK(text.find("/widget/history_limit") != std::string::npos);
    CHECK(text.find("/widget/max_frame_bytes") != std::string::npos);
    CHECK(text.find("/widget/colour: schema.unknown_key") != std::string::npos);
    CHECK(text.find("/widget/enabled") != std::string::npos);
    CHECK(text.find("/widget/assets_dir: widget.assets_dir") != std::string::npos);
}

TEST_CASE("widget config: normalize_origin", "[widget][config]") {
    CHECK(normalize_origin("http://127.0.0.1:80") == "http://127.0.0.1");
    CHECK(normalize_origin("http://[::1]:8080") == "http://[::1]:8080");
    CHECK(normalize_origin("HTTPS://A.B") == "https://a.b");
    CHECK(normalize_origin("ftp://a.b").empty());
    CHECK(normalize_origin("https://").empty());
    CHECK(normalize_origin("https://a.b:0").empty());
    CHECK(normalize_origin("https://a.b:99999").empty());
    CHECK(normalize_origin("https://a b").empty());
    CHECK(normalize_origin("https://user@a.b").empty());
    CHECK(normalize_origin("null").empty());
}

TEST_CASE("widget origins: the allow-list, the server's own pages, and non-browsers",
          "[widget][config][origin]") {
    widget_config cfg;
    cfg.allowed_origins = {"https://blog.example.org", "http://127.0.0.1:8081"};
    CHECK(origin_allowed(cfg, "https://blog.example.org", "chat.example.org"));
    CHECK(origin_allowed(cfg, "https://BLOG.example.org:443", "chat.example.org"));
    CHECK(origin_allowed(cfg, "http://127.0.0.1:8081", "127.0.0.1:8080"));
    CHECK(origin_allowed(cfg, "http://127.0.0.1:8080", "127.0.0.1:8080")); // the demo page
    CHECK(origin_allowed(cfg, "https://chat.example.org", "chat.example.org"));
    CHECK(origin_allowed(cfg, "http://chat.example.org", "chat.example.org:80"));
    CHECK(origin_allowed(cfg, "", "chat.example.org")); // no Origin: not a browser
    CHECK_FALSE(origin_allowed(cfg, "https://evil.example", "chat.example.org"));
    CHECK_FALSE(origin_allowed(cfg, "https://blog.example.org.evil.example", "chat.example.org"));
    CHECK_FALSE(origin_allowed(cfg, "http://127.0.0.1:8082", "127.0.0.1:8080"));
    CHECK_FALSE(origin_allowed(cfg, "null", "chat.example.org"));
    CHECK_FALSE(origin_allowed(cfg, "https://chat.example.org", ""));
    cfg.allowed_origins = {"*"};
    CHECK(origin_allowed(cfg, "https://anyone.example", "chat.example.org"));
    CHECK_FALSE(origin_allowed(cfg, "null", "chat.example.org"));
}
