// The Discord inbox (adapters/discord/discord_adapter.hpp): a deferral is recorded before the
// type 5 answer and dropped once its follow-up is delivered; after a crash a new adapter on
// the same file finishes it (one PATCH @original, one turn), drops what is too old or
// unreadable, and "forget me" deletes a user's records. Over loopback, with a fake Discord
// API on 127.0.0.1 port 0.
#include "adapters/discord/discord_adapter.hpp"
#include "discord/signing.hpp"
#include "test_support.hpp"

#include "bot/log.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>

using namespace tandem::test;
namespace dc = tandem::adapters::discord;
namespace bot = tandem::bot;
using nlohmann::json;

namespace {

const std::string app = "1180000000000000000";
const std::string user = "1160000000000000777";
const std::string other_user = "1160000000000000888";

// One run of `tandem serve`'s Discord side: the adapter on an inbox, behind a server.
struct world {
    net::io_context ioc;
    fake_api api{ioc, R"({"id":"1"})"};
    test_signer signer;
    std::shared_ptr<http::metrics> stats = std::make_shared<http::metrics>();
    http::http_client client{ioc.get_executor()};
    std::shared_ptr<bot::message_log> inbox;
    std::shared_ptr<dc::discord_adapter> adapter;
    std::unique_ptr<http::http_server> server;
    std::uint16_t port = 0;

    world(bot::turn_service& core, std::shared_ptr<bot::message_log> log,
          std::chrono::milliseconds inline_wait = 20ms)
        : inbox(std::move(log)) {
        dc::discord_config cfg;
        cfg.api_base = api.base();
        cfg.public_key = signer.public_hex();
        cfg.inline_wait = inline_wait;
        cfg.max_attempts = 1;
        auto verifier = dc::ed25519_verifier::from_hex(cfg.public_key);
        adapter = std::make_shared<dc::discord_adapter>(ioc.get_executor(), cfg, *verifier, core,
                                                        client, stats, inbox);
        auto routes = std::make_shared<http::router>();
        routes->add(adapter->route());
        http::server_config sc;
        sc.port = 0;
        server = std::make_unique<http::http_server>(ioc.get_executor(), sc, routes, stats);
        port = server->start();
    }

    // Posts a signed interaction; returns the HTTP answer's JSON.
    awaitable<json> send(json ix) {
        auto body = ix.dump();
        auto h = discord_headers(signer, body);
        http::http_client c(ioc.get_executor());
        auto r = co_await c.request(
            post_json("http://127.0.0.1:" + std::to_string(port) + "/webhooks/discord", body, h));
        REQUIRE(r.response.status == 200);
        co_return json::parse(r.response.body);
    }
    awaitable<void> settle() {
        bool idle = co_await eventually([this] { return adapter->pending() == 0; });
        CHECK(idle);
        co_await sleep_for(50ms);
    }
};

// /reflect with text from `who`, interaction id 1180000000000<n>.
json reflect(int n, const std::string& text, const std::string& who = user,
             const std::string& name = "reflect") {
    json ix = {{"application_id", app},
               {"id", "1180000000000" + std::to_string(n)},
               {"token", "token-" + std::to_string(n)},
               {"type", 2},
               {"version", 1},
               {"locale", "en-US"},
               {"channel_id", "1180000000000000200"},
               {"user", {{"id", who}, {"username", "sam"}}}};
    ix["data"] = {{"id", "1"}, {"name", name}, {"type", 1}};
    if (!text.empty())
        ix["data"]["options"] = json::array({{{"name", "text"}, {"type", 3}, {"value", text}}});
    return ix;
}

std::string patch_path(int n) {
    return "/webhooks/" + app + "/token-" + std::to_string(n) + "/messages/@original";
}

std::int64_t id_of(int n) {
    return std::stoll("1180000000000" + std::to_string(n));
}

std::size_t pending_of(bot::message_log& log, const std::string& who) {
    std::size_t n = 0;
    for (const auto& p : log.unanswered())
        n += p.conversation == who;
    return n;
}

// Phase one of a crash: the turn never finishes (the core is held), so the deferral is
// recorded and Discord got type 5; then the process "dies" (the I/O stops, the inbox
// closes).
void crash_after_deferral(const std::string& file, int n, const std::string& text,
                          const std::string& who = user) {
    fake_turn_service held;
    held.hold = true;
    {
        world w(held, dc::make_sqlite_inbox(file));
        run_test(w.ioc, [&]() -> awaitable<void> {
            auto answer = co_await w.send(reflect(n, text, who));
            CHECK(answer["type"] == 5);
        });
        REQUIRE(pending_of(*w.inbox, who) >= 1);
        CHECK(w.api.count() == 0);
    }
    held.hold = false;
}

std::uint64_t turns_of(real_core& core) {
    auto stored = core.store->load("discord:" + user);
    if (!stored)
        return 0;
    return json::parse(*stored)["turns"].get<std::uint64_t>();
}

// A log whose writes fail while `failing` (a full disk, a broken file).
class failing_log final : public bot::message_log {
  public:
    std::atomic<bool> failing{true};
    bot::message_status accept(std::int64_t id, const std::string& conversation,
                               std::string_view payload, std::int64_t now) override {
        if (failing)
            throw bot::store_error("disk I/O error");
        return inner_->accept(id, conversation, payload, now);
    }
    void answered(std::int64_t id) override { inner_->answered(id); }
    std::vector<bot::logged_message> unanswered() override { return inner_->unanswered(); }
    std::size_t forget(const std::string& conversation) override {
        return inner_->forget(conversation);
    }
    std::size_t size() override { return inner_->size(); }
    void release(std::int64_t id, const std::string& conversation) override {
        inner_->release(id, conversation);
    }

