// Shared helpers for the adapter tests: running a coroutine test body, a scripted fake
// turn_service, a fake platform API server that records calls, and raw socket exchanges.
// Everything binds 127.0.0.1 port 0 and reports the port; nothing leaves this machine.
#pragma once

#include "adapters/http/http_server.hpp"
#include "adapters/http/https_client.hpp"
#include "bot/bot_service.hpp"
#include "bot/checkins.hpp"
#include "bot/conversation_store.hpp"
#include "bot/turn_service.hpp"
#include "tests/support/test_support.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <deque>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace tandem::test {

namespace net = boost::asio;
namespace http = tandem::adapters::http;
using adapters::awaitable;
using namespace std::chrono_literals;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

// Runs body on ioc until it finishes; rethrows its exception. The limit only stops a hung
// test; no test asserts on wall-clock speed.
inline void run_test(net::io_context& ioc, std::function<awaitable<void>()> body,
                     std::chrono::seconds limit = 60s) {
    std::exception_ptr error;
    bool done = false;
    net::co_spawn(ioc, std::move(body), [&](std::exception_ptr e) {
        error = e;
        done = true;
        ioc.stop();
    });
    ioc.run_for(limit);
    if (!done)
        throw std::runtime_error("test body did not finish");
    if (error)
        std::rethrow_exception(error);
}

inline awaitable<void> sleep_for(std::chrono::milliseconds d) {
    net::steady_timer t(co_await net::this_coro::executor, d);
    co_await t.async_wait(use_tuple);
}

// Polls cond every 10 ms for up to limit; returns its last value.
inline awaitable<bool> eventually(std::function<bool()> cond,
                                  std::chrono::milliseconds limit = 10s) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (!cond()) {
        if (std::chrono::steady_clock::now() > end)
            co_return false;
        co_await sleep_for(10ms);
    }
    co_return true;
}

inline std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw std::runtime_error("cannot read fixture " + path);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string s = ss.str();
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r'))
        s.pop_back();
    return s;
}

// A turn_service that records what it was given and answers with reply_for(msg).
class fake_turn_service : public bot::turn_service {
  public:
    std::function<bot::outbound_message(const bot::inbound_message&)> reply_for =
        [](const bot::inbound_message&) {
            bot::outbound_message m;
            m.texts = {"hello from the core"};
            return m;
        };
    std::chrono::milliseconds delay{0};
    std::atomic<bool> hold{false}; // while true, turns wait (a core that is busy)
    std::string topic = "test_topic";
    bool slash_forget_forgets = false; // "/forget" reports the conversation forgotten

    awaitable<bot::turn_result> handle(bot::inbound_message msg) override {
        {
            std::lock_guard lock(mu_);
            seen_.push_back(msg);
        }
        if (delay.count() > 0)
            co_await sleep_for(delay);
        while (hold)
            co_await sleep_for(5ms);
        bot::turn_result r;
        r.reply = reply_for(msg);
        r.intent = "test_intent";
        r.topic = topic;
        r.forgotten = slash_forget_forgets && msg.text == "/forget";
        co_return r;
    }
    awaitable<bool> forget(bot::conversation_ref ref) override {
        std::lock_guard lock(mu_);
        forgotten_.push_back(ref);
        co_return true;
    }
    std::vector<bot::inbound_message> seen() const {
        std::lock_guard lock(mu_);
        return seen_;
    }
    std::size_t turns() const {
        std::lock_guard lock(mu_);
        return seen_.size();
    }
    std::vector<bot::conversation_ref> forgotten() const {
        std::lock_guard lock(mu_);
        return forgotten_;
    }

  private:
    mutable std::mutex mu_;
    std::vector<bot::inbound_message> seen_;
    std::vector<bot::conversation_ref> forgotten_;
};

// The real core on the test fixture content (tests/data/content), with in-memory state and
// check-ins, for end-to-end conversations through an adapter.
struct real_core {
    std::shared_ptr<bot::conversation_store> store = bot::make_memory_store();
    std::shared_ptr<bot::checkin_store> checkins = bot::make_memory_checkin_store();
    std::unique_ptr<bot::bot_service> service;

    real_core() {
        bot::config cfg;
        cfg.core.threads = 1;
        service =
            std::make_unique<bot::bot_service>(load_ok(fixture_paths()), store, cfg, checkins);
    }
    ~real_core() { service->stop(); }
};

