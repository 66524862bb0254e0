#include "adapters/http/server_config.hpp"

#include "bot/json_reader.hpp"

#include <charconv>

namespace tandem::adapters::http {

server_config parse_server_config(const bot::config& cfg, const std::string& file,
                                  bot::diagnostics& diags) {
    server_config out;
    auto it = cfg.sections.find("server");
    if (it == cfg.sections.end())
        return out;
    bot::json_reader r(it->second, file, "/server", diags);
    if (!r.ok())
        return out;
    out.host = r.string_or("host", out.host);
    out.port = static_cast<std::uint16_t>(r.integer_or("port", out.port, 0, 65535));
    out.threads = static_cast<int>(r.integer_or("threads", out.threads, 1, 64));
    out.header_limit = static_cast<std::size_t>(r.integer_or(
        "header_limit_bytes", static_cast<std::int64_t>(out.header_limit), 1024, 1 << 20));
    out.body_limit = static_cast<std::size_t>(
        r.integer_or("max_body_bytes", static_cast<std::int64_t>(out.body_limit), 1024, 16 << 20));
    out.read_timeout = std::chrono::milliseconds(
        r.integer_or("read_timeout_ms", out.read_timeout.count(), 10, 3'600'000));
    out.write_timeout = std::chrono::milliseconds(
        r.integer_or("write_timeout_ms", out.write_timeout.count(), 10, 3'600'000));
    out.max_connections = static_cast<std::size_t>(r.integer_or(
        "max_connections", static_cast<std::int64_t>(out.max_connections), 1, 1'000'000));
    out.shutdown_grace = std::chrono::milliseconds(
        r.integer_or("shutdown_grace_ms", out.shutdown_grace.count(), 0, 600'000));
    out.per_source_per_minute =
        r.number_or("per_source_per_minute", out.per_source_per_minute, 0.0, 1'000'000.0);
    out.per_source_burst =
        static_cast<int>(r.integer_or("per_source_burst", out.per_source_burst, 1, 1'000'000));
    out.trust_forwarded_for = r.boolean_or("trust_forwarded_for", out.trust_forwarded_for);
    if (auto cert = r.string("tls_cert_file"); cert && !cert->empty())
        out.tls_cert_file = cfg.resolve(*cert);
    if (auto key = r.string("tls_key_file"); key && !key->empty())
        out.tls_key_file = cfg.resolve(*key);
    if (out.tls_cert_file.empty() != out.tls_key_file.empty())
        r.error(out.tls_cert_file.empty() ? "tls_cert_file" : "tls_key_file",
                "server.tls_incomplete",
                "TLS needs both tls_cert_file and tls_key_file (or neither)");
    r.finish();
    return out;
}

std::optional<std::pair<std::string, std::uint16_t>> parse_listen(const std::string& s) {
    std::string host;
    std::string_view port_part;
    if (!s.empty() && s.front() == '[') {
        auto close = s.find(']');
        if (close == std::string::npos || close + 1 >= s.size() || s[close + 1] != ':')
            return std::nullopt;
        host = s.substr(1, close - 1);
        port_part = std::string_view(s).substr(close + 2);
    } else {
        auto colon = s.rfind(':');
        if (colon == std::string::npos)
            return std::nullopt;
        host = s.substr(0, colon);
        port_part = std::string_view(s).substr(colon + 1);
    }
    if (host.empty())
        host = "0.0.0.0";
    unsigned value = 0;
    auto [p, ec] = std::from_chars(port_part.data(), port_part.data() + port_part.size(), value);
    if (port_part.empty() || ec != std::errc() || p != port_part.data() + port_part.size() ||
        value > 65535)
        return std::nullopt;
    return std::make_pair(host, static_cast<std::uint16_t>(value));
}

} // namespace tandem::adapters::http
