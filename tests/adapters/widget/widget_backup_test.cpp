// Widget sessions backed up in Redis: a browser whose instance went away resumes its session
// on another instance (several instances on one Redis), and "forget me" removes the backup.
#include "../../support/redis_server.hpp"
#include "widget_test_support.hpp"

#include "adapters/widget/session_backup.hpp"

#include <catch2/catch.hpp>

using namespace tandem;
namespace net = boost::asio;
using adapters::widget::widget_hub;
using test::recorder;

namespace {

// One instance: its own core (bot_service) and hub over the shared Redis.
struct widget_instance {
    std::unique_ptr<bot::bot_service> service;
    std::shared_ptr<widget_hub> hub;
    widget_instance(std::shared_ptr<bot::conversation_store> store, const test::redis_server& r) {
        bot::config cfg;
        service =
            std::make_unique<bot::bot_service>(test::load_ok(test::fixture_paths()), store, cfg);
        hub = std::make_shared<widget_hub>(adapters::widget::widget_config{}, *service);
        hub->set_backup(adapters::widget::make_redis_session_backup(r.options("wb:")));
    }
    ~widget_instance() { service->stop(); }
};

} // namespace

TEST_CASE("widget hub: with a Redis backup a session resumes on another instance, and forget "
          "removes it",
          "[widget][hub][redis]") {
    test::redis_server redis;
    auto store = bot::make_redis_store(redis.options("wb:"));
    net::io_context ioc;
    std::string sid;
    {
        widget_instance a(store, redis);
        auto o = a.hub->start("");
        REQUIRE(o.error.empty());
        sid = o.ready["session_id"].get<std::string>();
        auto m1 = a.hub->accept(sid, "m1", "i need some space", "");
        REQUIRE(m1.error.empty());
        test::run_until_done(ioc, a.hub->run(sid, m1.turn));
    } // instance A goes away
    bot::redis::client raw(redis.options());
    auto keys = raw.command({"KEYS", "wb:w:*"}, true).elements;
    REQUIRE(keys.size() == 1);
    CHECK(keys[0].str.find(sid) == std::string::npos); // the bearer id is not stored

    widget_instance b(store, redis);
    auto r = std::make_shared<recorder>();
    auto resumed = b.hub->resume(sid, 1, r);
    REQUIRE(resumed.error.empty());
    CHECK(resumed.ready["resumed"] == true);
    CHECK(resumed.ready["last_seq"] == 2);
    auto bots = r->of("bot");
    REQUIRE(bots.size() == 1); // the reply the browser missed
    CHECK(bots[0]["seq"] == 2);
    // The message the browser resends is known on this instance too.
    auto again = b.hub->accept(sid, "m1", "i need some space", "");
    CHECK(again.duplicate);
    // The conversation goes on where it was (its state is in Redis too).
    auto m2 = b.hub->accept(sid, "m2", "a partner", "");
    REQUIRE(m2.error.empty());
    CHECK(m2.seq == 3);
    test::run_until_done(ioc, b.hub->run(sid, m2.turn));
    auto replies = r->of("bot");
    REQUIRE(replies.size() == 2);
    CHECK(replies[1]["seq"] == 4);

    CHECK(test::run_until_done(ioc, b.hub->forget(sid)));
    CHECK(raw.command({"KEYS", "wb:w:*"}, true).elements.empty());
    widget_instance c(store, redis);
    CHECK(c.hub->resume(sid, 0, nullptr).error == "unknown_session");
}
