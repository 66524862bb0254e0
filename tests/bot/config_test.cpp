#include "../support/test_support.hpp"

#include "bot/config.hpp"
#include "bot/normalizer.hpp"

#include <fstream>

#include <catch2/catch.hpp>

using namespace tandem;

namespace {
bot::diagnostics parse(const std::string& text, bot::config* out = nullptr) {
    bot::diagnostics d;
    auto c = bot::parse_config(nlohmann::json::parse(text, nullptr, true, true), "tandem.json", d);
    if (out)
        *out = c;
    return d;
}
} // namespace

TEST_CASE("config: defaults apply when fields are left out", "[config]") {
    bot::config c;
    CHECK(parse("{}", &c).empty());
    CHECK(c.store.kind == "sqlite");
    CHECK(c.conversation.idle_expiry_seconds == 1800);
    CHECK(c.core.threads == 2);
    CHECK_FALSE(c.log.message_text);
}

TEST_CASE("config: every bad value is reported with its path", "[config]") {
    auto d = parse(R"({
        "store": {"kind": "postgres", "fil": "x"},
        "core": {"threads": 0},
        "conversation": {"switch_confidence": 2, "idle_expiry_seconds": "soon"},
        "log": {"level": "loud"}
    })");
    auto s = d.to_string();
    INFO(s);
    CHECK(s.find("/store/kind: config.bad_value") != std::string::npos);
    CHECK(s.find("/store/fil: schema.unknown_key") != std::string::npos);
    CHECK(s.find("/core/threads: schema.range") != std::string::npos);
    CHECK(s.find("/conversation/switch_confidence: schema.range") != std::string::npos);
    CHECK(s.find("/conversation/idle_expiry_seconds: schema.type") != std::string::npos);
    CHECK(s.find("/log/level: config.bad_value") != std::string::npos);
    CHECK(d.size() == 6);
}

TEST_CASE("config: a Redis store is read with every field", "[config][redis]") {
    bot::config c;
    auto d = parse(R"({"store": {"kind": "redis", "unix_socket": "/run/redis/redis.sock",
        "database": 3, "key_prefix": "bot1:", "password_env": "TANDEM_REDIS_PASSWORD",
        "connect_timeout_ms": 500, "command_timeout_ms": 1500, "pool_size": 4}})",
                   &c);
    INFO(d.to_string());
    CHECK(d.empty());
    CHECK(c.store.kind == "redis");
    CHECK(c.store.unix_socket == "/run/redis/redis.sock");
    CHECK(c.store.database == 3);
    CHECK(c.store.key_prefix == "bot1:");
    CHECK(c.store.password_env == "TANDEM_REDIS_PASSWORD");
    CHECK(c.store.connect_timeout_ms == 500);
    CHECK(c.store.command_timeout_ms == 1500);
    CHECK(c.store.pool_size == 4);
    CHECK(parse(R"({"store": {"kind": "redis", "host": "10.0.0.5", "port": 6380}})", &c).empty());
    CHECK(c.store.host == "10.0.0.5");
    CHECK(c.store.port == 6380);
}

TEST_CASE("config: Redis store mistakes are reported with their paths", "[config][redis]") {
    auto d = parse(R"({"store": {"kind": "redis", "host": "", "port": 70000,
        "unix_socket": "/tmp/r.sock", "password_env": "", "file": "x.sqlite",
        "command_timeout_ms": 0, "passwrd": "hunter2"}})");
    auto s = d.to_string();
    INFO(s);
    CHECK(s.find("/store/host: config.bad_value: host cannot be empty") != std::string::npos);
    CHECK(s.find("/store/port: schema.range") != std::string::npos);
    CHECK(s.find("/store/unix_socket: config.bad_value: give either unix_socket or host/port") !=
          std::string::npos);
    CHECK(s.find("/store/password_env: config.bad_value") != std::string::npos);
    CHECK(s.find("/store/file: config.bad_value: file applies to store kind \"sqlite\" only") !=
          std::string::npos);
    CHECK(s.find("/store/command_timeout_ms: schema.range") != std::string::npos);
    CHECK(s.find("/store/passwrd: schema.unknown_key") != std::string::npos);
    CHECK(d.size() == 7);
    // Redis fields on an SQLite store are a mistake too.
    auto d2 = parse(R"({"store": {"kind": "sqlite", "host": "redis.internal"}})");
    CHECK(d2.to_string().find("/store/host: config.bad_value: host applies to store kind "
                              "\"redis\" only (this store is \"sqlite\")") != std::string::npos);
}

