#include "../support/test_support.hpp"

#include "bot/bot_service.hpp"
#include "bot/checkins.hpp"
#include "bot/conversation_store.hpp"
#include "bot/turn_processor.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <catch2/catch.hpp>

#include <thread>

using namespace tandem;
namespace net = boost::asio;

namespace {

bot::inbound_message msg(const std::string& conv, const std::string& text) {
    bot::inbound_message m;
    m.channel = "test";
    m.conversation_id = conv;
    m.text = text;
    return m;
}

// A store that counts saves and can fail on demand (fault injection).
class flaky_store : public bot::conversation_store {
  public:
    std::shared_ptr<bot::conversation_store> inner = bot::make_memory_store();
    std::atomic<bool> fail{false};
    std::optional<std::string> load(const std::string& k) override { return inner->load(k); }
    void save(const std::string& k, const std::string& v, std::int64_t t) override {
        if (fail)
            throw bot::store_error("disk full");
        inner->save(k, v, t);
    }
    bool erase(const std::string& k) override { return inner->erase(k); }
    std::size_t erase_idle_before(std::int64_t c) override { return inner->erase_idle_before(c); }
    std::size_t size() override { return inner->size(); }
};

} // namespace

TEST_CASE("bot service: turns of one conversation run in order, others in parallel",
          "[service][concurrency]") {
    auto c = test::load_ok(test::fixture_paths());
    auto store = bot::make_memory_store();
    bot::config cfg;
    cfg.core.threads = 4;
    bot::bot_service svc(c, store, cfg);
    net::io_context ioc;
    constexpr int conversations = 50;
    // Each conversation: open the smothered dialog, pick "friend", answer, rate.
    std::vector<std::vector<bot::turn_result>> results(conversations);
    for (int i = 0; i < conversations; ++i) {
        std::string id = "c" + std::to_string(i);
        for (const char* t : {"i need some space", "a friend", "go dancing", "2"}) {
            net::co_spawn(ioc, svc.handle(msg(id, t)),
                          [&results, i](std::exception_ptr e, bot::turn_result r) {
                              REQUIRE(!e);
                              results[static_cast<std::size_t>(i)].push_back(std::move(r));
                          });
        }
    }
    ioc.run();
    for (int i = 0; i < conversations; ++i) {
        auto& r = results[static_cast<std::size_t>(i)];
        REQUIRE(r.size() == 4);
        CHECK(r[3].node == "more"); // every step applied, in order
        CHECK(r[3].reply.texts.front() == "LOW: 2 out of 10 is not much.");
    }
    CHECK(store->size() == conversations);
    CHECK(svc.turns_handled() == conversations * 4);
}

TEST_CASE("bot service: a failing store gives a kind error and keeps the old state",
          "[service][faults]") {
    auto c = test::load_ok(test::fixture_paths());
    auto store = std::make_shared<flaky_store>();
    bot::config cfg;
    bot::bot_service svc(c, store, cfg);
    auto run = [&](const std::string& text) {
        net::io_context ioc;
        auto f = net::co_spawn(ioc, svc.handle(msg("x", text)), net::use_future);
        ioc.run();
        return f.get();
    };
    auto r1 = run("i need some space");
    CHECK(r1.node == "who");
    store->fail = true;
    auto r2 = run("a partner");
    CHECK(r2.error);
    CHECK_FALSE(r2.reply.texts.empty());
    store->fail = false;
    auto r3 = run("a partner"); // the failed turn left nothing half-applied
    CHECK(r3.node == "use");
}

TEST_CASE("bot service: forget deletes, idle conversations expire", "[service][privacy]") {
    auto c = test::load_ok(test::fixture_paths());
    auto store = bot::make_memory_store();
    bot::config cfg;
    cfg.conversation.idle_expiry_seconds = 60;
    bot::bot_service svc(c, store, cfg);
    net::io_context ioc;
    auto m = msg("old", "hello");
    m.timestamp = 1000; // long ago
    auto f1 = net::co_spawn(ioc, svc.handle(m), net::use_future);
    auto f2 = net::co_spawn(ioc, svc.handle(msg("new", "hello")), net::use_future);
    ioc.run();
    f1.get();
    f2.get();
    CHECK(store->size() == 2);
    CHECK(svc.sweep_expired() == 1);
    CHECK(store->load("test:new"));
    ioc.restart();
    auto f3 = net::co_spawn(ioc, svc.forget({"test", "new", "new"}), net::use_future);
    ioc.run();
    CHECK(f3.get());
    CHECK(store->size() == 0);
}

