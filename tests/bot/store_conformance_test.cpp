// One contract, every conversation store: memory, SQLite and Redis run the same tests.
// Redis tests start their own redis-server (tests/support/redis_server.hpp); a machine
// without it fails them.
#include "../support/redis_server.hpp"
#include "../support/test_support.hpp"
#include "../support/threads.hpp"

#include "bot/conversation_store.hpp"
#include "bot/turn_processor.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

using namespace tandem;
using tandem::test::on_threads;

namespace {

// Each backend: open() gives a new store over the same data, as a second process (another
// instance of tandem) would open it; restart() makes the data go through a restart.
struct memory_backend {
    static constexpr bool durable = false;
    static constexpr const char* name = "memory";
    std::shared_ptr<bot::conversation_store> shared = bot::make_memory_store();
    // Memory cannot be shared between processes: the "second instance" is the same store.
    std::shared_ptr<bot::conversation_store> open() { return shared; }
    void restart() {}
};

struct sqlite_backend {
    static constexpr bool durable = true;
    static constexpr const char* name = "sqlite";
    test::temp_dir dir;
    std::shared_ptr<bot::conversation_store> open() {
        return bot::make_sqlite_store((dir.path() / "state.sqlite").string());
    }
    void restart() {}
};

struct redis_backend {
    static constexpr bool durable = true;
    static constexpr const char* name = "redis";
    test::redis_server server{true};
    std::shared_ptr<bot::conversation_store> open() {
        return bot::make_redis_store(server.options("conformance:"));
    }
    void restart() {
        server.stop();
        server.start();
    }
};

} // namespace

