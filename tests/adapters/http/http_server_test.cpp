// The Beast server over real loopback sockets: routing, status codes, limits, deadlines.
#include "test_support.hpp"

#include <catch2/catch.hpp>

using namespace tandem::test;

namespace {

// A server with one JSON POST route (/echo, body limit 1 KiB) that echoes the body, and
// a slow route that sleeps before answering.
struct echo_server {
    net::io_context ioc;
    std::shared_ptr<http::router> routes = std::make_shared<http::router>();
    std::shared_ptr<http::metrics> stats = std::make_shared<http::metrics>();
    std::unique_ptr<http::http_server> server;
    std::uint16_t port = 0;
    int handled = 0;

    explicit echo_server(std::chrono::milliseconds read_timeout = 10s) {
        http::route echo;
        echo.path = "/echo";
        echo.max_body = 1024;
        echo.handler = [this](http::http_request req) -> awaitable<http::http_response> {
            ++handled;
            co_return http::json_response(200, req.body);
        };
        routes->add(std::move(echo));
        http::route boom;
        boom.path = "/boom";
        boom.methods = {"GET"};
        boom.handler = [](http::http_request) -> awaitable<http::http_response> {
            throw std::runtime_error("handler bug");
            co_return http::http_response{};
        };
        routes->add(std::move(boom));
        http::server_config cfg;
        cfg.port = 0;
        cfg.read_timeout = read_timeout;
        cfg.body_limit = 4096;
        server = std::make_unique<http::http_server>(ioc.get_executor(), cfg, routes, stats);
        port = server->start();
    }

    std::string url(const std::string& path) const {
        return "http://127.0.0.1:" + std::to_string(port) + path;
    }
};

} // namespace

TEST_CASE("http_server: reports the bound port when asked for port 0", "[http]") {
    echo_server s;
    CHECK(s.port != 0);
}

TEST_CASE("http_server: a valid JSON POST reaches the handler once and keeps the connection",
          "[http]") {
    echo_server s;
    run_test(s.ioc, [&]() -> awaitable<void> {
        http::http_client client(s.ioc.get_executor());
        for (int i = 0; i < 3; ++i) {
            auto r = co_await client.request(post_json(s.url("/echo"), R"({"n":1})"));
            REQUIRE(!r.ec);
            CHECK(r.response.status == 200);
            CHECK(r.response.body == R"({"n":1})");
        }
        CHECK(client.test_connections_opened() == 1); // keep-alive reused one connection
    });
    CHECK(s.handled == 3);
}

TEST_CASE("http_server: status codes for bad requests", "[http]") {
    echo_server s;
    run_test(s.ioc, [&]() -> awaitable<void> {
        http::http_client client(s.ioc.get_executor());
        SECTION("unknown path is 404") {
            auto r = co_await client.request(post_json(s.url("/nope"), "{}"));
            CHECK(r.response.status == 404);
        }
        SECTION("wrong method is 405 with Allow") {
            http::client_request req;
            req.method = "GET";
            req.url = s.url("/echo");
            auto r = co_await client.request(req);
            CHECK(r.response.status == 405);
            CHECK(r.response.header("Allow") == "POST");
        }
        SECTION("wrong content type is 415") {
            auto req = post_json(s.url("/echo"), "a=b");
            req.content_type = "application/x-www-form-urlencoded";
            auto r = co_await client.request(req);
            CHECK(r.response.status == 415);
        }
        SECTION("content type parameters and case are accepted") {
            auto req = post_json(s.url("/echo"), "{}");
            req.content_type = "Application/JSON; charset=utf-8";
            auto r = co_await client.request(req);
            CHECK(r.response.status == 200);
        }
        SECTION("body over the route limit is 413") {
            auto r = co_await client.request(post_json(s.url("/echo"), std::string(2000, 'x')));
            CHECK(r.response.status == 413);
        }
        SECTION("body over the server limit is 413") {
            auto r = co_await client.request(post_json(s.url("/echo"), std::string(9000, 'x')));
            CHECK(r.response.status == 413);
        }
        SECTION("a handler exception is a logged 500, and the server lives on") {
            http::client_request req;
            req.method = "GET";
            req.url = s.url("/boom");
            auto r = co_await client.request(req);
            CHECK(r.response.status == 500);
            auto again = co_await client.request(post_json(s.url("/echo"), "{}"));
            CHECK(again.response.status == 200);
        }
    });
    CHECK(s.handled <= 2);
}

TEST_CASE("http_server: malformed HTTP is 400 and closes", "[http]") {
    echo_server s;
    run_test(s.ioc, [&]() -> awaitable<void> {
        auto raw = co_await raw_exchange(s.port, "NOT HTTP AT ALL\r\n\r\n");
        CHECK(status_of(raw) == 400);
    });
}