  private:
    std::shared_ptr<bot::message_log> inner_ = bot::make_memory_message_log(100);
};

struct log_capture {
    std::string lines;
    log_capture() { bot::log::test_capture(&lines); }
    ~log_capture() { bot::log::test_capture(nullptr); }
    std::size_t count(const std::string& event) const {
        std::size_t n = 0;
        for (auto at = lines.find(event); at != std::string::npos; at = lines.find(event, at + 1))
            ++n;
        return n;
    }
};

} // namespace

TEST_CASE("discord inbox: a deferral is recorded, and dropped once its follow-up is delivered",
          "[discord][inbox]") {
    temp_dir dir;
    auto file = (dir.path() / "data" / "discord-inbox.sqlite").string();
    fake_turn_service core;
    world w(core, dc::make_sqlite_inbox(file));
    log_capture logs;
    run_test(w.ioc, [&]() -> awaitable<void> {
        // Quick enough: answered inline, nothing recorded.
        auto inline_answer = co_await w.send(reflect(1, "quick words"));
        CHECK(inline_answer["type"] == 4);
        co_await w.settle();
        CHECK(w.inbox->size() == 0);

        core.hold = true;
        auto deferred = co_await w.send(reflect(2, "my private words"));
        CHECK(deferred["type"] == 5);
        // Durable before the deferral went out: the record and what replays it.
        auto left = w.inbox->unanswered();
        REQUIRE(left.size() == 1);
        CHECK(left[0].id == id_of(2));
        CHECK(left[0].conversation == user);
        CHECK(left[0].payload.find("my private words") != std::string::npos);
        CHECK(left[0].payload.find("token-2") != std::string::npos);
        CHECK(w.api.count() == 0);

        core.hold = false;
        bool patched = co_await eventually([&] { return w.api.count() >= 1; });
        CHECK(patched);
        co_await w.settle();
    });
    auto calls = w.api.calls();
    REQUIRE(calls.size() == 1);
    CHECK(calls[0].method == "PATCH");
    CHECK(calls[0].path == patch_path(2));
    CHECK(w.inbox->unanswered().empty()); // the text went with the follow-up
    struct stat st {};
    REQUIRE(::stat(file.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    CHECK(logs.lines.find("my private words") == std::string::npos);
}

TEST_CASE("discord inbox: a follow-up Discord refuses for good (404) drops the record, one "
          "that got no answer keeps it for the next start",
          "[discord][inbox]") {
    fake_turn_service core;
    core.delay = 100ms;
    world w(core, bot::make_memory_message_log(100));
    w.api.push({404, R"({"message":"Unknown interaction","code":10062})", 0ms, {}});
    w.api.push({503, R"({"message":"try later"})", 0ms, {}});
    run_test(w.ioc, [&]() -> awaitable<void> {
        auto a = co_await w.send(reflect(3, "one"));
        CHECK(a["type"] == 5);
        bool done = co_await eventually([&] { return w.api.count() >= 1; });
        CHECK(done);
        co_await w.settle();
        CHECK(w.inbox->unanswered().empty());
        auto b = co_await w.send(reflect(4, "two"));
        CHECK(b["type"] == 5);
        done = co_await eventually([&] { return w.api.count() >= 2; });
        CHECK(done);
        co_await w.settle();
    });
    auto left = w.inbox->unanswered();
    REQUIRE(left.size() == 1);
    CHECK(left[0].id == id_of(4));
    CHECK(w.stats->test_event_count("discord", "followup_failed") == 2);
}

TEST_CASE("discord inbox: records older than a token's life are pruned when a deferral is "
          "recorded",
          "[discord][inbox][privacy]") {
    temp_dir dir;
    fake_turn_service core;
    world w(core, dc::make_sqlite_inbox((dir.path() / "inbox.sqlite").string()));
    // Left by a follow-up that got no answer 20 minutes ago (the process kept running).
    w.inbox->accept(id_of(60), user, R"({"v":1,"text":"stale words"})", unix_now() - 20 * 60);
    REQUIRE(w.inbox->unanswered().size() == 1);
    run_test(w.ioc, [&]() -> awaitable<void> {
        core.hold = true;
        auto a = co_await w.send(reflect(61, "fresh words"));
        CHECK(a["type"] == 5);
        auto left = w.inbox->unanswered();
        REQUIRE(left.size() == 1);
        CHECK(left[0].id == id_of(61));
        core.hold = false;
        co_await w.settle();
    });
    CHECK(w.inbox->size() == 1); // the answered id alone, until it is pruned in turn
    CHECK(w.inbox->unanswered().empty());
}

TEST_CASE("discord inbox: a restart finishes a deferral left by a crash with one PATCH and "
          "one turn",
          "[discord][inbox][e2e]") {
    temp_dir dir;
    auto file = (dir.path() / "discord-inbox.sqlite").string();
    crash_after_deferral(file, 10, "");

    real_core core;
    bool committed_before_crash = false;
    SECTION("the turn had not run") {}
    SECTION("the turn was committed before the crash") {
        committed_before_crash = true;
    }
    world w(*core.service, dc::make_sqlite_inbox(file));
    REQUIRE(w.inbox->unanswered().size() == 1);
    std::string expected;
    log_capture logs;
    run_test(w.ioc, [&]() -> awaitable<void> {
        if (committed_before_crash) {
            // What the crashed process did before dying: the turn, by interaction id.
            bot::inbound_message in;
            in.channel = "discord";
            in.conversation_id = user;
            in.user_id = user;
            in.language = "en-US";
            in.platform_message_id = std::to_string(id_of(10));
            in.text = "hi";
            auto r = co_await core.service->handle(in);
            expected = dc::render_reply(r.reply, true).front()["content"].get<std::string>();
            CHECK(turns_of(core) == 1);
        }
        CHECK(w.adapter->resume(unix_now()) == 1);
        bool patched = co_await eventually([&] { return w.api.count() >= 1; });
        CHECK(patched);
        co_await w.settle();
    });
    auto calls = w.api.calls();
    REQUIRE(calls.size() == 1);
    CHECK(calls[0].method == "PATCH");
    CHECK(calls[0].path == patch_path(10));
    auto content = calls[0].json()["content"].get<std::string>();
    CHECK(content.find("HELLO") != std::string::npos);
    if (committed_before_crash) {
        CHECK(content == expected); // the stored reply, not a second turn
        CHECK(w.stats->test_event_count("discord", "replayed_turn") == 1);
    }
    CHECK(turns_of(core) == 1); // one step, not two
    CHECK(w.inbox->unanswered().empty());
    CHECK(logs.count("discord.resumed") == 1);

    // A second restart finds nothing left to do.
    world again(*core.service, w.inbox);
    CHECK(again.adapter->resume(unix_now()) == 0);
}

TEST_CASE("discord inbox: records older than a token's life are dropped without a PATCH",
          "[discord][inbox]") {
    temp_dir dir;
    auto file = (dir.path() / "discord-inbox.sqlite").string();
    crash_after_deferral(file, 20, "an old secret");
    crash_after_deferral(file, 21, "another old secret");

    fake_turn_service core;
    world w(core, dc::make_sqlite_inbox(file));
    log_capture logs;
    run_test(w.ioc, [&]() -> awaitable<void> {
        // The restart comes 20 minutes after the deferrals: their tokens are dead.
        CHECK(w.adapter->resume(unix_now() + 20 * 60) == 0);
        co_await w.settle();
    });
    CHECK(w.api.count() == 0);
    CHECK(core.turns() == 0);
    CHECK(w.inbox->unanswered().empty());
    CHECK(logs.count("discord.inbox_expired") == 1); // one line for all of them
    CHECK(logs.lines.find("old secret") == std::string::npos);
}

TEST_CASE("discord inbox: unreadable records are dropped with a log line each, the rest are "
          "replayed",
          "[discord][inbox]") {
    temp_dir dir;
    auto file = (dir.path() / "discord-inbox.sqlite").string();
    crash_after_deferral(file, 30, "still wanted");
    {
        auto log = dc::make_sqlite_inbox(file);
        auto now = unix_now();
        log->accept(id_of(31), user, "{not json", now);
        log->accept(id_of(32), user, R"({"v":2,"something":"else"})", now);
        log->accept(id_of(33), user, R"({"v":1,"application_id":"1","user_id":"2"})", now);
    }
    fake_turn_service core;
    world w(core, dc::make_sqlite_inbox(file));
    REQUIRE(w.inbox->unanswered().size() == 4);
    log_capture logs;
    run_test(w.ioc, [&]() -> awaitable<void> {
        CHECK(w.adapter->resume(unix_now()) == 1);
        bool patched = co_await eventually([&] { return w.api.count() >= 1; });
        CHECK(patched);
        co_await w.settle();
    });
    CHECK(logs.count("discord.inbox_bad_record") == 3);
    REQUIRE(core.turns() == 1);
    CHECK(core.seen()[0].text == "still wanted");
    CHECK(core.seen()[0].platform_message_id == std::to_string(id_of(30)));
    auto calls = w.api.calls();
    REQUIRE(calls.size() == 1);
    CHECK(calls[0].path == patch_path(30));
    CHECK(w.inbox->unanswered().empty());
    CHECK(logs.lines.find("still wanted") == std::string::npos);
}

TEST_CASE("discord inbox: forget me deletes the user's records", "[discord][inbox][privacy]") {
    fake_turn_service core;
    core.slash_forget_forgets = true;
    world w(core, bot::make_memory_message_log(100));
    auto now = unix_now();
    w.inbox->accept(id_of(40), user, R"({"v":1})", now);
    w.inbox->accept(id_of(41), user, R"({"v":1})", now);
    w.inbox->answered(id_of(41));
    w.inbox->accept(id_of(42), other_user, R"({"v":1})", now);
    run_test(w.ioc, [&]() -> awaitable<void> {
        // /forget, answered inline: the user's records go, the other user's stay.
        auto gone = co_await w.send(reflect(43, "", user, "forget"));
        CHECK(gone["type"] == 4);
        co_await w.settle();
        CHECK(pending_of(*w.inbox, user) == 0);
        CHECK(pending_of(*w.inbox, other_user) == 1);
        CHECK(w.inbox->size() == 1);

        // /forget, deferred: its own record stays until its follow-up is sent, then goes.
        w.inbox->accept(id_of(44), other_user, R"({"v":1})", now);
        core.hold = true;
        auto deferred = co_await w.send(reflect(45, "", other_user, "forget"));
        CHECK(deferred["type"] == 5);
        CHECK(pending_of(*w.inbox, other_user) == 3);
        core.hold = false;
        bool patched = co_await eventually([&] { return w.api.count() >= 1; });
        CHECK(patched);
        co_await w.settle();
        CHECK(w.inbox->size() == 0);
    });

    // Forgotten from a linked chat elsewhere (the core tells the channel's sink).
    w.inbox->accept(id_of(46), user, R"({"v":1})", now);
    w.adapter->proactive_sink()->forgotten(bot::conversation_ref{"discord", user, user});
    CHECK(w.inbox->size() == 0);
}

TEST_CASE("discord inbox: a store failure while recording still defers and follows up, logged "
          "once",
          "[discord][inbox][faults]") {
    fake_turn_service core;
    core.delay = 100ms;
    auto log = std::make_shared<failing_log>();
    world w(core, log);
    log_capture logs;
    run_test(w.ioc, [&]() -> awaitable<void> {
        auto a = co_await w.send(reflect(50, "one"));
        CHECK(a["type"] == 5);
        auto b = co_await w.send(reflect(51, "two"));
        CHECK(b["type"] == 5);
        bool both = co_await eventually([&] { return w.api.count() >= 2; });
        CHECK(both);
        co_await w.settle();
        CHECK(log->unanswered().empty());

        log->failing = false; // the disk has room again
        core.hold = true;
        auto c = co_await w.send(reflect(52, "three"));
        CHECK(c["type"] == 5);
        CHECK(log->unanswered().size() == 1);
        core.hold = false;
        bool third = co_await eventually([&] { return w.api.count() >= 3; });
        CHECK(third);
        co_await w.settle();
    });
    auto calls = w.api.calls();
    REQUIRE(calls.size() == 3);
    for (const auto& c : calls)
        CHECK(c.method == "PATCH");
    CHECK(logs.count("discord.inbox_failed") == 1);
    CHECK(logs.count("discord.inbox_recovered") == 1);
    CHECK(w.stats->test_event_count("discord", "inbox_failed") == 2);
    CHECK(log->unanswered().empty());
}

TEST_CASE("discord inbox: a file that cannot be opened is a store error", "[discord][inbox]") {
    temp_dir dir;
    auto blocker = dir.path() / "not-a-folder";
    { std::ofstream(blocker.string()) << "x"; }
    CHECK_THROWS_AS(dc::make_sqlite_inbox((blocker / "inbox.sqlite").string()), bot::store_error);
}
