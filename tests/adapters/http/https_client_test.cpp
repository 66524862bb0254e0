// The outbound client against a local fake API: reuse, retries, 429 hints, timeouts.
#include "test_support.hpp"

#include <boost/asio/detached.hpp>

#include <catch2/catch.hpp>

using namespace tandem::test;

TEST_CASE("http_client: parse_url", "[http]") {
    auto u = http::parse_url("https://api.telegram.org/bot123:abc/sendMessage");
    REQUIRE(u);
    CHECK(u->tls);
    CHECK(u->host == "api.telegram.org");
    CHECK(u->port == "443");
    CHECK(u->target == "/bot123:abc/sendMessage");
    auto p = http::parse_url("http://127.0.0.1:8081");
    REQUIRE(p);
    CHECK(!p->tls);
    CHECK(p->port == "8081");
    CHECK(p->target == "/");
    CHECK(http::parse_url("http://[::1]:9/x")->host == "::1");
    CHECK(!http::parse_url("ftp://x/"));
    CHECK(!http::parse_url("http://user@host/"));
    CHECK(!http::parse_url("http://host:0/"));
    CHECK(!http::parse_url("http://:80/"));
}

TEST_CASE("http_client: 429 waits for the Retry-After hint, then succeeds", "[http]") {
    net::io_context ioc;
    fake_api api(ioc);
    api.push({429, R"({"ok":false})", 0ms, {{"Retry-After", "0.2"}}});
    run_test(ioc, [&]() -> awaitable<void> {
        http::http_client client(ioc.get_executor());
        auto r = co_await client.request_with_retry(post_json(api.base() + "/x", "{}"), {});
        CHECK(r.ok());
        CHECK(r.attempts == 2);
    });
    CHECK(api.count() == 2);
}

TEST_CASE("http_client: a 429 hint longer than max_wait is not waited for", "[http]") {
    net::io_context ioc;
    fake_api api(ioc);
    api.push({429, R"({"retry_after":3600})", 0ms, {}});
    run_test(ioc, [&]() -> awaitable<void> {
        http::http_client client(ioc.get_executor());
        http::retry_policy policy;
        policy.max_wait = 1s;
        policy.retry_after = [](const http::client_response&) {
            return std::optional<std::chrono::milliseconds>(3600s);
        };
        auto r = co_await client.request_with_retry(post_json(api.base() + "/x", "{}"), policy);
        CHECK(r.response.status == 429);
        CHECK(r.attempts == 1);
    });
}

TEST_CASE("http_client: 5xx is retried with backoff, 4xx is not", "[http]") {
    net::io_context ioc;
    fake_api api(ioc);
    api.push({502, "{}", 0ms, {}});
    api.push({503, "{}", 0ms, {}});
    run_test(ioc, [&]() -> awaitable<void> {
        http::http_client client(ioc.get_executor());
        http::retry_policy policy;
        policy.backoff = 10ms;
        auto r = co_await client.request_with_retry(post_json(api.base() + "/x", "{}"), policy);
        CHECK(r.ok());
        CHECK(r.attempts == 3);
        api.push({400, "{}", 0ms, {}});
        auto bad = co_await client.request_with_retry(post_json(api.base() + "/x", "{}"), policy);
        CHECK(bad.response.status == 400);
        CHECK(bad.attempts == 1);
    });
}

TEST_CASE("http_client: a stalled server times out and is not retried by default", "[http]") {
    net::io_context ioc;
    fake_api api(ioc);
    api.push({200, "{}", 3000ms, {}});
    run_test(ioc, [&]() -> awaitable<void> {
        http::http_client client(ioc.get_executor());
        auto req = post_json(api.base() + "/x", "{}");
        req.timeout = 200ms;
        auto r = co_await client.request_with_retry(req, {});
        CHECK(http::is_timeout(r.ec));
        CHECK(r.attempts == 1);
    });
    CHECK(api.count() == 1);
}

TEST_CASE("http_client: connection refused is an error value", "[http]") {
    net::io_context ioc;
    std::uint16_t dead_port = 0;
    {
        // Bind and release a port so nothing listens on it.
        net::ip::tcp::acceptor a(ioc, {net::ip::make_address("127.0.0.1"), 0});
        dead_port = a.local_endpoint().port();
    }
    run_test(ioc, [&]() -> awaitable<void> {
        http::http_client client(ioc.get_executor());
        auto r = co_await client.request(
            post_json("http://127.0.0.1:" + std::to_string(dead_port) + "/x", "{}"));
        CHECK(r.ec);
        CHECK(!r.ok());
    });
}