TEST_CASE("config: channel sections are passed on for their adapters", "[config]") {
    bot::config c;
    CHECK(parse(R"({"server": {"listen": "127.0.0.1:8080"}})", &c).empty());
    REQUIRE(c.sections.count("server"));
    CHECK(c.sections["server"]["listen"] == "127.0.0.1:8080");
}

TEST_CASE("config: a broken file is a clear error", "[config]") {
    test::temp_dir tmp;
    auto p = tmp.path() / "tandem.json";
    std::FILE* f = std::fopen(p.c_str(), "w");
    std::fputs("{ \"data_dir\": \"x\",, }", f);
    std::fclose(f);
    bot::diagnostics d;
    CHECK_FALSE(bot::load_config(p.string(), d));
    CHECK(d.has_code("json.parse"));
    CHECK(d.to_string().find("line 1") != std::string::npos);
    bot::diagnostics d2;
    CHECK_FALSE(bot::load_config((tmp.path() / "missing.json").string(), d2));
    CHECK(d2.has_code("file.read"));
}

TEST_CASE("config: a key written twice is an error, not a silent overwrite", "[config]") {
    test::temp_dir tmp;
    auto p = tmp.path() / "tandem.json";
    std::FILE* f = std::fopen(p.c_str(), "w");
    std::fputs("{\n  \"log\": {\"message_text\": false},\n  \"store\": {\"kind\": \"memory\"},\n"
               "  \"log\": {\"message_text\": true}\n}",
               f);
    std::fclose(f);
    bot::diagnostics d;
    CHECK_FALSE(bot::load_config(p.string(), d));
    INFO(d.to_string());
    CHECK(d.has_code("json.duplicate_key"));
    CHECK(d.to_string().find("/log") != std::string::npos);
    // Same key in different objects is fine.
    f = std::fopen(p.c_str(), "w");
    std::fputs("{\"log\": {\"level\": \"info\"}, \"store\": {\"kind\": \"memory\"}}", f);
    std::fclose(f);
    bot::diagnostics d2;
    CHECK(bot::load_config(p.string(), d2));
    CHECK(d2.empty());
}

TEST_CASE("config: the shipped config is valid", "[config][shipped]") {
    bot::diagnostics d;
    auto c = bot::load_config((test::source_dir() / "config" / "tandem.json").string(), d);
    INFO(d.to_string());
    CHECK(c.has_value());
}

TEST_CASE("config: a parse error is printable and names its position once", "[config]") {
    // Found by the bad-input table (docs/bad-input.md): nlohmann quoted the raw bytes it last
    // read, invalid UTF-8 included, and repeated the position.
    test::temp_dir tmp;
    auto p = tmp.path() / "bad.json";
    std::ofstream(p, std::ios::binary) << "{\"schema_version\":1,\"data_dir\":\"\xFF\xFE\"}";
    bot::diagnostics diags;
    CHECK_FALSE(bot::load_config(p.string(), diags));
    REQUIRE(diags.size() == 1);
    auto msg = diags.items().front().message;
    CHECK(msg.rfind("line 1, column ", 0) == 0);
    CHECK(msg.find("parse error at line") == std::string::npos);
    CHECK(bot::sanitize_utf8(msg) == msg); // valid UTF-8
    CHECK(msg.find("ill-formed UTF-8") != std::string::npos);
}
