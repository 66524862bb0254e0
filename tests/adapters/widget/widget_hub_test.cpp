#include "widget_test_support.hpp"

#include <catch2/catch.hpp>

#include <set>

using namespace tandem;
namespace net = boost::asio;
using adapters::widget::widget_config;
using adapters::widget::widget_hub;
using test::recorder;

namespace {

struct hub_fixture {
    test::core_fixture core;
    net::io_context ioc;
    std::int64_t now = 1'700'000'000;
    widget_config cfg;
    std::shared_ptr<widget_hub> hub;
    explicit hub_fixture(widget_config c = {}) : cfg(c) {
        hub = std::make_shared<widget_hub>(cfg, *core.service, [this] { return now; });
    }
    std::string start(std::shared_ptr<recorder> r = nullptr) {
        auto o = hub->start("", r);
        REQUIRE(o.error.empty());
        return o.ready["session_id"].get<std::string>();
    }
    // Sends a message and runs its turn to the end; returns the accept result.
    widget_hub::accepted say(const std::string& sid, const std::string& id, const std::string& text,
                             const std::string& option = {}) {
        auto a = hub->accept(sid, id, text, option);
        if (a.error.empty() && !a.duplicate)
            test::run_until_done(ioc, hub->run(sid, a.turn));
        return a;
    }
};

// "m<i>" (std::string::append: g++ 12 warns falsely about msg_id(i)).
std::string msg_id(int i) {
    return std::string("m").append(std::to_string(i));
}

} // namespace

