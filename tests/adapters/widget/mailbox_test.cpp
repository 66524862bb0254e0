#include "widget_test_support.hpp"

#include "adapters/widget/mailbox.hpp"

#include <catch2/catch.hpp>

#include <thread>

using namespace tandem;
using adapters::widget::mailbox;
namespace net = boost::asio;

TEST_CASE("mailbox: frames come out in order, a full mailbox refuses", "[widget][mailbox]") {
    net::io_context ioc;
    auto m = std::make_shared<mailbox>(ioc.get_executor(), 3);
    CHECK(m->push({{"n", 1}}));
    CHECK(m->push({{"n", 2}}));
    CHECK(m->push({{"n", 3}}));
    CHECK_FALSE(m->push({{"n", 4}}));
    CHECK(test::run_until_done(ioc, m->pop())->at("n") == 1);
    auto rest = m->drain();
    REQUIRE(rest.size() == 2);
    CHECK(rest[1]["n"] == 3);
    auto none = test::run_until_done(ioc, m->pop(std::chrono::milliseconds(20)));
    CHECK_FALSE(none.has_value());
    m->close();
    CHECK_FALSE(m->push({{"n", 5}}));
    CHECK_FALSE(test::run_until_done(ioc, m->pop()).has_value());
}

TEST_CASE("mailbox: a waiting reader wakes for a push from another thread",
          "[widget][mailbox][concurrency]") {
    net::io_context ioc;
    auto m = std::make_shared<mailbox>(ioc.get_executor(), 1000);
    std::thread producer([m] {
        for (int i = 0; i < 500; ++i) {
            while (!m->push({{"n", i}}))
                std::this_thread::yield();
        }
    });
    int expected = 0;
    while (expected < 500) {
        auto f = test::run_until_done(ioc, m->pop(std::chrono::seconds(5)));
        REQUIRE(f.has_value());
        CHECK((*f)["n"] == expected);
        ++expected;
    }
    producer.join();
}