TEST_CASE("turn processor: kept self-ratings outlive the idle expiry, within their retention",
          "[service][privacy]") {
    auto c = test::load_ok(test::fixture_paths());
    auto store = bot::make_memory_store();
    bot::conversation_config cfg;
    cfg.idle_expiry_seconds = 60;
    cfg.records_retention_seconds = 1000;
    bot::turn_processor p(c, store, cfg);
    auto say = [&](const std::string& text, std::int64_t at) {
        auto r = p.run(msg("r", text), at);
        std::string all;
        for (const auto& t : r.reply.texts)
            all += t + "\n";
        return all;
    };
    say("rate me", 1000);
    say("8", 1001);
    CHECK(say("3", 1002).find("- closeness: 8") != std::string::npos);
    // The sweeper sees it as active until keep_until (1002 + 1000).
    CHECK(store->erase_idle_before(1500 - 60) == 0);
    // Idle past the expiry: the dialog state is gone, the kept ratings are not.
    CHECK(say("my trend", 1500).find("HAVE:") != std::string::npos);
    // Past the retention nothing is left.
    CHECK(say("my trend", 5000).find("NO TREND YET.") != std::string::npos);
}

namespace {
class recording_sink : public bot::proactive_sink {
  public:
    std::vector<std::pair<bot::conversation_ref, bot::outbound_message>> sent;
    net::awaitable<bool> deliver(bot::conversation_ref ref, bot::outbound_message m) override {
        sent.emplace_back(std::move(ref), std::move(m));
        co_return true;
    }
    std::vector<bot::conversation_ref> forgot;
    void forgotten(const bot::conversation_ref& ref) override { forgot.push_back(ref); }
};

template <class T> T await(net::awaitable<T> a) {
    net::io_context ioc;
    auto f = net::co_spawn(ioc, std::move(a), net::use_future);
    ioc.run();
    return f.get();
}
} // namespace

TEST_CASE("check-ins: quiet hours move a due time to the morning", "[checkins]") {
    const std::int64_t day = 86400;
    std::int64_t base = 20000 * day; // midnight UTC
    CHECK(bot::outside_quiet_hours(base + 12 * 3600, 21, 9, 0) == base + 12 * 3600);
    CHECK(bot::outside_quiet_hours(base + 23 * 3600, 21, 9, 0) == base + day + 9 * 3600);
    CHECK(bot::outside_quiet_hours(base + 3 * 3600, 21, 9, 0) == base + 9 * 3600);
    // UTC+2: 22:00 UTC is midnight local, quiet until 09:00 local = 07:00 UTC.
    CHECK(bot::outside_quiet_hours(base + 22 * 3600, 21, 9, 120) == base + day + 7 * 3600);
    CHECK(bot::outside_quiet_hours(base + 23 * 3600, 9, 9, 0) == base + 23 * 3600);
}

TEST_CASE("check-ins: only after a yes, once, through the channel, never after a stop",
          "[checkins][service]") {
    auto c = test::load_ok(test::fixture_paths());
    auto store = bot::make_memory_store();
    test::temp_dir tmp;
    auto db = (tmp.path() / "checkins.sqlite").string();
    auto checkins = bot::make_sqlite_checkin_store(db);
    bot::config cfg;
    bot::bot_service svc(c, store, cfg, checkins);
    auto say = [&](const std::string& conv, const std::string& text, std::int64_t at) {
        auto m = msg(conv, text);
        m.timestamp = at;
        return await(svc.handle(m));
    };
    auto press = [&](const std::string& conv, const std::string& id, std::int64_t at) {
        auto m = msg(conv, "");
        m.option_id = id;
        m.timestamp = at;
        return await(svc.handle(m));
    };
    const std::int64_t noon = 20000LL * 86400 + 12 * 3600;
    say("a", "later please", noon);
    CHECK(checkins->size() == 0); // offered, not yet agreed
    press("a", "tomorrow", noon + 5);
    REQUIRE(checkins->size() == 1);
    CHECK(await(svc.send_due_checkins(noon + 3600)) == 0); // not due yet

    // Survives a restart: a new store on the same file still has it.
    CHECK(bot::make_sqlite_checkin_store(db)->size() == 1);

    const std::int64_t due = noon + 5 + 24 * 3600;
    // No way to reach the channel yet: kept for a later try.
    CHECK(await(svc.send_due_checkins(due)) == 0);
    CHECK(checkins->size() == 1);
    auto sink = std::make_shared<recording_sink>();
    svc.set_proactive_sink("test", sink);
    CHECK(await(svc.send_due_checkins(due + 601)) == 1);
    REQUIRE(sink->sent.size() == 1);
    CHECK(sink->sent[0].first.conversation_id == "a");
    CHECK(sink->sent[0].second.texts.back() == "CHECKIN: how did it go?");
    CHECK(sink->sent[0].second.options.size() == 1);
    CHECK(await(svc.send_due_checkins(due + 99999)) == 0); // at most once
    CHECK(press("a", "fine", due + 700).reply.end);

    // Stop withdraws it; forget me withdraws it too.
    say("b", "later please", noon);
    press("b", "tomorrow", noon + 1);
    say("c", "later please", noon);
    press("c", "tomorrow", noon + 1);
    CHECK(checkins->size() == 2);
    say("b", "stop checkins", noon + 2);
    say("c", "forget me", noon + 2);
    CHECK(checkins->size() == 0);
    CHECK(await(svc.send_due_checkins(due + 99999)) == 0);
    CHECK(sink->sent.size() == 1);
}

