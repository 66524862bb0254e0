// Per-source rate limits: the token bucket itself (time passed in, never read from the
// clock), and the server answering 429 with Retry-After on a limited route only.
#include "adapters/http/rate_limit.hpp"
#include "test_support.hpp"

#include <catch2/catch.hpp>

using namespace tandem::test;
using tandem::adapters::http::client_source;
using tandem::adapters::http::source_limiter;

TEST_CASE("source limiter: a burst, then one per interval, per source", "[http][limits]") {
    source_limiter lim(60, 3); // one a second, three at once
    auto t0 = source_limiter::clock::time_point{} + std::chrono::hours(1);
    CHECK(lim.take("10.0.0.1", t0).allowed);
    CHECK(lim.take("10.0.0.1", t0).allowed);
    CHECK(lim.take("10.0.0.1", t0).allowed);
    auto refused = lim.take("10.0.0.1", t0);
    CHECK_FALSE(refused.allowed);
    CHECK(refused.retry_after_seconds == 1);
    CHECK(lim.take("10.0.0.2", t0).allowed); // another source has its own bucket
    CHECK_FALSE(lim.take("10.0.0.1", t0 + 500ms).allowed);
    CHECK(lim.take("10.0.0.1", t0 + 1000ms).allowed); // one token back after a second
    CHECK_FALSE(lim.take("10.0.0.1", t0 + 1000ms).allowed);
    CHECK(lim.take("10.0.0.1", t0 + 60s).allowed); // refilled, up to the burst only
    CHECK(lim.take("10.0.0.1", t0 + 60s).allowed);
    CHECK(lim.take("10.0.0.1", t0 + 60s).allowed);
    CHECK_FALSE(lim.take("10.0.0.1", t0 + 60s).allowed);
}

TEST_CASE("source limiter: memory stays bounded under many sources", "[http][limits]") {
    source_limiter lim(60, 2, 100);
    auto t0 = source_limiter::clock::time_point{} + std::chrono::hours(1);
    for (int i = 0; i < 10000; ++i)
        lim.take("addr" + std::to_string(i), t0 + std::chrono::milliseconds(i));
    CHECK(lim.sources() <= 100);
    // A source that is still limited keeps its bucket while refilled ones go first.
    source_limiter small(60, 1, 2);
    CHECK(small.take("a", t0).allowed);
    CHECK_FALSE(small.take("a", t0).allowed);
    CHECK(small.take("b", t0 - 10s).allowed); // b's bucket is full again by t0
    CHECK(small.take("c", t0).allowed);       // prunes b, not a
    CHECK_FALSE(small.take("a", t0).allowed);
}

TEST_CASE("source limiter: X-Forwarded-For only when trusted", "[http][limits]") {
    CHECK(client_source("127.0.0.1", "203.0.113.7", false) == "127.0.0.1");
    CHECK(client_source("127.0.0.1", "198.51.100.1, 203.0.113.7", true) == "203.0.113.7");
    CHECK(client_source("127.0.0.1", "", true) == "127.0.0.1");
}

TEST_CASE("server: a route limited per source answers 429 with Retry-After, others do not",
          "[http][limits]") {
    net::io_context ioc;
    auto routes = std::make_shared<http::router>();
    auto limiter = std::make_shared<source_limiter>(6, 2); // one every 10 s, two at once
    for (bool limited : {true, false}) {
        http::route r;
        r.path = limited ? "/limited" : "/free";
        r.methods = {"GET"};
        r.media_types = {};
        if (limited)
            r.per_source = limiter;
        r.handler = [](http::http_request) -> awaitable<http::http_response> {
            co_return http::text_response(200, "ok\n");
        };
        routes->add(std::move(r));
    }
    http::server_config cfg;
    cfg.port = 0;
    http::http_server server(ioc.get_executor(), cfg, routes);
    auto port = server.start();
    std::vector<int> limited, free;
    std::string retry_after;
    run_test(ioc, [&]() -> awaitable<void> {
        http::http_client c(ioc.get_executor());
        for (int i = 0; i < 4; ++i) {
            http::client_request get;
            get.method = "GET";
            get.url = "http://127.0.0.1:" + std::to_string(port) + "/limited";
            auto r = co_await c.request(get);
            limited.push_back(r.response.status);
            if (r.response.status == 429)
                retry_after = std::string(r.response.header("Retry-After"));
            get.url = "http://127.0.0.1:" + std::to_string(port) + "/free";
            free.push_back((co_await c.request(get)).response.status);
        }
        server.stop();
    });
    CHECK(limited == std::vector<int>{200, 200, 429, 429});
    CHECK(free == std::vector<int>{200, 200, 200, 200});
    REQUIRE_FALSE(retry_after.empty());
    CHECK(std::stoi(retry_after) >= 1);
    CHECK(std::stoi(retry_after) <= 10);
}
