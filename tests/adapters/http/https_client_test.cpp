// The outbound client against a local fake API: reuse, retries, 429 hints, timeouts.
#include "test_support.hpp"

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