TEST_CASE("bot service: stops promptly even right after starting, with check-ins on",
          "[service][concurrency]") {
    // The sweeper and the check-in loop start on the pool when the service is built; a
    // stop() that came before they first waited used to leave them waiting (and re-arming)
    // so that stop() never returned. Here every stop must return.
    auto c = test::load_ok(test::fixture_paths());
    auto store = bot::make_memory_store();
    bot::config cfg;
    cfg.core.threads = 2;
    cfg.core.checkin_poll_seconds = 3600;
    cfg.core.sweep_interval_seconds = 3600;
    for (int i = 0; i < 200; ++i) {
        bot::bot_service svc(c, store, cfg, bot::make_memory_checkin_store());
        if (i % 2)
            std::this_thread::yield();
        svc.stop();
    }
    SUCCEED("200 services started and stopped");
}

TEST_CASE("turn processor: a message delivered again gets its reply again, not a second turn",
          "[service][faults]") {
    auto c = test::load_ok(test::fixture_paths());
    auto store = bot::make_memory_store();
    bot::turn_processor p(c, store, bot::conversation_config{});
    auto with_id = [](const std::string& text, const std::string& id) {
        auto m = msg("idem", text);
        m.platform_message_id = id;
        return m;
    };
    auto first = p.run(with_id("I feel smothered", "41"), 1000);
    REQUIRE_FALSE(first.replayed);
    REQUIRE_FALSE(first.reply.texts.empty());
    auto turns_after_first = nlohmann::json::parse(*store->load("test:idem"))["turns"];
    // Delivered again (a webhook retried, an inbox replayed after a crash).
    auto again = p.run(with_id("I feel smothered", "41"), 1001);
    CHECK(again.replayed);
    CHECK(again.reply.texts == first.reply.texts);
    CHECK(again.reply.options.size() == first.reply.options.size());
    CHECK(nlohmann::json::parse(*store->load("test:idem"))["turns"] == turns_after_first);
    // A later message moves on; the old one, delivered once more, is answered with nothing.
    auto next = p.run(with_id("1", "42"), 1002);
    CHECK_FALSE(next.replayed);
    auto old = p.run(with_id("I feel smothered", "41"), 1003);
    CHECK(old.replayed);
    CHECK(old.reply.texts.empty());
    // Messages without an id (the console) are never taken for repeats.
    auto a = p.run(msg("idem2", "hi"), 1000);
    auto b = p.run(msg("idem2", "hi"), 1001);
    CHECK_FALSE(a.replayed);
    CHECK_FALSE(b.replayed);
    // The kept reply survives the state's JSON round trip and an export does not nest it.
    auto exported = p.run(with_id("/export", "43"), 1004);
    auto exported_again = p.run(with_id("/export", "44"), 1005);
    REQUIRE_FALSE(exported_again.reply.texts.empty());
    std::string all;
    for (const auto& t : exported_again.reply.texts)
        all += t;
    CHECK(all.find("my answer to your last message") != std::string::npos);
    CHECK(all.size() <
          2 * (exported.reply.texts.empty() ? 0 : exported.reply.texts[0].size()) + 4096);
}