TEMPLATE_TEST_CASE("store conformance: load, save, erase, expiry and size", "[store]",
                   memory_backend, sqlite_backend, redis_backend) {
    TestType backend;
    auto sp = backend.open();
    auto& s = *sp;
    CHECK_FALSE(s.load("a").has_value());
    CHECK(s.size() == 0);
    s.save("a", R"({"x":1})", 100);
    s.save("b", R"({"x":2})", 200);
    CHECK(s.load("a").value() == R"({"x":1})");
    s.save("a", R"({"x":3})", 300);
    CHECK(s.load("a").value() == R"({"x":3})");
    CHECK(s.size() == 2);
    CHECK(s.erase_idle_before(250) == 1); // b (200) goes, a (300) stays
    CHECK_FALSE(s.load("b").has_value());
    CHECK(s.erase_idle_before(300) == 0); // strictly before
    CHECK(s.erase("a"));
    CHECK_FALSE(s.erase("a"));
    CHECK(s.size() == 0);
    std::string weird = "telegram:\xD7\xA9'\"; DROP TABLE conversations; -- \r\n*1\r\n";
    s.save(weird, "{}", 1);
    CHECK(s.load(weird).value() == "{}");
    std::string big(300'000, 'x');
    s.save("big", big, 5);
    CHECK(s.load("big").value() == big);
    CHECK(s.healthy());
}

TEMPLATE_TEST_CASE("store conformance: the idle sweep deletes many conversations", "[store]",
                   memory_backend, sqlite_backend, redis_backend) {
    TestType backend;
    auto s = backend.open();
    for (int i = 0; i < 1200; ++i)
        s->save("k" + std::to_string(i), "{}", i % 2 == 0 ? 10 : 1000);
    CHECK(s->erase_idle_before(500) == 600);
    CHECK(s->size() == 600);
    CHECK_FALSE(s->load("k0").has_value());
    CHECK(s->load("k1").has_value());
}

TEMPLATE_TEST_CASE("store conformance: versions and compare-and-set", "[store]", memory_backend,
                   sqlite_backend, redis_backend) {
    TestType backend;
    auto s = backend.open();
    CHECK_FALSE(s->load_versioned("c").has_value());
    auto v1 = s->save_if("c", "one", 10, 0);
    REQUIRE(v1.has_value());
    CHECK(*v1 >= 1);
    // Someone else created it first: a second "create" conflicts and writes nothing.
    CHECK_FALSE(s->save_if("c", "other", 10, 0).has_value());
    auto got = s->load_versioned("c");
    REQUIRE(got.has_value());
    CHECK(got->json == "one");
    CHECK(got->version == *v1);
    auto v2 = s->save_if("c", "two", 11, *v1);
    REQUIRE(v2.has_value());
    CHECK(*v2 > *v1);
    // A writer that read version 1 is too late now.
    CHECK_FALSE(s->save_if("c", "stale", 12, *v1).has_value());
    CHECK(s->load("c").value() == "two");
    // A plain save moves the version on too.
    s->save("c", "three", 13);
    auto after = s->load_versioned("c");
    REQUIRE(after.has_value());
    CHECK(after->version > *v2);
    CHECK_FALSE(s->save_if("c", "stale", 14, *v2).has_value());
    // Erased: the next writer must expect nothing stored.
    CHECK(s->erase("c"));
    CHECK_FALSE(s->save_if("c", "stale", 15, after->version).has_value());
    CHECK_FALSE(s->load("c").has_value());
    CHECK(s->save_if("c", "fresh", 16, 0).has_value());
    CHECK(s->load("c").value() == "fresh");
    // A conflicting save_if does not refresh last activity either.
    CHECK_FALSE(s->save_if("c", "x", 1'000'000, 0).has_value());
    CHECK(s->erase_idle_before(17) == 1);
}

TEMPLATE_TEST_CASE("store conformance: a second instance sees every committed write", "[store]",
                   memory_backend, sqlite_backend, redis_backend) {
    TestType backend;
    auto a = backend.open();
    auto b = backend.open();
    auto v = a->save_if("k", "from a", 1, 0);
    REQUIRE(v.has_value());
    auto seen = b->load_versioned("k");
    REQUIRE(seen.has_value());
    CHECK(seen->json == "from a");
    CHECK(seen->version == *v);
    CHECK(b->save_if("k", "from b", 2, *v).has_value());
    CHECK_FALSE(a->save_if("k", "a again, stale", 3, *v).has_value());
    CHECK(a->load("k").value() == "from b");
    CHECK(b->erase("k"));
    CHECK_FALSE(a->load("k").has_value());
}

TEMPLATE_TEST_CASE("store conformance: what was saved survives a restart", "[store]",
                   sqlite_backend, redis_backend) {
    TestType backend;
    std::uint64_t version = 0;
    {
        auto s = backend.open();
        s->save("console:local", R"({"kept":true})", 42);
        version = s->load_versioned("console:local").value().version;
        s->save("gone", "{}", 42);
        CHECK(s->erase("gone"));
    }
    backend.restart();
    auto s = backend.open();
    auto got = s->load_versioned("console:local");
    REQUIRE(got.has_value());
    CHECK(got->json == R"({"kept":true})");
    CHECK(got->version == version);
    CHECK_FALSE(s->load("gone").has_value());
    CHECK(s->size() == 1);
    CHECK(s->erase_idle_before(43) == 1);
}

// The proof of no lost update: two store instances (two processes of tandem) and several
// threads each run many "turns" on the same few conversations at once. A turn is what
// turn_processor does: load with the version, step (here: append the turn's id to a list),
// save_if, and run again on a conflict. At the end, every conversation holds every one of
// its turns exactly once, and each instance's turns in the order it ran them.
TEMPLATE_TEST_CASE("store conformance: concurrent turns from two instances lose nothing",
                   "[store][concurrency]", memory_backend, sqlite_backend, redis_backend) {
    TestType backend;
    std::vector<std::shared_ptr<bot::conversation_store>> instances{backend.open(), backend.open()};
    constexpr int threads_per_instance = 3, conversations = 4, turns = 25;
    constexpr int threads = 2 * threads_per_instance;
    std::atomic<int> failures{0}, conflicts{0};
    on_threads(threads, [&](int t) {
        auto& s = *instances[static_cast<std::size_t>(t % 2)];
        for (int n = 0; n < turns; ++n)
            for (int c = 0; c < conversations; ++c) {
                std::string key = "test:c" + std::to_string(c);
                std::string turn_id = std::to_string(t) + "/" + std::to_string(n);
                for (int attempt = 0;; ++attempt) {
                    if (attempt > 10'000) {
                        ++failures;
                        break;
                    }
                    auto cur = s.load_versioned(key);
                    nlohmann::json list =
                        cur ? nlohmann::json::parse(cur->json) : nlohmann::json::array();
                    list.push_back(turn_id);
                    if (s.save_if(key, list.dump(), n, cur ? cur->version : 0))
                        break;
                    ++conflicts;
                }
            }
    });
    CHECK(failures == 0);
    INFO("conflicts resolved by running the turn again: " << conflicts.load());
    auto check = backend.open();
    for (int c = 0; c < conversations; ++c) {
        nlohmann::json list =
            nlohmann::json::parse(check->load("test:c" + std::to_string(c)).value());
        REQUIRE(list.size() == static_cast<std::size_t>(threads * turns));
        std::map<int, int> next; // thread -> the next turn expected from it
        for (const auto& id : list) {
            auto s = id.get<std::string>();
            int t = std::stoi(s.substr(0, s.find('/')));
            int n = std::stoi(s.substr(s.find('/') + 1));
            CHECK(n == next[t]); // each turn once, a thread's turns in order
            next[t] = n + 1;
        }
        for (int t = 0; t < threads; ++t)
            CHECK(next[t] == turns);
    }
}

TEST_CASE("store conformance: redis down is a store_error, and the store recovers",
          "[store][faults]") {
    test::redis_server server;
    auto s = bot::make_redis_store(server.options("down:"));
    s->save("k", "before", 1);
    CHECK(s->healthy());
    server.kill();
    CHECK_FALSE(s->healthy());
    CHECK_THROWS_AS(s->load("k"), bot::store_error);
    CHECK_THROWS_AS(s->save("k", "lost?", 2), bot::store_error);
    CHECK_THROWS_AS(s->save_if("k", "lost?", 2, 1), bot::store_error);
    CHECK_THROWS_AS(s->size(), bot::store_error);
    server.start(); // empty: that server kept nothing on disk
    CHECK(s->healthy());
    CHECK_FALSE(s->load("k").has_value());
    s->save("k", "after", 3);
    CHECK(s->load("k").value() == "after");
}

TEST_CASE("store conformance: nothing listens there is a clear store_error", "[store][faults]") {
    bot::redis_options o;
    test::temp_dir dir;
    o.unix_socket = (dir.path() / "nobody.sock").string();
    auto s = bot::make_redis_store(o);
    try {
        s->load("k");
        FAIL("load succeeded without a server");
    } catch (const bot::store_error& e) {
        CHECK_THAT(e.what(),
                   Catch::Contains("cannot connect to redis at") && Catch::Contains("nobody.sock"));
    }
    CHECK_FALSE(s->healthy());
}

namespace {

// Another instance gets its turn in just before this one saves: the store is wrapped so
// that the first save_if first runs `meanwhile` (a turn on a second instance).
class racing_store final : public bot::conversation_store {
  public:
    racing_store(std::shared_ptr<bot::conversation_store> inner, std::function<void()> meanwhile)
        : inner_(std::move(inner)), meanwhile_(std::move(meanwhile)) {}
    std::optional<std::string> load(const std::string& k) override { return inner_->load(k); }
    std::optional<versioned> load_versioned(const std::string& k) override {
        return inner_->load_versioned(k);
    }
    void save(const std::string& k, const std::string& v, std::int64_t t) override {
        inner_->save(k, v, t);
    }
    std::optional<std::uint64_t> save_if(const std::string& k, const std::string& v, std::int64_t t,
                                         std::uint64_t expected) override {
        if (!raced_) {
            raced_ = true;
            meanwhile_();
        }
        ++save_ifs;
        return inner_->save_if(k, v, t, expected);
    }
    bool erase(const std::string& k) override { return inner_->erase(k); }
    std::size_t erase_idle_before(std::int64_t c) override { return inner_->erase_idle_before(c); }
    std::size_t size() override { return inner_->size(); }
    int save_ifs = 0;

  private:
    std::shared_ptr<bot::conversation_store> inner_;
    std::function<void()> meanwhile_;
    bool raced_ = false;
};

bot::inbound_message message(const std::string& text) {
    bot::inbound_message m;
    m.channel = "test";
    m.conversation_id = "raced";
    m.text = text;
    return m;
}

} // namespace

TEMPLATE_TEST_CASE("store conformance: a turn that lost the race runs again on the winner's "
                   "state",
                   "[store][concurrency]", memory_backend, sqlite_backend, redis_backend) {
    TestType backend;
    auto content = test::load_ok(test::fixture_paths());
    bot::config cfg;
    auto other_store = backend.open();
    bot::turn_processor other(content, other_store, cfg.conversation);
    bot::turn_result other_result;
    auto racing = std::make_shared<racing_store>(backend.open(), [&] {
        // The other instance takes "i need some space" first: the smothered dialog opens.
        other_result = other.run(message("i need some space"), 1000);
    });
    bot::turn_processor mine(content, racing, cfg.conversation);
    // Run alone, "a partner" would not be an answer to anything; after the other turn it
    // answers the dialog's question "who?".
    auto r = mine.run(message("a partner"), 1001);
    CHECK_FALSE(other_result.error);
    CHECK(other_result.node == "who");
    CHECK_FALSE(r.error);
    CHECK(r.node == "use");
    CHECK(racing->save_ifs == 2); // refused once, then saved
    auto stored = other_store->load_versioned("test:raced");
    REQUIRE(stored.has_value());
    auto state = nlohmann::json::parse(stored->json);
    CHECK(state["stack"].back()["node"] == "use");
}

TEMPLATE_TEST_CASE("store conformance: the same message on two instances at once is applied "
                   "once, the loser of the race gets the winner's reply",
                   "[store][concurrency]", memory_backend, sqlite_backend, redis_backend) {
    TestType backend;
    auto content = test::load_ok(test::fixture_paths());
    bot::config cfg;
    auto other_store = backend.open();
    bot::turn_processor other(content, other_store, cfg.conversation);
    auto first = message("i need some space");
    first.platform_message_id = "41";
    bot::turn_processor setup(content, other_store, cfg.conversation);
    REQUIRE_FALSE(setup.run(first, 1000).error);
    // Update 42 is delivered twice (a lapsed claim, a retried webhook): the other instance
    // commits it while this one is between its load and its save.
    auto again = message("a partner");
    again.platform_message_id = "42";
    bot::turn_result other_result;
    auto racing = std::make_shared<racing_store>(backend.open(),
                                                 [&] { other_result = other.run(again, 1001); });
    bot::turn_processor mine(content, racing, cfg.conversation);
    auto r = mine.run(again, 1001);
    CHECK_FALSE(other_result.error);
    CHECK_FALSE(other_result.replayed);
    CHECK(other_result.node == "use");
    CHECK_FALSE(r.error);
    // Refused once; the second attempt finds 42 answered and replays instead of saving.
    CHECK(racing->save_ifs == 1);
    CHECK(r.replayed);
    CHECK(r.reply.texts == other_result.reply.texts);
    auto stored = other_store->load_versioned("test:raced");
    REQUIRE(stored.has_value());
    auto state = nlohmann::json::parse(stored->json);
    CHECK(state["stack"].back()["node"] == "use"); // not moved on by a second "a partner"
    CHECK(state["answered_ids"] == nlohmann::json({"41", "42"}));
}

TEST_CASE("redis client: a script the server forgot (restart, SCRIPT FLUSH) is loaded again and "
          "runs once",
          "[store][redis]") {
    test::redis_server server;
    bot::redis::client db(server.options("scripts:"));
    // Counts its runs in a key, so a run twice shows.
    constexpr const char* incr = "return redis.call('INCR', KEYS[1])";
    CHECK(db.eval(incr, {"scripts:n"}, {}, false).integer == 1);
    CHECK(db.eval(incr, {"scripts:n"}, {}, false).integer == 2);
    // A script passed as a std::string with the same text is the same script.
    CHECK(db.eval(std::string(incr), {"scripts:n"}, {}, false).integer == 3);
    CHECK(db.command({"SCRIPT", "FLUSH"}, true).str == "OK");
    // NOSCRIPT: the script did not run; it is loaded again and runs exactly once.
    CHECK(db.eval(incr, {"scripts:n"}, {}, false).integer == 4);
    CHECK(db.command({"GET", "scripts:n"}, true).str == "4");
    // A script Redis refuses is an error, not a retry loop.
    CHECK_THROWS_AS(db.eval("return redis.call('NOSUCHCOMMAND')", {}, {}, true), bot::store_error);
}
