#include "adapters/widget/widget_config.hpp"

#include "bot/json_reader.hpp"

#include <cctype>
#include <filesystem>

namespace tandem::adapters::widget {

std::string normalize_origin(std::string_view s) {
    std::string o;
    for (char c : s)
        o += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!o.empty() && o.back() == '/')
        o.pop_back();
    std::string scheme;
    if (o.rfind("http://", 0) == 0)
        scheme = "http";
    else if (o.rfind("https://", 0) == 0)
        scheme = "https";
    else
        return {};
    std::string authority = o.substr(scheme.size() + 3);
    if (authority.empty())
        return {};
    std::string host = authority;
    std::string port;
    if (authority.front() == '[') { // [v6]:port
        auto close = authority.find(']');
        if (close == std::string::npos)
            return {};
        host = authority.substr(0, close + 1);
        auto rest = authority.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':')
                return {};
            port = rest.substr(1);
        }
        for (char c : host.substr(1, host.size() - 2))
            if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.')
                return {};
    } else {
        if (auto colon = authority.rfind(':'); colon != std::string::npos) {
            host = authority.substr(0, colon);
            port = authority.substr(colon + 1);
        }
        if (host.empty())
            return {};
        for (char c : host)
            if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.')
                return {};
    }
    if (!port.empty()) {
        if (port.size() > 5)
            return {};
        for (char c : port)
            if (!std::isdigit(static_cast<unsigned char>(c)))
                return {};
        long n = std::stol(port);
        if (n < 1 || n > 65535)
            return {};
        if ((scheme == "http" && n == 80) || (scheme == "https" && n == 443))
            port.clear();
    }
    return scheme + "://" + host + (port.empty() ? "" : ":" + port);
}

widget_config parse_widget_config(const bot::config& cfg, const std::string& file,
                                  bot::diagnostics& diags) {
    widget_config out;
    auto it = cfg.sections.find("widget");
    if (it == cfg.sections.end())
        return out;
    bot::json_reader r(it->second, file, "/widget", diags);
    if (!r.ok())
        return out;
    out.enabled = r.boolean_or("enabled", out.enabled);
    out.demo_page = r.boolean_or("demo_page", out.demo_page);
    if (r.has("allowed_origins")) {
        auto list = r.string_list("allowed_origins");
        for (std::size_t i = 0; i < list.size(); ++i) {
            if (list[i] == "*") {
                out.allowed_origins.push_back("*");
                continue;
            }
            auto o = normalize_origin(list[i]);
            if (o.empty())
                diags.add(file, r.path("allowed_origins") + "/" + std::to_string(i),
                          "widget.origin",
                          "\"" + list[i] +
                              "\" is not an origin; write scheme://host[:port], e.g. "
                              "\"https://blog.example.org\" (no path), or \"*\" for any page");
            else
                out.allowed_origins.push_back(o);
        }
    }
    auto size = [&](const char* key, std::size_t fallback, std::int64_t min, std::int64_t max) {
        return static_cast<std::size_t>(
            r.integer_or(key, static_cast<std::int64_t>(fallback), min, max));
    };
    out.session_idle_seconds =
        r.integer_or("session_idle_seconds", out.session_idle_seconds, 60, 30LL * 86400);
    out.history_limit = size("history_limit", out.history_limit, 10, 10000);
    out.max_sessions = size("max_sessions", out.max_sessions, 1, 10'000'000);
    out.max_text_chars = size("max_text_chars", out.max_text_chars, 1, 100'000);
    out.max_frame_bytes = size("max_frame_bytes", out.max_frame_bytes, 1024, 1 << 20);
    out.messages_per_minute =
        static_cast<int>(r.integer_or("messages_per_minute", out.messages_per_minute, 1, 6000));
    out.socket_idle_timeout = std::chrono::seconds(
        r.integer_or("socket_idle_timeout_seconds", out.socket_idle_timeout.count(), 2, 3600));
    out.poll_timeout = std::chrono::seconds(
        r.integer_or("poll_timeout_seconds", out.poll_timeout.count(), 1, 300));
    out.assets_dir = r.string_or("assets_dir", out.assets_dir);
    if (!out.assets_dir.empty()) {
        out.assets_dir = cfg.resolve(out.assets_dir);
        std::error_code ec;
        if (!std::filesystem::exists(std::filesystem::path(out.assets_dir) / "widget.js", ec))
            r.error("assets_dir", "widget.assets_dir",
                    "\"" + out.assets_dir +
                        "\" has no widget.js; point it at a copy of adapters/widget/web or "
                        "remove it to serve the built-in files");
    }
    if (out.max_text_chars * 4 + 512 > out.max_frame_bytes)
        r.error("max_text_chars", "widget.limits",
                "max_text_chars (" + std::to_string(out.max_text_chars) +
                    ") does not fit in max_frame_bytes (" + std::to_string(out.max_frame_bytes) +
                    "); allow at least 4 bytes per character plus 512");
    r.finish();
    return out;
}

} // namespace tandem::adapters::widget