TEST_CASE("turn processor: the per-conversation rate limit says so once, never stops a message "
          "showing risk, and refills",
          "[service][limits]") {
    auto c = test::load_ok(test::fixture_paths());
    auto store = bot::make_memory_store();
    bot::conversation_config cfg;
    cfg.rate_per_minute = 6; // one every 10 s
    cfg.rate_burst = 3;
    bot::turn_processor p(c, store, cfg);
    auto text_of = [](const bot::turn_result& r) {
        std::string all;
        for (const auto& t : r.reply.texts)
            all += t + "\n";
        return all;
    };
    for (int i = 0; i < 3; ++i)
        CHECK_FALSE(p.run(msg("fast", "I feel smothered"), 1000).rate_limited);
    auto first = p.run(msg("fast", "I feel smothered"), 1000);
    CHECK(first.rate_limited);
    CHECK(text_of(first).find("SLOW DOWN") != std::string::npos); // the content's words
    auto second = p.run(msg("fast", "hello?"), 1001);
    CHECK(second.rate_limited);
    CHECK(second.reply.texts.empty()); // told once per limited stretch
    // Someone in crisis is never limited.
    auto risk = p.run(msg("fast", "i want to die"), 1002);
    CHECK_FALSE(risk.rate_limited);
    CHECK(risk.topic == "safety");
    CHECK_FALSE(risk.reply.texts.empty());
    CHECK(p.run(msg("fast", "I feel smothered"), 1003).rate_limited);
    // Ten seconds later one more message passes, and a new stretch is told again.
    CHECK_FALSE(p.run(msg("fast", "I feel smothered"), 1013).rate_limited);
    auto again = p.run(msg("fast", "I feel smothered"), 1013);
    CHECK(again.rate_limited);
    CHECK(text_of(again).find("SLOW DOWN") != std::string::npos);
    // Other conversations have their own bucket; the console is never limited.
    CHECK_FALSE(p.run(msg("other", "hi"), 1013).rate_limited);
    auto console = msg("local", "hi");
    console.channel = "console";
    for (int i = 0; i < 10; ++i)
        CHECK_FALSE(p.run(console, 1013).rate_limited);
    // "start over" resets the conversation, not its bucket.
    for (int i = 0; i < 3; ++i)
        CHECK_FALSE(p.run(msg("again", "start over"), 2000).rate_limited);
    CHECK(p.run(msg("again", "start over"), 2000).rate_limited);
    // "forget me" always gets through.
    CHECK_FALSE(p.run(msg("fast", "/forget"), 1014).rate_limited);
}

TEST_CASE("turn processor: the shipped content has the rate-limit line in every language",
          "[service][limits]") {
    auto c = test::load_ok(test::shipped_paths());
    for (const auto& code : {std::string(), std::string("es")}) {
        const auto& lc = c->for_locale(code);
        const auto* sys = lc.dialog("system");
        REQUIRE(sys);
        const auto* n = sys->node("rate_limited");
        INFO("locale " << code);
        REQUIRE(n);
        REQUIRE_FALSE(n->say.empty());
        CHECK_FALSE(n->say[0].empty());
    }
    CHECK(c->for_locale("es").dialog("system")->node("rate_limited")->say[0][0].find("despacio") !=
          std::string::npos);
}

TEST_CASE("bot service: forget in one linked chat tells the other chats' channels",
          "[service][privacy][linking]") {
    auto store = bot::make_memory_store();
    bot::config cfg;
    bot::bot_service svc(test::load_ok(test::fixture_paths()), store, cfg);
    auto web = std::make_shared<recording_sink>();
    auto tg = std::make_shared<recording_sink>();
    svc.set_proactive_sink("widget", web);
    svc.set_proactive_sink("telegram", tg);
    auto say = [&](const std::string& channel, const std::string& id, const std::string& text) {
        bot::inbound_message m;
        m.channel = channel;
        m.conversation_id = id;
        m.user_id = id;
        m.text = text;
        return await(svc.handle(m));
    };
    auto link = [&] {
        auto issued = say("widget", "w", "/link");
        std::string code;
        for (const auto& t : issued.reply.texts)
            if (auto at = t.find("/link "); at != std::string::npos)
                code = t.substr(at + 6, 9);
        REQUIRE(code.size() == 9);
        REQUIRE(say("telegram", "42", "/link " + code).reply.texts.front().rfind("Linked", 0) == 0);
    };
    say("widget", "w", "hello");
    link();
    // "forget me" typed in Telegram: the widget's session is told, Telegram is not (its own
    // adapter sees the turn's result).
    auto gone = say("telegram", "42", "/forget");
    CHECK(gone.forgotten);
    REQUIRE(web->forgot.size() == 1);
    CHECK(web->forgot[0].channel == "widget");
    CHECK(web->forgot[0].conversation_id == "w");
    CHECK(tg->forgot.empty());
    CHECK(store->size() == 0);
    // The widget's "Forget me" button (bot_service::forget): Telegram's update ids are told.
    say("widget", "w", "hello");
    link();
    CHECK(await(svc.forget({"widget", "w", "w"})));
    REQUIRE(tg->forgot.size() == 1);
    CHECK(tg->forgot[0].conversation_id == "42");
    CHECK(store->size() == 0);
}
