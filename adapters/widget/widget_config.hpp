// The "widget" section of config/tandem.json: who may embed the chat widget and the limits
// every widget session lives under. Documented in docs/widget.md.
#pragma once

#include "bot/config.hpp"
#include "bot/diagnostics.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tandem::adapters::widget {

struct widget_config {
    bool enabled = true; // serve /widget.js, the demo page and the widget endpoints
    // Pages that may embed the widget, as exact origins ("https://blog.example.org").
    // The demo page's own origin is always allowed; "*" allows every origin.
    std::vector<std::string> allowed_origins;
    bool demo_page = true;                        // serve the demo page at "/"
    std::int64_t session_idle_seconds = 86400;    // an unused session and its history go after this
    std::size_t history_limit = 200;              // messages kept per session for resume/reload
    std::size_t max_sessions = 10000;             // new sessions are refused beyond this
    std::size_t max_text_chars = 2000;            // characters of one user message
    std::size_t max_frame_bytes = 16384;          // one WebSocket message or HTTP request body
    int messages_per_minute = 30;                 // per session; more get "slow_down"
    std::chrono::seconds socket_idle_timeout{60}; // silent sockets are pinged at half, closed after
    std::chrono::seconds poll_timeout{25};        // how long an HTTP long-poll waits for news
    std::string assets_dir; // serve widget.js and the demo page from here instead of the build
};

// Parses cfg.sections["widget"] (absent = defaults). Every problem goes to diags with the
// file and JSON pointer; unknown keys are reported.
widget_config parse_widget_config(const bot::config& cfg, const std::string& file,
                                  bot::diagnostics& diags);

// "https://Example.org:443/" -> "https://example.org"; empty when s is not an http(s)
// origin (scheme://host[:port] with nothing after it).
std::string normalize_origin(std::string_view s);

} // namespace tandem::adapters::widget
