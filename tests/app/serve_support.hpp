// Helpers for tests that run `tandem serve` as a process and talk to it over loopback: a
// project folder with a config, the listening port from the log, signed Discord requests,
// Telegram updates, and a minimal WebSocket client (RFC 6455, text frames only) for the
// widget's socket. Everything binds 127.0.0.1; nothing leaves this machine.
#pragma once

#include "tests/adapters/discord/signing.hpp"
#include "tests/adapters/test_support.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/process.hpp"

#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>

#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>

namespace tandem::test::serve {

namespace fs = std::filesystem;
using nlohmann::json;

inline const std::vector<std::string> platform_vars = {
    "TELEGRAM_BOT_TOKEN",     "TELEGRAM_WEBHOOK_SECRET", "TELEGRAM_API_BASE", "DISCORD_PUBLIC_KEY",
    "DISCORD_APPLICATION_ID", "DISCORD_BOT_TOKEN",       "DISCORD_API_BASE"};

// A project folder: config/tandem.json (the fixture content in place, `extra` merged in at
// the top level) and a data folder of its own.
struct folder {
    temp_dir tmp;
    std::string config;

    explicit folder(const json& extra = json::object()) {
        auto root = fixture_content();
        json cfg = {{"schema_version", 1},
                    {"data_dir", (tmp.path() / "data").string()},
                    {"content",
                     {{"intents_dir", (root / "intents").string()},
                      {"dialogs_dir", (root / "dialogs").string()},
                      {"resources_file", (root / "resources.json").string()},
                      {"locales_file", (root / "locales.json").string()}}},
                    {"store", {{"kind", "memory"}}},
                    {"core", {{"threads", 1}}},
                    {"server", {{"shutdown_grace_ms", 3000}}},
                    {"telegram", {{"per_chat_interval_ms", 0}}}};
        cfg.merge_patch(extra);
        fs::create_directories(tmp.path() / "config");
        config = (tmp.path() / "config" / "tandem.json").string();
        std::ofstream(config) << cfg.dump(2);
    }
    fs::path path(const std::string& rel) const { return tmp.path() / rel; }
};

inline std::vector<json> log_lines(const std::string& log) {
    std::vector<json> out;
    std::istringstream in(log);
    std::string line;
    while (std::getline(in, line)) {
        auto j = json::parse(line, nullptr, false);
        if (j.is_object())
            out.push_back(std::move(j));
    }
    return out;
}

inline std::size_t count_events(const child_process& p, const std::string& event) {
    std::size_t n = 0;
    for (const auto& l : log_lines(p.log()))
        n += l.value("event", "") == event;
    return n;
}

inline std::uint16_t listening_port(const child_process& p) {
    for (const auto& l : log_lines(p.log()))
        if (l.value("event", "") == "http.listening")
            return l.value("port", std::uint16_t{0});
    return 0;
}

inline awaitable<std::uint16_t> wait_listening(const child_process& p) {
    bool up = co_await eventually([&p] { return listening_port(p) != 0; }, 60s);
    if (!up)
        throw std::runtime_error("tandem serve did not start:\n" + p.log());
    co_return listening_port(p);
}

inline awaitable<std::optional<int>> wait_exit(child_process& p, std::chrono::milliseconds limit) {
    std::optional<int> code;
    co_await eventually(
        [&] {
            code = p.wait_exit(0ms);
            return code.has_value();
        },
        limit);
    co_return code;
}

inline std::unique_ptr<child_process> start(const folder& f, std::vector<std::string> env,
                                            const std::string& log_name = "serve.log") {
    std::vector<std::string> argv{tandem_bin(), "serve",    "--config",
                                  f.config,     "--listen", "127.0.0.1:0"};
    return std::make_unique<child_process>(argv, env, platform_vars, f.path(log_name).string());
}

inline std::string url(std::uint16_t port, const std::string& path) {
    return "http://127.0.0.1:" + std::to_string(port) + path;
}

inline std::string telegram_update(std::int64_t id, std::int64_t chat, const std::string& text) {
    json from = {{"id", chat}, {"is_bot", false}, {"first_name", "Sam"}};
    json c = {{"id", chat}, {"type", "private"}};
    json m = {
        {"message_id", id}, {"from", from}, {"chat", c}, {"date", unix_now()}, {"text", text}};
    return json{{"update_id", id}, {"message", m}}.dump();
}

inline http::header_list telegram_headers(const std::string& secret) {
    http::header_list h;
    h.emplace_back("X-Telegram-Bot-Api-Secret-Token", secret);
    return h;
}

// A Discord slash command carrying text, as Discord sends it.
inline std::string discord_command(const std::string& id, const std::string& user,
                                   const std::string& text) {
    json j = {
        {"type", 2},
        {"id", id},
        {"application_id", "4242"},
        {"token", "tok-" + id},
        {"channel_id", "77"},
        {"user", {{"id", user}, {"username", "sam"}}},
        {"data",
         {{"name", "reflect"}, {"options", json::array({{{"name", "text"}, {"value", text}}})}}}};
    return j.dump();
}

using tandem::test::discord_headers; // tests/adapters/discord/signing.hpp

inline http::client_request get(const std::string& u) {
    http::client_request r;
    r.method = "GET";
    r.url = u;
    return r;
}

// A WebSocket client over a plain socket, enough for the widget's text frames.
class ws_client {
  public:
    struct frame {
        int opcode = 0; // 1 text, 8 close; 0 = nothing (timeout or connection gone)
        std::string payload;
        int close_code() const {
            return opcode == 8 && payload.size() >= 2
                       ? (static_cast<unsigned char>(payload[0]) << 8) |
                             static_cast<unsigned char>(payload[1])
                       : 0;
        }
    };