TEST_CASE("http_client: a pooled connection closed by the server is replaced", "[http]") {
    net::io_context ioc;
    auto routes = std::make_shared<http::router>();
    http::route r;
    r.path = "/x";
    r.handler = [](http::http_request) -> awaitable<http::http_response> {
        co_return http::json_response(200, "{}");
    };
    routes->add(r);
    http::server_config cfg;
    cfg.port = 0;
    cfg.read_timeout = 100ms; // closes idle keep-alive connections quickly
    http::http_server server(ioc.get_executor(), cfg, routes);
    auto port = server.start();
    run_test(ioc, [&]() -> awaitable<void> {
        http::http_client client(ioc.get_executor());
        auto url = "http://127.0.0.1:" + std::to_string(port) + "/x";
        auto first = co_await client.request(post_json(url, "{}"));
        CHECK(first.ok());
        bool ok1 = co_await eventually([&] { return server.connections() == 0; });
        CHECK(ok1);
        auto second = co_await client.request(post_json(url, "{}"));
        CHECK(second.ok());
        CHECK(client.test_connections_opened() == 2);
    });
}

namespace {

// A minimal HTTP/1.1 server on 127.0.0.1 port 0 that counts the connections it accepts and
// the requests it reads, and answers each request as `mode` says (by its index, 0 first,
// counted over all connections): keep the connection open, say "Connection: close", close
// right after answering without saying so (as a server closing idle connections does), or
// close after reading the request without answering at all.
class counting_server {
  public:
    enum class mode { keep, close_header, close_after, drop };

    counting_server(net::io_context& ioc, std::function<mode(int)> how)
        : acceptor_(ioc, {net::ip::make_address("127.0.0.1"), 0}), how_(std::move(how)) {
        net::co_spawn(ioc, accept_loop(), net::detached);
    }
    std::string url(const std::string& path = "/x") const {
        return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + path;
    }
    int accepted() const { return accepted_; }
    int requests() const { return requests_; }
    int closed() const { return closed_; }

  private:
    awaitable<void> accept_loop() {
        for (;;) {
            auto [ec, sock] = co_await acceptor_.async_accept(use_tuple);
            if (ec)
                co_return;
            ++accepted_;
            net::co_spawn(acceptor_.get_executor(), serve(std::move(sock)), net::detached);
        }
    }
    awaitable<void> serve(net::ip::tcp::socket sock) {
        std::string in;
        char buf[4096];
        for (;;) {
            std::size_t end;
            while ((end = in.find("\r\n\r\n")) == std::string::npos) {
                auto [ec, n] = co_await sock.async_read_some(net::buffer(buf), use_tuple);
                if (ec) {
                    ++closed_;
                    co_return;
                }
                in.append(buf, n);
            }
            std::size_t length = 0;
            auto cl = in.find("Content-Length: ");
            if (cl != std::string::npos && cl < end)
                length = std::stoul(in.substr(cl + 16));
            while (in.size() < end + 4 + length) {
                auto [ec, n] = co_await sock.async_read_some(net::buffer(buf), use_tuple);
                if (ec) {
                    ++closed_;
                    co_return;
                }
                in.append(buf, n);
            }
            in.erase(0, end + 4 + length);
            mode m = how_(requests_++);
            if (m == mode::drop)
                break;
            std::string res = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                              "Content-Length: 11\r\n";
            if (m == mode::close_header)
                res += "Connection: close\r\n";
            res += "\r\n{\"ok\":true}";
            auto [wec, wn] = co_await net::async_write(sock, net::buffer(res), use_tuple);
            if (wec || m != mode::keep)
                break;
        }
        boost::system::error_code ignored;
        sock.shutdown(net::ip::tcp::socket::shutdown_both, ignored);
        sock.close(ignored);
        ++closed_;
    }

    net::ip::tcp::acceptor acceptor_;
    std::function<mode(int)> how_;
    int accepted_ = 0, requests_ = 0, closed_ = 0;
};

http::client_request get(std::string url) {
    http::client_request r;
    r.method = "GET";
    r.url = std::move(url);
    r.timeout = 5s;
    return r;
}

} // namespace

