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

void write(level l, std::string_view event, const nlohmann::json& fields) {
    if (!enabled(l))
        return;
    nlohmann::json line = nlohmann::json::object();
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
    line["ts"] = ts;
    line["level"] = name(l);
    line["event"] = std::string(event);
    if (fields.is_object())
        for (const auto& [k, v] : fields.items())
            line[k] = v;
    std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
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
