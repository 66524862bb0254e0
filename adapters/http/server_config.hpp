// The "server" section of config/tandem.json: where `tandem serve` listens and the limits
// every connection lives under. Defaults are safe for a webhook server behind a proxy.
#pragma once

#include "bot/config.hpp"
#include "bot/diagnostics.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace tandem::adapters::http {

struct server_config {
    std::string host = "127.0.0.1";  // listen address; "0.0.0.0" to accept from other hosts
    std::uint16_t port = 8080;       // 0 = any free port (the bound port is logged)
    int threads = 1;                 // io_context threads; 1 is right for a 2-core box
    std::size_t header_limit = 8192; // bytes of request line + headers (431 beyond)
    std::size_t body_limit = 65536;  // bytes of body on any route (413 beyond)
    std::chrono::milliseconds read_timeout{10000};  // whole request, including keep-alive idle
    std::chrono::milliseconds write_timeout{10000}; // writing one response
    std::size_t max_connections = 1024;             // further connections are closed at once
    std::chrono::milliseconds shutdown_grace{5000}; // drain time on SIGINT/SIGTERM
    std::string tls_cert_file; // PEM chain; with tls_key_file enables HTTPS (root-relative)
    std::string tls_key_file;  // PEM private key
    // Per client address on the widget's routes (pages, HTTP fallback, WebSocket handshakes
    // and messages): per_source_per_minute on average, up to per_source_burst at once; 0 =
    // off. Webhooks are not limited by address (their calls come from the platforms).
    double per_source_per_minute = 120;
    int per_source_burst = 60;
    bool trust_forwarded_for = false; // behind a proxy: the client is X-Forwarded-For's last
};

// Parses cfg.sections["server"] (absent = defaults). Problems go to diags with file and
// JSON pointer; unknown keys are reported.
server_config parse_server_config(const bot::config& cfg, const std::string& file,
                                  bot::diagnostics& diags);

// Parses "HOST:PORT" (also "[v6]:PORT" and ":PORT"); nullopt when malformed.
std::optional<std::pair<std::string, std::uint16_t>> parse_listen(const std::string& s);

} // namespace tandem::adapters::http