TEST_CASE("http_client: sequential requests share one keep-alive connection", "[http]") {
    net::io_context ioc;
    counting_server server(ioc, [](int) { return counting_server::mode::keep; });
    run_test(ioc, [&]() -> awaitable<void> {
        http::http_client client(ioc.get_executor());
        for (int i = 0; i < 5; ++i) {
            auto r = co_await client.request(post_json(server.url(), "{}"));
            CHECK(r.ok());
        }
        CHECK(client.test_connections_opened() == 1);
    });
    CHECK(server.accepted() == 1);
    CHECK(server.requests() == 5);
}

TEST_CASE("http_client: a burst of concurrent requests keeps its connections for the next burst",
          "[http]") {
    net::io_context ioc;
    counting_server server(ioc, [](int) { return counting_server::mode::keep; });
    run_test(ioc, [&]() -> awaitable<void> {
        http::http_client client(ioc.get_executor());
        constexpr int burst = 16; // more than the old pool's 8 idle connections per host
        for (int round = 0; round < 3; ++round) {
            int done = 0, ok = 0;
            for (int i = 0; i < burst; ++i)
                net::co_spawn(
                    ioc,
                    [&]() -> awaitable<void> {
                        auto r = co_await client.request(post_json(server.url(), "{}"));
                        ok += r.ok() ? 1 : 0;
                        ++done;
                    },
                    net::detached);
            bool all = co_await eventually([&] { return done == burst; });
            CHECK(all);
            CHECK(ok == burst);
        }
    });
    CHECK(server.requests() == 48);
    CHECK(server.accepted() == 16);
}

TEST_CASE("http_client: a response with Connection: close is not reused", "[http]") {
    net::io_context ioc;
    counting_server server(ioc, [](int) { return counting_server::mode::close_header; });
    run_test(ioc, [&]() -> awaitable<void> {
        http::http_client client(ioc.get_executor());
        for (int i = 0; i < 3; ++i) {
            auto r = co_await client.request(post_json(server.url(), "{}"));
            CHECK(r.ok());
        }
        CHECK(client.test_connections_opened() == 3);
    });
    CHECK(server.accepted() == 3);
    CHECK(server.requests() == 3);
}

TEST_CASE("http_client: a connection the server closed while idle is replaced before sending",
          "[http]") {
    net::io_context ioc;
    counting_server server(ioc, [](int) { return counting_server::mode::close_after; });
    run_test(ioc, [&]() -> awaitable<void> {
        http::http_client client(ioc.get_executor());
        for (int i = 0; i < 3; ++i) {
            auto r = co_await client.request(post_json(server.url(), "{}"));
            CHECK(r.ok());
            CHECK(r.attempts == 1);
            bool closed = co_await eventually([&] { return server.closed() == i + 1; });
            CHECK(closed);
            co_await sleep_for(20ms); // the FIN reaches the client's socket
        }
        CHECK(client.test_connections_opened() == 3);
    });
    // Every POST was read once: none was sent on a dead connection and then again.
    CHECK(server.requests() == 3);
    CHECK(server.accepted() == 3);
}

TEST_CASE("http_client: a stale reused connection is retried only for idempotent requests",
          "[http]") {
    // Request 0 is answered and kept alive; request 1 reuses that connection, and the server
    // reads it and closes without answering (the race a liveness check cannot see). Then
    // every request is answered.
    auto how = [](int i) {
        return i == 1 ? counting_server::mode::drop : counting_server::mode::keep;
    };
    SECTION("a POST is not sent twice: the error goes to the caller") {
        net::io_context ioc;
        counting_server server(ioc, how);
        run_test(ioc, [&]() -> awaitable<void> {
            http::http_client client(ioc.get_executor());
            auto first = co_await client.request(post_json(server.url(), "{}"));
            CHECK(first.ok());
            auto second = co_await client.request(post_json(server.url(), "{}"));
            CHECK(second.ec);
            CHECK(!second.ok());
        });
        CHECK(server.requests() == 2);
        CHECK(server.accepted() == 1);
    }
    SECTION("a GET is sent once more on a new connection") {
        net::io_context ioc;
        counting_server server(ioc, how);
        run_test(ioc, [&]() -> awaitable<void> {
            http::http_client client(ioc.get_executor());
            auto first = co_await client.request(get(server.url()));
            CHECK(first.ok());
            auto second = co_await client.request(get(server.url()));
            CHECK(second.ok());
            CHECK(client.test_connections_opened() == 2);
        });
        CHECK(server.requests() == 3);
        CHECK(server.accepted() == 2);
    }
}