TEST_CASE("widget hub: sessions get opaque random ids of 32 characters", "[widget][hub]") {
    hub_fixture f;
    std::set<std::string> ids;
    for (int i = 0; i < 50; ++i) {
        auto id = f.start();
        CHECK(id.size() == 32);
        CHECK(id.find_first_not_of(
                  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
              std::string::npos);
        ids.insert(id);
    }
    CHECK(ids.size() == 50);
    CHECK(f.hub->stats().sessions == 50);
}

TEST_CASE("widget hub: a conversation by text and by option, every message with the next seq",
          "[widget][hub]") {
    hub_fixture f;
    auto r = std::make_shared<recorder>();
    auto sid = f.start(r);
    REQUIRE(r->frames.size() == 1);
    CHECK(r->frames[0]["type"] == "ready");
    CHECK(r->frames[0]["resumed"] == false);
    CHECK(r->frames[0]["last_seq"] == 0);

    auto a = f.say(sid, "m1", "hi");
    REQUIRE(a.error.empty());
    CHECK(a.seq == 1);
    CHECK(a.ack["type"] == "ack");
    CHECK(a.ack["duplicate"] == false);
    auto bots = r->of("bot");
    REQUIRE(bots.size() == 1);
    CHECK(bots[0]["seq"] == 2);
    CHECK(bots[0]["reply_to"] == "m1");
    auto texts = bots[0]["texts"].dump();
    CHECK(texts.find("MENU") != std::string::npos);
    REQUIRE(bots[0]["options"].size() == 3);
    CHECK(bots[0]["options"][1]["id"] == "distant");
    CHECK(bots[0]["options"][1]["label"] == "Feeling far apart");
    auto typing = r->of("typing");
    REQUIRE(typing.size() == 2);
    CHECK(typing[0]["on"] == true);
    CHECK(typing[1]["on"] == false);

    a = f.say(sid, "m2", "", "distant");
    REQUIRE(a.error.empty());
    auto users = r->of("user");
    REQUIRE(users.size() == 2);
    CHECK(users[1]["text"] == "Feeling far apart"); // the label, shown as what the user said
    CHECK(users[1]["option_id"] == "distant");
    bots = r->of("bot");
    REQUIRE(bots.size() == 2);
    CHECK(bots[1]["texts"].dump().find("DISTANT") != std::string::npos);

    a = f.say(sid, "m3", "", "a");
    bots = r->of("bot");
    REQUIRE(bots.size() == 3);
    CHECK(bots[2]["texts"].dump().find("DISTANT DONE") != std::string::npos);
    CHECK(bots[2]["end"] == true);
    CHECK(r->seqs() == std::vector<std::uint64_t>{1, 2, 3, 4, 5, 6});
}

TEST_CASE("widget hub: resume replays exactly the missed messages, then continues live",
          "[widget][hub]") {
    hub_fixture f;
    auto first = std::make_shared<recorder>();
    auto sid = f.start(first);
    f.say(sid, "m1", "hi");
    f.say(sid, "m2", "", "distant");
    REQUIRE(first->seqs() == std::vector<std::uint64_t>{1, 2, 3, 4});
    // The connection drops after seq 2 was shown; two more messages arrive meanwhile.
    f.hub->detach(sid, first.get());
    f.say(sid, "m3", "", "a");

    auto again = std::make_shared<recorder>();
    auto o = f.hub->resume(sid, 2, again);
    REQUIRE(o.error.empty());
    CHECK(o.ready["resumed"] == true);
    CHECK(o.ready["last_seq"] == 6);
    CHECK_FALSE(o.ready.contains("reset"));
    CHECK_FALSE(o.ready.contains("gap"));
    CHECK(again->frames[0]["type"] == "ready");
    CHECK(again->seqs() == std::vector<std::uint64_t>{3, 4, 5, 6});
    f.say(sid, "m4", "hello");
    CHECK(again->seqs() == std::vector<std::uint64_t>{3, 4, 5, 6, 7, 8});

    SECTION("a reload resumes from 0 and gets the whole history") {
        auto page = std::make_shared<recorder>();
        f.hub->resume(sid, 0, page);
        CHECK(page->seqs() == std::vector<std::uint64_t>{1, 2, 3, 4, 5, 6, 7, 8});
    }
    SECTION("a client ahead of the server is told to reset and gets everything") {
        auto page = std::make_shared<recorder>();
        auto r = f.hub->resume(sid, 99, page);
        CHECK(r.ready["reset"] == true);
        CHECK(page->seqs().size() == 8);
    }
    SECTION("an unknown session is refused") {
        auto page = std::make_shared<recorder>();
        CHECK(f.hub->resume("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 0, page).error ==
              "unknown_session");
        CHECK(page->frames.empty());
    }
}

TEST_CASE("widget hub: a resent client_msg_id is acknowledged but not processed again",
          "[widget][hub]") {
    hub_fixture f;
    auto r = std::make_shared<recorder>();
    auto sid = f.start(r);
    auto a = f.say(sid, "same-id", "hi");
    auto turns = f.core.service->turns_handled();
    auto b = f.say(sid, "same-id", "hi");
    CHECK(b.error.empty());
    CHECK(b.duplicate);
    CHECK(b.seq == a.seq);
    CHECK(b.ack["duplicate"] == true);
    CHECK(f.core.service->turns_handled() == turns);
    CHECK(r->of("user").size() == 1);
    CHECK(r->of("bot").size() == 1);
}

TEST_CASE("widget hub: history is bounded, an old resume is told about the gap", "[widget][hub]") {
    widget_config cfg;
    cfg.history_limit = 10;
    cfg.messages_per_minute = 1000;
    hub_fixture f(cfg);
    auto sid = f.start();
    for (int i = 0; i < 8; ++i)
        f.say(sid, msg_id(i), "hello");
    auto r = std::make_shared<recorder>();
    auto o = f.hub->resume(sid, 0, r);
    CHECK(o.ready["gap"] == true);
    CHECK(o.ready["first_seq"] == 7);
    CHECK(o.ready["last_seq"] == 16);
    CHECK(r->seqs().size() == 10);
    CHECK(r->seqs().front() == 7);
}

TEST_CASE("widget hub: forget removes the session, its history and the core's state",
          "[widget][hub][privacy]") {
    hub_fixture f;
    auto r = std::make_shared<recorder>();
    auto sid = f.start(r);
    f.say(sid, "m1", "hi");
    REQUIRE(f.core.store->size() == 1);
    CHECK(test::run_until_done(f.ioc, f.hub->forget(sid)));
    CHECK(r->of("forgotten").size() == 1);
    CHECK(r->detached_from == std::vector<std::string>{sid});
    CHECK(f.core.store->size() == 0);
    CHECK(f.hub->stats().sessions == 0);
    CHECK(f.hub->resume(sid, 0, std::make_shared<recorder>()).error == "unknown_session");
    CHECK(f.hub->accept(sid, "m2", "hi", "").error == "unknown_session");
    CHECK_FALSE(test::run_until_done(f.ioc, f.hub->forget(sid)));
}

TEST_CASE("widget hub: \"forget me\" typed in the chat ends the session too",
          "[widget][hub][privacy]") {
    hub_fixture f;
    auto r = std::make_shared<recorder>();
    auto sid = f.start(r);
    f.say(sid, "m1", "hi");
    f.say(sid, "m2", "please forget me");
    auto gone = r->of("forgotten");
    REQUIRE(gone.size() == 1);
    CHECK(gone[0]["texts"].dump().find("FORGOTTEN") != std::string::npos);
    CHECK(f.hub->stats().sessions == 0);
    CHECK(f.core.store->size() == 0);
}

TEST_CASE("widget hub: a conversation forgotten from a linked chat ends its session too",
          "[widget][hub][privacy][linking]") {
    hub_fixture f;
    auto r = std::make_shared<recorder>();
    auto sid = f.start(r);
    auto a = f.say(sid, "m1", "hi");
    auto sink = adapters::widget::make_widget_sink(f.hub);
    // bot_service calls this when "forget me" came from a chat linked to this conversation.
    sink->forgotten({"widget", a.turn.conversation_id, a.turn.user_id});
    CHECK(r->of("forgotten").size() == 1);
    CHECK(r->detached_from == std::vector<std::string>{sid});
    CHECK(f.hub->stats().sessions == 0);
    CHECK(f.hub->resume(sid, 0, std::make_shared<recorder>()).error == "unknown_session");
    CHECK_FALSE(f.hub->forgotten_elsewhere(a.turn.conversation_id)); // already gone
}

TEST_CASE("widget hub: idle sessions expire unless a widget is connected", "[widget][hub]") {
    widget_config cfg;
    cfg.session_idle_seconds = 600;
    hub_fixture f(cfg);
    auto idle = f.start();
    auto r = std::make_shared<recorder>();
    auto connected = f.start(r);
    f.now += 601;
    CHECK(f.hub->sweep() == 1);
    CHECK(f.hub->resume(idle, 0, nullptr).error == "unknown_session");
    CHECK(f.hub->resume(connected, 0, nullptr).error.empty());
    // Once the widget goes away the clock starts.
    f.hub->detach(connected, r.get());
    f.now += 599;
    CHECK(f.hub->sweep() == 0);
    f.now += 2;
    CHECK(f.hub->sweep() == 1);
}

TEST_CASE("widget hub: limits on sessions, message rate and stale options", "[widget][hub]") {
    widget_config cfg;
    cfg.max_sessions = 2;
    cfg.messages_per_minute = 3;
    hub_fixture f(cfg);
    auto sid = f.start();
    f.start();
    CHECK(f.hub->start("").error == "busy");
    for (int i = 0; i < 3; ++i)
        CHECK(f.say(sid, msg_id(i), "hello").error.empty());
    CHECK(f.hub->accept(sid, "m9", "hello", "").error == "slow_down");
    f.now += 61;
    CHECK(f.say(sid, "m10", "hi").error.empty()); // offers the menu
    CHECK(f.hub->accept(sid, "m11", "", "no-such-option").error == "unknown_option");
    CHECK(f.say(sid, "m12", "", "distant").error.empty());
    CHECK(f.hub->accept(sid, "m13", "", "distant").error == "unknown_option"); // spent
}

TEST_CASE("widget hub: a subscriber that cannot keep up is detached, the session lives on",
          "[widget][hub]") {
    hub_fixture f;
    auto slow = std::make_shared<recorder>();
    slow->capacity = 2;
    auto sid = f.start(slow);
    f.say(sid, "m1", "hi");
    CHECK(slow->detached_from == std::vector<std::string>{sid});
    CHECK(f.hub->stats().subscribers == 0);
    auto r = std::make_shared<recorder>();
    CHECK(f.hub->resume(sid, 0, r).error.empty());
    CHECK(r->seqs() == std::vector<std::uint64_t>{1, 2});
}

TEST_CASE("widget hub: a check-in reaches the widget through the proactive sink",
          "[widget][hub][checkin]") {
    hub_fixture f;
    auto r = std::make_shared<recorder>();
    auto sid = f.start(r);
    auto a = f.say(sid, "m1", "hi");
    auto sink = adapters::widget::make_widget_sink(f.hub);
    bot::outbound_message m;
    m.texts = {"Checking in, as you asked."};
    m.options = {{"ok", "Thanks"}};
    bot::conversation_ref ref{"widget", a.turn.conversation_id, a.turn.user_id};
    CHECK(test::run_until_done(f.ioc, sink->deliver(ref, m)));
    auto bots = r->of("bot");
    REQUIRE(bots.size() == 2);
    CHECK(bots[1]["checkin"] == true);
    CHECK(bots[1]["seq"] == 3);
    CHECK(f.say(sid, "m2", "", "ok").error.empty()); // its options can be answered
    bot::conversation_ref other{"widget", "nobody", "nobody"};
    CHECK_FALSE(test::run_until_done(f.ioc, sink->deliver(other, m)));
    bot::conversation_ref telegram{"telegram", a.turn.conversation_id, ""};
    CHECK_FALSE(test::run_until_done(f.ioc, sink->deliver(telegram, m)));
}

TEST_CASE("widget hub: the core never sees the session id", "[widget][hub][privacy]") {
    hub_fixture f;
    auto sid = f.start();
    auto a = f.hub->accept(sid, "m1", "hi", "");
    CHECK(a.turn.channel == "widget");
    CHECK(a.turn.conversation_id.size() == 32);
    CHECK(a.turn.conversation_id != sid);
    CHECK(a.turn.platform_message_id == "m1");
    test::run_until_done(f.ioc, f.hub->run(sid, a.turn));
}