TEST_CASE("http_server: oversized headers are 431", "[http]") {
    echo_server s;
    run_test(s.ioc, [&]() -> awaitable<void> {
        std::string req = "POST /echo HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(10000, 'a') +
                          "\r\nContent-Length: 0\r\n\r\n";
        auto raw = co_await raw_exchange(s.port, req);
        CHECK(status_of(raw) == 431);
    });
}

TEST_CASE("http_server: Expect 100-continue gets 100 then the answer", "[http]") {
    echo_server s;
    run_test(s.ioc, [&]() -> awaitable<void> {
        auto ex = co_await net::this_coro::executor;
        net::ip::tcp::socket sock(ex);
        co_await sock.async_connect({net::ip::make_address("127.0.0.1"), s.port},
                                    net::use_awaitable);
        std::string head = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           "Content-Length: 2\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n";
        co_await net::async_write(sock, net::buffer(head), net::use_awaitable);
        char buf[256];
        auto n = co_await sock.async_read_some(net::buffer(buf), net::use_awaitable);
        CHECK(std::string(buf, n).rfind("HTTP/1.1 100", 0) == 0);
        co_await net::async_write(sock, net::buffer(std::string("{}")), net::use_awaitable);
        std::string rest;
        for (;;) {
            auto [ec, m] = co_await sock.async_read_some(net::buffer(buf), use_tuple);
            rest.append(buf, m);
            if (ec)
                break;
        }
        CHECK(status_of(rest) == 200);
    });
}

TEST_CASE("http_server: a slow client is cut off by the read deadline", "[http]") {
    echo_server s(300ms);
    run_test(s.ioc, [&]() -> awaitable<void> {
        // Half a request line, then silence: the server must close the connection itself.
        auto guard_fired = std::make_shared<bool>(false);
        auto raw =
            co_await raw_exchange(s.port, "POST /echo HTTP/1.1\r\nHost: x\r\n", 30s, guard_fired);
        CHECK(raw.empty());   // closed without an answer...
        CHECK(!*guard_fired); // ...by the server, not by the test's own guard
        bool ok1 = co_await eventually([&] { return s.server->connections() == 0; });
        CHECK(ok1);
    });
    CHECK(s.handled == 0);
}

TEST_CASE("http_server: an idle keep-alive connection is closed after the deadline", "[http]") {
    echo_server s(300ms);
    run_test(s.ioc, [&]() -> awaitable<void> {
        http::http_client client(s.ioc.get_executor());
        auto r = co_await client.request(post_json(s.url("/echo"), "{}"));
        CHECK(r.response.status == 200);
        bool ok1 = co_await eventually([&] { return s.server->connections() == 0; });
        CHECK(ok1);
    });
}

TEST_CASE("http_server: stop() closes idle connections and refuses new ones", "[http]") {
    echo_server s;
    run_test(s.ioc, [&]() -> awaitable<void> {
        http::http_client client(s.ioc.get_executor());
        auto r = co_await client.request(post_json(s.url("/echo"), "{}"));
        CHECK(r.response.status == 200);
        CHECK(s.server->connections() == 1);
        s.server->stop();
        bool ok1 = co_await eventually([&] { return s.server->connections() == 0; });
        CHECK(ok1);
        http::http_client fresh(s.ioc.get_executor());
        auto after = co_await fresh.request(post_json(s.url("/echo"), "{}"));
        CHECK(after.ec); // refused: nobody listens any more
    });
}

TEST_CASE("http_server: requests are counted in the metrics by route label", "[http]") {
    echo_server s;
    run_test(s.ioc, [&]() -> awaitable<void> {
        http::http_client client(s.ioc.get_executor());
        co_await client.request(post_json(s.url("/echo"), "{}"));
        co_await client.request(post_json(s.url("/secret-path-123"), "{}"));
    });
    auto text = s.stats->render();
    CHECK(text.find(R"(tandem_http_requests_total{route="/echo",status="200"} 1)") !=
          std::string::npos);
    CHECK(text.find(R"(route="unmatched",status="404"} 1)") != std::string::npos);
    CHECK(text.find("secret-path") == std::string::npos);
}

TEST_CASE("http_server: parse_listen", "[http]") {
    CHECK(http::parse_listen("127.0.0.1:8080") ==
          std::make_pair(std::string("127.0.0.1"), std::uint16_t{8080}));
    CHECK(http::parse_listen(":0")->first == "0.0.0.0");
    CHECK(http::parse_listen("[::1]:443")->first == "::1");
    CHECK(!http::parse_listen("localhost"));
    CHECK(!http::parse_listen("host:99999"));
    CHECK(!http::parse_listen("host:8o"));
}
