// The "discord" config section: discord.inbox names the inbox's file in data_dir, and bad
// values are reported with file and path like every other key.
#include "adapters/discord/discord_config.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

namespace dc = tandem::adapters::discord;
using nlohmann::json;

namespace {

dc::discord_config check(const std::string& text, std::string* problems) {
    tandem::bot::diagnostics diags;
    auto cfg = tandem::bot::parse_config(json::parse(text, nullptr, true, true), "t.json", diags);
    auto out = dc::parse_discord_config(cfg, "t.json", diags);
    *problems = diags.to_string();
    return out;
}

} // namespace

TEST_CASE("discord config: the inbox is a file of its own in data_dir, store kind sqlite only",
          "[discord][config]") {
    std::string p;
    CHECK(check("{}", &p).inbox == "discord-inbox.sqlite");
    CHECK(p.empty());
    CHECK(check(R"({"discord": {"inbox": "dc.sqlite"}})", &p).inbox == "dc.sqlite");
    CHECK(p.empty());
    check(R"({"discord": {"inbox": "tandem.sqlite"}})", &p);
    CHECK(p.find("t.json:/discord/inbox: config.bad_value: inbox must be a file of its own, not "
                 "the store's file \"tandem.sqlite\"") != std::string::npos);
    check(R"({"store": {"file": "x.sqlite"}, "discord": {"inbox": "x.sqlite"}})", &p);
    CHECK(p.find("/discord/inbox: config.bad_value") != std::string::npos);
    check(R"({"discord": {"inbox": ""}})", &p);
    CHECK(p.find("/discord/inbox: config.bad_value: inbox names a file in data_dir") !=
          std::string::npos);
    check(R"({"discord": {"inbox": "folder/"}})", &p);
    CHECK(p.find("/discord/inbox: config.bad_value: inbox names a file in data_dir") !=
          std::string::npos);
    check(R"({"discord": {"inbox": 5}})", &p);
    CHECK(p.find("/discord/inbox") != std::string::npos);
    check(R"({"store": {"kind": "memory"}, "discord": {"inbox": "dc.sqlite"}})", &p);
    CHECK(p.find("/discord/inbox: config.bad_value: inbox applies to store kind \"sqlite\" "
                 "only (this store is \"memory\")") != std::string::npos);
    // Every problem is reported, not just the first.
    check(R"({"discord": {"inbox": "", "inline_wait_ms": 99999}})", &p);
    CHECK(p.find("/discord/inbox") != std::string::npos);
    CHECK(p.find("/discord/inline_wait_ms") != std::string::npos);
}
