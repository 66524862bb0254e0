// The structured log's line format: log::write writes each line without building a JSON
// object of it first; the line must stay byte for byte what dumping that object gave.
#include "bot/log.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace tandem;
using nlohmann::json;

namespace {

// What log::write wrote before: one object of ts, level, event, then the fields (a field of
// the same name replacing them), dumped with invalid UTF-8 replaced.
std::string reference_line(const std::string& ts, const char* level, const std::string& event,
                           const json& fields) {
    json line = json::object();
    line["ts"] = ts;
    line["level"] = level;
    line["event"] = event;
    if (fields.is_object())
        for (const auto& [k, v] : fields.items())
            line[k] = v;
    return line.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string captured(bot::log::level l, const std::string& event, const json& fields) {
    std::string sink;
    bot::log::test_capture(&sink);
    bot::log::write(l, event, fields);
    bot::log::test_capture(nullptr);
    return sink;
}

} // namespace

TEST_CASE("log: a line is what dumping one object of the entry and its fields gives") {
    bot::log::set_level(bot::log::level::debug);
    std::vector<json> cases = {
        json::object(),
        json(nullptr), // not an object: no fields
        json::array({1, 2}),
        {{"conversation", "00ff00ff00ff00ff"}, {"intent", "greet"}, {"ms", 12}},
        {{"a", 1}, {"zz", true}, {"f", 2.5}, {"nested", {{"x", {1, 2, 3}}, {"y", nullptr}}}},
        // Fields named like the entry's own keys replace them, wherever they sort.
        {{"event", "overridden"}, {"level", 7}, {"ts", "then"}, {"b", "c"}},
        {{"Event", 1}, {"eventx", 2}, {"ts0", 3}, {"l", 4}, {"", "empty key"}},
        // Keys and values that need escaping, non-ASCII text, invalid UTF-8 (replaced).
        {{"quote\"key", "back\\slash"}, {"tab\tkey", "line\nbreak"}, {"ünï", "çødé ✓"}},
        {{"bad", std::string("a\xff\xfe") + "b"}, {std::string("k\xc3"), "v"}},
        {{"error", "disk I/O error"}, {"status", -1}, {"big", 18446744073709551615ull}},
    };
    for (const auto& fields : cases) {
        for (auto l : {bot::log::level::debug, bot::log::level::info, bot::log::level::warn,
                       bot::log::level::error}) {
            for (const std::string event : {"telegram.turn", "a\"b", "http.listening"}) {
                std::string line = captured(l, event, fields);
                REQUIRE(!line.empty());
                // The timestamp is the only part the test cannot know: take it from the line.
                auto parsed = json::parse(line);
                std::string ts = "x";
                const char* name = l == bot::log::level::debug  ? "debug"
                                   : l == bot::log::level::info ? "info"
                                   : l == bot::log::level::warn ? "warn"
                                                                : "error";
                if (!(fields.is_object() && fields.contains("ts")))
                    ts = parsed.at("ts").get<std::string>();
                INFO(line);
                CHECK(line == reference_line(ts, name, event, fields));
            }
        }
    }
    bot::log::set_level(bot::log::level::info);
}

TEST_CASE("log: nothing is written below the level") {
    bot::log::set_level(bot::log::level::warn);
    CHECK(captured(bot::log::level::info, "quiet", {{"a", 1}}).empty());
    CHECK(!captured(bot::log::level::error, "loud", {{"a", 1}}).empty());
    bot::log::set_level(bot::log::level::info);
}
