// Structured logging: one JSON object per line on stderr.
// Never pass message text here: log ids, intents, nodes, sizes and error codes only.
// Conversation ids are logged hashed (log_id()).
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace tandem::bot::log {

enum class level { debug = 0, info = 1, warn = 2, error = 3, off = 4 };

void set_level(level l);
level parse_level(std::string_view s, bool* ok = nullptr);
bool enabled(level l);

// Writes {"ts":..., "level":..., "event": event, ...fields}. Thread-safe.
void write(level l, std::string_view event,
           const nlohmann::json& fields = nlohmann::json::object());
inline void debug(std::string_view e, const nlohmann::json& f = nlohmann::json::object()) {
    write(level::debug, e, f);
}
inline void info(std::string_view e, const nlohmann::json& f = nlohmann::json::object()) {
    write(level::info, e, f);
}
inline void warn(std::string_view e, const nlohmann::json& f = nlohmann::json::object()) {
    write(level::warn, e, f);
}
inline void error(std::string_view e, const nlohmann::json& f = nlohmann::json::object()) {
    write(level::error, e, f);
}

// A short, stable, non-reversible id for a conversation (for logs and metrics).
std::string log_id(std::string_view channel, std::string_view conversation_id);

// Test hook: capture log lines into a string instead of stderr (nullptr restores stderr).
void test_capture(std::string* sink);

} // namespace tandem::bot::log
