#include "bot/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <functional>
#include <mutex>

namespace tandem::bot::log {
namespace {
std::atomic<int> current{static_cast<int>(level::info)};
std::mutex mu;
std::string* sink = nullptr;

const char* name(level l) {
    switch (l) {
    case level::debug:
        return "debug";
    case level::info:
        return "info";
    case level::warn:
        return "warn";
    case level::error:
        return "error";
    default:
        return "off";
    }
}
} // namespace

void set_level(level l) {
    current = static_cast<int>(l);
}

level parse_level(std::string_view s, bool* ok) {
    if (ok)
        *ok = true;
    if (s == "debug")
        return level::debug;
    if (s == "info")
        return level::info;
    if (s == "warn")
        return level::warn;
    if (s == "error")
        return level::error;
    if (s == "off")
        return level::off;
    if (ok)
        *ok = false;
    return level::info;
}

bool enabled(level l) {
    return static_cast<int>(l) >= current.load();
}

namespace {
// A key as nlohmann's dump writes it: plain keys as they are, others through its escaping.
void append_key(std::string& out, nlohmann::detail::serializer<nlohmann::json>& ser,
                std::string_view key) {
    bool plain = true;
    for (unsigned char c : key)
        plain = plain && c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
    if (plain) {
        out += '"';
        out += key;
        out += '"';
    } else {
        ser.dump(nlohmann::json(std::string(key)), false, false, 0);
    }
    out += ':';
}
} // namespace

void write(level l, std::string_view event, const nlohmann::json& fields) {
    if (!enabled(l))
        return;
    auto now = std::chrono::system_clock::now();
    auto secs = std::chrono::system_clock::to_time_t(now);
    auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() %
        1000;
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char ts[40];
    std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(ms));
    // Byte for byte the dump of one object holding ts, level and event and then every field
    // (a field of the same name wins), keys in order as in nlohmann's std::map, without
    // copying the fields into such an object first (this runs once per turn at "info").
    struct fixed_entry {
        std::string_view key;
        std::string_view value;
    };
    const fixed_entry fixed[] = {{"event", event}, {"level", name(l)}, {"ts", ts}};
    const bool has_fields = fields.is_object();
    std::string text;
    text.reserve(160);
    {
        nlohmann::detail::serializer<nlohmann::json> ser(
            nlohmann::detail::output_adapter<char, std::string>(text), ' ',
            nlohmann::json::error_handler_t::replace);
        bool first = true;
        std::size_t next_fixed = 0;
        auto put_fixed = [&](const fixed_entry& f) {
            if (has_fields && fields.contains(f.key))
                return; // the field's value replaces it
            if (!first)
                text += ',';
            first = false;
            append_key(text, ser, f.key);
            ser.dump(nlohmann::json(std::string(f.value)), false, false, 0);
        };
        text += '{';
        if (has_fields) {
            for (auto it = fields.begin(); it != fields.end(); ++it) {
                const std::string& k = it.key();
                while (next_fixed < std::size(fixed) && fixed[next_fixed].key < k)
                    put_fixed(fixed[next_fixed++]);
                if (!first)
                    text += ',';
                first = false;
                append_key(text, ser, k);
                ser.dump(it.value(), false, false, 0);
            }
        }
        while (next_fixed < std::size(fixed))
            put_fixed(fixed[next_fixed++]);
        text += "}\n";
    }
    std::lock_guard lock(mu);
    if (sink)
        *sink += text;
    else
        std::fwrite(text.data(), 1, text.size(), stderr);
}

std::string log_id(std::string_view channel, std::string_view conversation_id) {
    // Not a secret-keyed hash: it only keeps raw platform ids out of the logs.
    std::uint64_t h = 1469598103934665603ull;
    auto feed = [&h](std::string_view s) {
        for (unsigned char c : s) {
            h ^= c;
            h *= 1099511628211ull;
        }
    };
    feed(channel);
    feed(":");
    feed(conversation_id);
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    return buf;
}

void test_capture(std::string* s) {
    std::lock_guard lock(mu);
    sink = s;
}

} // namespace tandem::bot::log