inline std::int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// A local stand-in for api.telegram.org / discord.com: records every call and answers from
// a script (status, body, delay), falling back to default_body with 200.
class fake_api {
  public:
    struct call {
        std::string method;
        std::string path;
        std::string body;
        http::header_list headers;
        std::string header(std::string_view name) const {
            return std::string(http::find_header(headers, name));
        }
        nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
        // Last path segment ("sendMessage" for /bot<token>/sendMessage).
        std::string name() const { return path.substr(path.rfind('/') + 1); }
    };
    struct scripted {
        int status = 200;
        std::string body;
        std::chrono::milliseconds delay{0};
        http::header_list headers;
    };

    // record = false keeps only a count (for long load tests).
    explicit fake_api(net::io_context& ioc, std::string default_body = R"({"ok":true,"result":{}})",
                      std::uint16_t port = 0, bool record = true)
        : default_body_(std::move(default_body)), record_(record) {
        auto routes = std::make_shared<http::router>();
        http::route all;
        all.path = "/";
        all.prefix = true;
        all.methods = {"GET", "POST", "PUT", "PATCH", "DELETE"};
        all.media_types = {};
        all.handler = [this](http::http_request req) -> awaitable<http::http_response> {
            scripted s;
            {
                std::lock_guard lock(mu_);
                ++count_;
                if (record_)
                    calls_.push_back({req.method, req.path, req.body, req.headers});
                if (!script_.empty()) {
                    s = script_.front();
                    script_.pop_front();
                } else {
                    s.body = default_body_;
                }
            }
            if (s.delay.count() > 0)
                co_await sleep_for(s.delay);
            http::http_response res = http::json_response(s.status, s.body);
            res.headers = s.headers;
            co_return res;
        };
        routes->add(std::move(all));
        http::server_config cfg;
        cfg.port = port;
        server_ = std::make_unique<http::http_server>(ioc.get_executor(), cfg, routes);
        routes_ = routes;
        port_ = server_->start();
    }

    std::string base() const { return "http://127.0.0.1:" + std::to_string(port_); }
    void push(scripted s) {
        std::lock_guard lock(mu_);
        script_.push_back(std::move(s));
    }
    // Drops the scripted answers not yet used (the API "recovers").
    void clear_script() {
        std::lock_guard lock(mu_);
        script_.clear();
    }
    std::vector<call> calls() const {
        std::lock_guard lock(mu_);
        return calls_;
    }
    std::vector<call> calls_named(const std::string& name) const {
        std::vector<call> out;
        for (auto& c : calls())
            if (c.name() == name)
                out.push_back(c);
        return out;
    }
    std::size_t count() const {
        std::lock_guard lock(mu_);
        return count_;
    }

  private:
    std::string default_body_;
    mutable std::mutex mu_;
    bool record_ = true;
    std::size_t count_ = 0;
    std::vector<call> calls_;
    std::deque<scripted> script_;
    std::shared_ptr<http::router> routes_;
    std::unique_ptr<http::http_server> server_;
    std::uint16_t port_ = 0;
};

// Sends raw bytes to 127.0.0.1:port and reads until the server closes the connection or
// limit passes. Returns everything received.
inline awaitable<std::string> raw_exchange(std::uint16_t port, std::string bytes,
                                           std::chrono::milliseconds limit = 10s,
                                           std::shared_ptr<bool> guard_fired = nullptr) {
    auto ex = co_await net::this_coro::executor;
    net::ip::tcp::socket sock(ex);
    co_await sock.async_connect({net::ip::make_address("127.0.0.1"), port}, net::use_awaitable);
    co_await net::async_write(sock, net::buffer(bytes), net::use_awaitable);
    std::string out;
    char buf[4096];
    net::steady_timer guard(ex, limit);
    guard.async_wait([&sock, guard_fired](boost::system::error_code ec) {
        if (!ec) {
            if (guard_fired)
                *guard_fired = true;
            sock.close();
        }
    });
    for (;;) {
        auto [ec, n] = co_await sock.async_read_some(net::buffer(buf), use_tuple);
        out.append(buf, n);
        if (ec)
            break;
    }
    guard.cancel();
    co_return out;
}

// Status code of the first response in raw HTTP bytes (0 when none).
inline int status_of(const std::string& raw) {
    if (raw.rfind("HTTP/1.1 ", 0) != 0 || raw.size() < 12)
        return 0;
    return std::stoi(raw.substr(9, 3));
}

inline http::client_request post_json(std::string url, std::string body,
                                      http::header_list headers = {}) {
    http::client_request r;
    r.method = "POST";
    r.url = std::move(url);
    r.body = std::move(body);
    r.headers = std::move(headers);
    return r;
}

} // namespace tandem::test