    explicit ws_client(net::any_io_executor ex) : sock_(ex) {}

    // The handshake; returns the HTTP status of the answer (101 when upgraded).
    awaitable<int> connect(std::uint16_t port, std::string path = "/widget/socket",
                           std::string origin = "") {
        net::ip::tcp::endpoint ep(net::ip::make_address("127.0.0.1"), port);
        auto [cec] = co_await sock_.async_connect(ep, use_tuple);
        if (cec)
            co_return 0;
        std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                          "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                          "Sec-WebSocket-Version: 13\r\n";
        if (!origin.empty())
            req += "Origin: " + origin + "\r\n";
        req += "\r\n";
        auto [wec, wn] = co_await net::async_write(sock_, net::buffer(req), use_tuple);
        if (wec)
            co_return 0;
        auto [ec, n] = co_await net::async_read_until(sock_, buf_, "\r\n\r\n", use_tuple);
        if (ec)
            co_return 0;
        std::string head(static_cast<const char*>(buf_.data().data()), n);
        buf_.consume(n);
        co_return head.rfind("HTTP/1.1 ", 0) == 0 ? std::stoi(head.substr(9, 3)) : 0;
    }

    // Sends one frame (masked, as a client must). opcode 1 = text, 2 = binary.
    awaitable<bool> send(std::string payload, int opcode = 1) {
        std::string f;
        f += static_cast<char>(0x80 | opcode);
        std::size_t n = payload.size();
        if (n < 126) {
            f += static_cast<char>(0x80 | n);
        } else if (n < 65536) {
            f += static_cast<char>(0x80 | 126);
            f += static_cast<char>(n >> 8);
            f += static_cast<char>(n & 0xFF);
        } else {
            f += static_cast<char>(0x80 | 127);
            for (int i = 7; i >= 0; --i)
                f += static_cast<char>((n >> (8 * i)) & 0xFF);
        }
        const char mask[4] = {0x12, 0x34, 0x56, 0x78};
        f.append(mask, 4);
        for (std::size_t i = 0; i < n; ++i)
            f += static_cast<char>(payload[i] ^ mask[i % 4]);
        auto [ec, w] = co_await net::async_write(sock_, net::buffer(f), use_tuple);
        co_return !ec;
    }

    // The next text or close frame (pings are skipped), or opcode 0 after limit.
    awaitable<frame> next(std::chrono::milliseconds limit = 10s) {
        net::steady_timer guard(sock_.get_executor(), limit);
        bool fired = false;
        guard.async_wait([this, &fired](boost::system::error_code ec) {
            if (!ec) {
                fired = true;
                boost::system::error_code ignore;
                sock_.cancel(ignore);
            }
        });
        frame out;
        for (;;) {
            auto head = co_await read_exact(2);
            if (!head)
                break;
            int opcode = (*head)[0] & 0x0F;
            std::uint64_t len = static_cast<unsigned char>((*head)[1]) & 0x7F;
            if (len >= 126) {
                auto ext = co_await read_exact(len == 126 ? 2 : 8);
                if (!ext)
                    break;
                len = 0;
                for (char c : *ext)
                    len = (len << 8) | static_cast<unsigned char>(c);
            }
            auto body = co_await read_exact(static_cast<std::size_t>(len));
            if (!body)
                break;
            if (opcode == 9 || opcode == 10)
                continue;
            out.opcode = opcode;
            out.payload = std::move(*body);
            break;
        }
        guard.cancel();
        (void)fired;
        co_return out;
    }

    // The next text frame parsed as JSON (null when none came).
    awaitable<json> next_json(std::chrono::milliseconds limit = 10s) {
        auto f = co_await next(limit);
        if (f.opcode != 1)
            co_return json();
        co_return json::parse(f.payload, nullptr, false);
    }

    // Reads frames until one of the given type arrives (null when none does).
    awaitable<json> until_type(std::string type, std::chrono::milliseconds limit = 20s) {
        auto end = std::chrono::steady_clock::now() + limit;
        while (std::chrono::steady_clock::now() < end) {
            auto j = co_await next_json(std::chrono::duration_cast<std::chrono::milliseconds>(
                end - std::chrono::steady_clock::now()));
            if (j.is_null())
                co_return json();
            if (j.value("type", "") == type)
                co_return j;
        }
        co_return json();
    }

    void close() {
        boost::system::error_code ec;
        sock_.close(ec);
    }

  private:
    awaitable<std::optional<std::string>> read_exact(std::size_t n) {
        if (buf_.size() < n) {
            // Errors show as a short buffer below.
            co_await net::async_read(sock_, buf_, net::transfer_at_least(n - buf_.size()),
                                     use_tuple);
            if (buf_.size() < n)
                co_return std::nullopt;
        }
        std::string s(static_cast<const char*>(buf_.data().data()), n);
        buf_.consume(n);
        co_return s;
    }

    net::ip::tcp::socket sock_;
    net::streambuf buf_;
};

// Every byte of the files under dir (recursively), for "is this text anywhere on disk".
inline std::string all_bytes_under(const fs::path& dir) {
    std::string out;
    std::error_code ec;
    for (const auto& e : fs::recursive_directory_iterator(dir, ec)) {
        if (!e.is_regular_file())
            continue;
        std::ifstream in(e.path(), std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        out += ss.str();
    }
    return out;
}

// A distinctive word that appears nowhere else (letters only, so no normaliser changes it
// beyond case: keep it lower-case).
inline std::string marker(const std::string& prefix) {
    std::random_device rd;
    std::string s = prefix;
    for (int i = 0; i < 10; ++i)
        s += static_cast<char>('a' + rd() % 26);
    return s;
}

} // namespace tandem::test::serve
