// The update_id log that keeps a redelivered Telegram update from being answered twice.
#include "../../support/redis_server.hpp"
#include "../../support/sqlite_check.hpp"
#include "adapters/telegram/update_dedupe.hpp"
#include "bot/conversation_store.hpp"
#include "test_support.hpp"

#include <boost/asio/detached.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <thread>
#include <vector>

#include <sqlite3.h>
#include <sys/stat.h>

using namespace tandem::test;
namespace tg = tandem::adapters::telegram;

TEST_CASE("update_dedupe: memory remembers the last window of ids", "[telegram]") {
    auto d = tg::make_memory_dedupe(3);
    CHECK(d->first_time(1, 0));
    CHECK_FALSE(d->first_time(1, 0));
    CHECK(d->first_time(2, 0));
    CHECK(d->first_time(3, 0));
    CHECK(d->first_time(4, 0)); // 1 falls out of the window
    CHECK(d->size() == 3);
    CHECK(d->first_time(1, 0));
    CHECK_FALSE(d->first_time(4, 0));
}

TEST_CASE("update_dedupe: SQLite survives reopening and prunes old ids", "[telegram]") {
    temp_dir tmp;
    auto file = (tmp.path() / "tandem.sqlite").string();
    {
        auto d = tg::make_sqlite_dedupe(file, 100);
        CHECK(d->first_time(918273640, 1000));
        CHECK_FALSE(d->first_time(918273640, 1001));
        CHECK(d->first_time(-5, 1000)); // ids are just numbers
    }
    auto reopened = tg::make_sqlite_dedupe(file, 100);
    CHECK_FALSE(reopened->first_time(918273640, 1002));
    CHECK(reopened->size() == 2);
    // Ids older than the retention go, a few hundred inserts later.
    for (int i = 0; i < 300; ++i)
        CHECK(reopened->first_time(1'000'000 + i, 5000));
    CHECK(reopened->size() == 300);
    CHECK(reopened->first_time(918273640, 5000));
}

TEST_CASE("update_dedupe: an unusable file is a store_error at open", "[telegram]") {
    temp_dir tmp;
    auto dir_not_file = tmp.str();
    CHECK_THROWS_AS(tg::make_sqlite_dedupe(dir_not_file), tandem::bot::store_error);
}

namespace {
// The same contract for every update log: a repeat is caught, forgetting a conversation
// removes its records (and only its), other conversations keep theirs.
void dedupe_contract(tg::update_dedupe& d) {
    CHECK(d.first_time(101, "7", 1000));
    CHECK(d.first_time(102, "7", 1000));
    CHECK(d.first_time(201, "8", 1000));
    CHECK(d.first_time(301, "", 1000)); // an update of no chat
    CHECK_FALSE(d.first_time(101, "7", 1001));
    CHECK_FALSE(d.first_time(201, "8", 1001));
    CHECK(d.size() == 4);
    CHECK(d.forget("7") == 2);
    CHECK(d.size() == 2);
    CHECK(d.forget("7") == 0);
    // Forgotten: nothing says chat 7 ever wrote, so its ids count as new.
    CHECK(d.first_time(101, "7", 1002));
    CHECK_FALSE(d.first_time(201, "8", 1002));
    CHECK_FALSE(d.first_time(301, "", 1002));
    CHECK(d.forget("9") == 0);
}
} // namespace

TEST_CASE("update_dedupe: memory, SQLite and Redis keep the same contract", "[telegram][store]") {
    SECTION("memory") {
        auto d = tg::make_memory_dedupe(100);
        dedupe_contract(*d);
    }
    SECTION("sqlite") {
        temp_dir tmp;
        auto d = tg::make_sqlite_dedupe((tmp.path() / "tandem.sqlite").string());
        dedupe_contract(*d);
    }
    SECTION("redis") {
        redis_server server;
        auto d = tg::make_redis_dedupe(server.options("dd:"));
        dedupe_contract(*d);
    }
}

TEST_CASE("update_dedupe: SQLite forgets a conversation's records across reopening",
          "[telegram][store]") {
    temp_dir tmp;
    auto file = (tmp.path() / "tandem.sqlite").string();
    {
        auto d = tg::make_sqlite_dedupe(file);
        CHECK(d->first_time(5, "42", 10));
        CHECK(d->first_time(6, "43", 10));
    }
    auto d = tg::make_sqlite_dedupe(file);
    CHECK(d->forget("42") == 1);
    CHECK(d->size() == 1);
}

TEST_CASE("update_dedupe: Redis is shared by instances, survives a restart, expires ids",
          "[telegram][store]") {
    redis_server server(true);
    auto a = tg::make_redis_dedupe(server.options("dd:"), 1);
    auto b = tg::make_redis_dedupe(server.options("dd:"));
    CHECK(a->first_time(1, "5", 0));
    CHECK_FALSE(b->first_time(1, "5", 0)); // the other instance sees it
    CHECK(b->first_time(2, "5", 0));
    server.stop();
    CHECK_THROWS_AS(b->first_time(3, "5", 0), tandem::bot::store_error);
    server.start();
    CHECK_FALSE(b->first_time(2, "5", 0)); // kept on disk
    // Ids a records with a retention of 1 s expire (Redis does it; polled, bounded).
    bool expired = false;
    for (int i = 0; i < 600 && !expired; ++i) {
        expired = b->first_time(1, "5", 0);
        if (!expired)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    CHECK(expired);
    CHECK(b->forget("5") >= 1);
    // Two instances racing for the same updates: each id is first exactly once.
    std::atomic<int> firsts{0}, errors{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; ++t)
        ts.emplace_back([&, t] {
            auto& d = t % 2 ? *a : *b;
            for (int id = 1000; id < 1200; ++id)
                try {
                    if (d.first_time(id, "9", 0))
                        ++firsts;
                } catch (const tandem::bot::store_error&) {
                    ++errors;
                }
        });
    for (auto& t : ts)
        t.join();
    CHECK(errors == 0);
    CHECK(firsts == 200);
}

TEST_CASE("update_dedupe: an SQLite log from before conversations opens and keeps its ids",
          "[telegram][store]") {
    temp_dir tmp;
    auto file = (tmp.path() / "tandem.sqlite").string();
    {
        sqlite3* db = nullptr;
        REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK);
        const char* sql = "CREATE TABLE telegram_updates (update_id INTEGER PRIMARY KEY,"
                          " seen_at INTEGER NOT NULL);"
                          "INSERT INTO telegram_updates VALUES (42, 1000);";
        REQUIRE(sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK);
        sqlite3_close(db);
    }
    auto d = tg::make_sqlite_dedupe(file);
    CHECK_FALSE(d->first_time(42, "7", 1001)); // still remembered
    CHECK(d->first_time(43, "7", 1001));
    CHECK(d->forget("7") == 1); // the old record knows no conversation; the new one goes
    CHECK(d->size() == 1);
}

TEST_CASE("update_dedupe: the inbox keeps unanswered updates across reopening", "[telegram]") {
    temp_dir tmp;
    auto file = (tmp.path() / "tandem.sqlite").string();
    {
        auto d = tg::make_sqlite_dedupe(file, 100);
        CHECK(d->accept(10, R"({"update_id":10})", 1000) == tg::update_status::fresh);
        CHECK(d->accept(11, R"({"update_id":11})", 1000) == tg::update_status::fresh);
        CHECK(d->accept(10, R"({"update_id":10})", 1001) == tg::update_status::pending);
        d->answered(10);
        CHECK(d->accept(10, R"({"update_id":10})", 1002) == tg::update_status::answered);
        CHECK(d->accept(12, R"({"update_id":12})", 1000) == tg::update_status::fresh);
    } // the process dies here with 11 and 12 acknowledged but not answered
    auto reopened = tg::make_sqlite_dedupe(file, 100);
    auto left = reopened->unanswered();
    REQUIRE(left.size() == 2);
    CHECK(left[0].id == 11); // oldest first
    CHECK(left[0].payload == R"({"update_id":11})");
    CHECK(left[1].id == 12);
    reopened->answered(11);
    reopened->answered(12);
    CHECK(reopened->unanswered().empty());
    CHECK(reopened->accept(11, "{}", 1003) == tg::update_status::answered);
}

TEST_CASE("update_dedupe: memory inbox answers the same questions", "[telegram]") {
    auto d = tg::make_memory_dedupe(8);
    CHECK(d->accept(1, "a", 0) == tg::update_status::fresh);
    CHECK(d->accept(1, "a", 0) == tg::update_status::pending);
    REQUIRE(d->unanswered().size() == 1);
    CHECK(d->unanswered()[0].payload == "a");
    d->answered(1);
    CHECK(d->accept(1, "a", 0) == tg::update_status::answered);
    CHECK(d->unanswered().empty());
}

TEST_CASE("update_dedupe: a file from before the inbox is upgraded in place", "[telegram]") {
    temp_dir tmp;
    auto file = (tmp.path() / "tandem.sqlite").string();
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db,
                         "CREATE TABLE telegram_updates (update_id INTEGER PRIMARY KEY, seen_at "
                         "INTEGER NOT NULL); INSERT INTO telegram_updates VALUES (5, 1000);",
                         nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
    auto d = tg::make_sqlite_dedupe(file, 100);
    CHECK(d->accept(5, "{}", 1001) == tg::update_status::answered); // old rows were answered
    CHECK(d->unanswered().empty());
    CHECK(d->accept(6, "{}", 1001) == tg::update_status::fresh);
}

TEST_CASE("update_dedupe: a full file is a store_error, and room again works", "[telegram]") {
    temp_dir tmp;
    auto file = (tmp.path() / "tandem.sqlite").string();
    auto d = tg::make_sqlite_dedupe(file, 1'000'000, 64 * 1024);
    std::string payload(2000, 'x');
    bool full = false;
    std::int64_t id = 0;
    for (; id < 1000 && !full; ++id) {
        try {
            d->accept(id, payload, 1000);
        } catch (const tandem::bot::store_error&) {
            full = true;
        }
    }
    REQUIRE(full);
    auto failed = id - 1;
    // Answering drops payloads, which frees room for new updates.
    for (std::int64_t i = 0; i < failed; ++i)
        d->answered(i);
    CHECK(d->accept(failed, payload, 1000) == tg::update_status::fresh);
}

TEST_CASE("update_dedupe: forgetting a conversation keeps an inbox update not yet answered",
          "[telegram][privacy]") {
    temp_dir tmp;
    auto sqlite = tg::make_sqlite_dedupe((tmp.path() / "tandem.sqlite").string());
    auto memory = tg::make_memory_dedupe(16);
    for (auto* d : {sqlite.get(), memory.get()}) {
        CHECK(d->accept(1, "7", R"({"update_id":1})", 1000) == tg::update_status::fresh);
        d->answered(1);
        // 2 ("forget me") and 3 (written just after) are acknowledged, not yet answered.
        CHECK(d->accept(2, "7", R"({"update_id":2})", 1000) == tg::update_status::fresh);
        CHECK(d->accept(3, "7", R"({"update_id":3})", 1000) == tg::update_status::fresh);
        d->answered(2);
        CHECK(d->forget("7") == 2); // 1 and 2
        auto left = d->unanswered();
        REQUIRE(left.size() == 1); // 3 is still answered after a crash
        CHECK(left[0].id == 3);
        CHECK(d->accept(3, "7", "{}", 1001) == tg::update_status::pending);
        d->answered(3);
        CHECK(d->forget("7") == 1);
        CHECK(d->size() == 0);
    }
}

namespace {
void exec_sql(const std::string& file, const std::string& sql) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    char* err = nullptr;
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    std::string msg = err ? err : "";
    sqlite3_free(err);
    sqlite3_close(db);
    INFO(sql << ": " << msg);
    REQUIRE(rc == SQLITE_OK);
}

bool has_log_table(const std::string& file) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK);
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(db,
                       "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = "
                       "'telegram_updates'",
                       -1, &s, nullptr);
    bool found = sqlite3_step(s) == SQLITE_ROW;
    sqlite3_finalize(s);
    sqlite3_close(db);
    return found;
}

mode_t mode_of(const std::string& file) {
    struct stat st {};
    REQUIRE(::stat(file.c_str(), &st) == 0);
    return st.st_mode & 0777;
}
} // namespace

TEST_CASE("update_dedupe: the log in the store's file moves to its own file, unanswered "
          "updates included, once",
          "[telegram][store]") {
    temp_dir tmp;
    auto store = (tmp.path() / "tandem.sqlite").string();
    auto log = (tmp.path() / "telegram-updates.sqlite").string();
    // What the last version left in the store's file: answered (payload NULL) and
    // acknowledged but unanswered records, next to the conversations.
    exec_sql(store, "PRAGMA journal_mode=WAL;"
                    "CREATE TABLE conversations (key TEXT PRIMARY KEY, state TEXT NOT NULL);"
                    "INSERT INTO conversations VALUES ('telegram:7', '{}');"
                    "CREATE TABLE telegram_updates (update_id INTEGER PRIMARY KEY, seen_at "
                    "INTEGER NOT NULL, payload TEXT, conversation TEXT NOT NULL DEFAULT '');"
                    "CREATE INDEX telegram_updates_conversation ON "
                    "telegram_updates(conversation);"
                    "INSERT INTO telegram_updates VALUES (1, 1000, NULL, '7');"
                    "INSERT INTO telegram_updates VALUES (2, 1000, '{\"update_id\":2}', '7');"
                    "INSERT INTO telegram_updates VALUES (3, 1000, '{\"update_id\":3}', '8');");
    {
        auto d = tg::make_sqlite_dedupe(log, 1'000'000, 0, store);
        CHECK_FALSE(has_log_table(store)); // gone from the store's file
        auto left = d->unanswered();
        REQUIRE(left.size() == 2);
        CHECK(left[0].id == 2);
        CHECK(left[0].payload == R"({"update_id":2})");
        CHECK(left[1].id == 3);
        CHECK(d->size() == 3);
        CHECK(d->accept(1, "7", "{}", 1001) == tg::update_status::answered);
        CHECK(d->accept(2, "7", "{}", 1001) == tg::update_status::pending);
        d->answered(2);
        CHECK(d->forget("7") == 2); // the moved records know their conversation
    }
    // The next start moves nothing again (and the conversations were left alone).
    auto again = tg::make_sqlite_dedupe(log, 1'000'000, 0, store);
    auto left = again->unanswered();
    REQUIRE(left.size() == 1);
    CHECK(left[0].id == 3);
    CHECK(again->size() == 1);
    exec_sql(store, "SELECT key FROM conversations WHERE key = 'telegram:7'");
}

TEST_CASE("update_dedupe: logs of older schemas move too, as answered records of no "
          "conversation",
          "[telegram][store]") {
    temp_dir tmp;
    auto store = (tmp.path() / "tandem.sqlite").string();
    auto log = (tmp.path() / "telegram-updates.sqlite").string();
    SECTION("from before the inbox (no payload, no conversation)") {
        exec_sql(store, "CREATE TABLE telegram_updates (update_id INTEGER PRIMARY KEY, seen_at "
                        "INTEGER NOT NULL); INSERT INTO telegram_updates VALUES (5, 1000);");
        auto d = tg::make_sqlite_dedupe(log, 1'000'000, 0, store);
        CHECK(d->unanswered().empty());
        CHECK(d->accept(5, "{}", 1001) == tg::update_status::answered);
        CHECK(d->forget("") == 1);
    }
    SECTION("from before conversations (a payload, no conversation)") {
        exec_sql(store, "CREATE TABLE telegram_updates (update_id INTEGER PRIMARY KEY, seen_at "
                        "INTEGER NOT NULL, payload TEXT);"
                        "INSERT INTO telegram_updates VALUES (5, 1000, NULL);"
                        "INSERT INTO telegram_updates VALUES (6, 1000, '{\"update_id\":6}');");
        auto d = tg::make_sqlite_dedupe(log, 1'000'000, 0, store);
        auto left = d->unanswered();
        REQUIRE(left.size() == 1);
        CHECK(left[0].id == 6);
        CHECK(d->accept(5, "{}", 1001) == tg::update_status::answered);
    }
    CHECK_FALSE(has_log_table(store));
}

TEST_CASE("update_dedupe: a move cut short after the copy doubles nothing on the next start",
          "[telegram][store]") {
    temp_dir tmp;
    auto store = (tmp.path() / "tandem.sqlite").string();
    auto log = (tmp.path() / "telegram-updates.sqlite").string();
    const char* old_log = "CREATE TABLE telegram_updates (update_id INTEGER PRIMARY KEY, seen_at "
                          "INTEGER NOT NULL, payload TEXT, conversation TEXT NOT NULL DEFAULT "
                          "'');"
                          "INSERT INTO telegram_updates VALUES (2, 1000, '{\"update_id\":2}', "
                          "'7');";
    exec_sql(store, old_log);
    {
        auto d = tg::make_sqlite_dedupe(log, 1'000'000, 0, store);
        REQUIRE(d->unanswered().size() == 1);
    }
    // The process died after the copy, before the old table was dropped: it is back.
    exec_sql(store, old_log);
    auto d = tg::make_sqlite_dedupe(log, 1'000'000, 0, store);
    auto left = d->unanswered();
    REQUIRE(left.size() == 1); // replayed exactly once
    CHECK(left[0].id == 2);
    CHECK(d->size() == 1);
    CHECK_FALSE(has_log_table(store));
}

TEST_CASE("update_dedupe: the SQLite log's file is owner-only, also one made readable by others",
          "[telegram][privacy]") {
    temp_dir tmp;
    auto log = (tmp.path() / "data" / "telegram-updates.sqlite").string();
    auto old_mask = ::umask(022);
    {
        auto d = tg::make_sqlite_dedupe(log);
        CHECK(d->accept(1, "7", "{}", 1000) == tg::update_status::fresh);
        CHECK(mode_of((tmp.path() / "data").string()) == 0700);
        CHECK(mode_of(log) == 0600);
        for (const auto& side : {log + "-wal", log + "-shm"})
            if (std::filesystem::exists(side))
                CHECK((mode_of(side) & 077) == 0);
    }
    ::chmod(log.c_str(), 0644);
    auto d = tg::make_sqlite_dedupe(log);
    CHECK(mode_of(log) == 0600);
    ::umask(old_mask);
}

TEST_CASE("update_dedupe: awaited accepts are committed together, each told its own status",
          "[telegram][store]") {
    temp_dir tmp;
    auto log = (tmp.path() / "telegram-updates.sqlite").string();
    auto d = tg::make_sqlite_dedupe(log, 1'000'000);
    CHECK(d->accept(5, "1", "{}", 1000) == tg::update_status::fresh);
    d->answered(5);
    CHECK(d->accept(6, "1", "{}", 1000) == tg::update_status::fresh);
    net::io_context ioc;
    std::map<std::int64_t, std::vector<tg::update_status>> got;
    const std::string conversation = "1";
    const std::string payload = R"({"update_id":0})";
    int finished = 0;
    run_test(ioc, [&]() -> awaitable<void> {
        auto ex = co_await net::this_coro::executor;
        // Started together: they queue while the writer commits, then go in batches.
        for (std::int64_t id = 0; id < 40; ++id)
            for (int copy = 0; copy < (id % 10 == 0 ? 2 : 1); ++copy)
                net::co_spawn(
                    ex,
                    [&, id]() -> awaitable<void> {
                        auto s = co_await d->async_accept(id, conversation, payload, 1000);
                        got[id].push_back(s);
                        if (id % 2 == 1)
                            co_await d->async_answered(id);
                        ++finished;
                    },
                    net::detached);
        co_await eventually([&] { return finished == 44; });
    });
    REQUIRE(finished == 44);
    for (std::int64_t id = 0; id < 40; ++id) {
        INFO("update " << id);
        auto& s = got[id];
        if (id == 5)
            CHECK(s == std::vector{tg::update_status::answered});
        else if (id == 6)
            CHECK(s == std::vector{tg::update_status::pending});
        else if (id % 10 == 0) // a redelivery racing the first delivery: one is fresh
            CHECK(((s == std::vector{tg::update_status::fresh, tg::update_status::pending}) ||
                   (s == std::vector{tg::update_status::pending, tg::update_status::fresh})));
        else
            CHECK(s == std::vector{tg::update_status::fresh});
    }
    // Durable: another connection sees them all, answered or not as told.
    d.reset();
    auto reopened = tg::make_sqlite_dedupe(log, 1'000'000);
    CHECK(reopened->size() == 40);
    std::size_t unanswered = 0;
    for (const auto& p : reopened->unanswered()) {
        CHECK((p.id % 2 == 0 || p.id == 5 || p.id == 6));
        ++unanswered;
    }
    CHECK(unanswered == 20); // the even ids (but 5 was answered before, 6 is pending)
}

TEST_CASE("update_dedupe: an awaited accept does not hold up its thread while the file is "
          "locked",
          "[telegram][store]") {
    temp_dir tmp;
    auto log = (tmp.path() / "telegram-updates.sqlite").string();
    auto d = tg::make_sqlite_dedupe(log);
    // Another connection holds the write lock (as the store's group commit held it when the
    // log shared its file).
    sqlite3* other = nullptr;
    REQUIRE(sqlite3_open(log.c_str(), &other) == SQLITE_OK);
    REQUIRE(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
    net::io_context ioc;
    bool timer_ran_first = false, accepted = false;
    auto status = tg::update_status::answered;
    run_test(ioc, [&]() -> awaitable<void> {
        auto ex = co_await net::this_coro::executor;
        net::co_spawn(
            ex,
            [&]() -> awaitable<void> {
                status = co_await d->async_accept(1, "7", "{}", 1000);
                accepted = true;
            },
            net::detached);
        // This thread is free meanwhile: the timer fires while the accept waits for the
        // lock, and only then is the lock let go.
        co_await sleep_for(20ms);
        timer_ran_first = !accepted;
        sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr);
        co_await eventually([&] { return accepted; });
    });
    sqlite3_close(other);
    CHECK(timer_ran_first);
    CHECK(accepted);
    CHECK(status == tg::update_status::fresh);
}

TEST_CASE("update_dedupe: a batch that cannot be written fails every accept in it, and records "
          "none of them",
          "[telegram][store]") {
    temp_dir tmp;
    auto log = (tmp.path() / "telegram-updates.sqlite").string();
    auto d = tg::make_sqlite_dedupe(log, 1'000'000, 64 * 1024);
    net::io_context ioc;
    const std::string payload(3000, 'x');
    const std::string conversation = "7";
    std::map<std::int64_t, bool> ok; // id -> accepted (false: store_error)
    int finished = 0;
    run_test(ioc, [&]() -> awaitable<void> {
        auto ex = co_await net::this_coro::executor;
        // Far more than the cap holds, all at once.
        for (std::int64_t id = 0; id < 60; ++id)
            net::co_spawn(
                ex,
                [&, id]() -> awaitable<void> {
                    try {
                        co_await d->async_accept(id, conversation, payload, 1000);
                        ok[id] = true;
                    } catch (const tandem::bot::store_error&) {
                        ok[id] = false;
                    }
                    ++finished;
                },
                net::detached);
        co_await eventually([&] { return finished == 60; });
    });
    REQUIRE(finished == 60);
    std::size_t accepted = 0;
    for (auto& [id, yes] : ok)
        accepted += yes;
    CHECK(accepted < 60); // how many fit depends on how they were batched
    // Exactly the ones told "accepted" are recorded: nothing half-written.
    std::set<std::int64_t> recorded;
    for (const auto& p : d->unanswered())
        recorded.insert(p.id);
    CHECK(recorded.size() == accepted);
    for (auto id : recorded)
        CHECK(ok[id]);
}

TEST_CASE("update_dedupe: settle returns once every queued accept is committed, before any "
          "caller resumes",
          "[telegram][store]") {
    temp_dir tmp;
    auto d = tg::make_sqlite_dedupe((tmp.path() / "telegram-updates.sqlite").string());
    net::io_context ioc;
    const std::string conversation = "7";
    int fresh = 0;
    for (std::int64_t id = 1; id <= 10; ++id)
        net::co_spawn(
            ioc,
            [&, id]() -> awaitable<void> {
                if (co_await d->async_accept(id, conversation, "{}", 1000) ==
                    tg::update_status::fresh)
                    ++fresh;
            },
            net::detached);
    // Every call is queued with the writer now. (A batch the writer finishes while poll() is
    // still running may already resume its callers here, so how many did is not checked.)
    ioc.poll();
    d->settle();
    CHECK(d->size() == 10); // recorded, and the batch's transaction is over
    ioc.run();
    CHECK(fresh == 10);
}

TEST_CASE("update_dedupe: the log checkpoints on a thread of its own and loses no accept",
          "[telegram][store]") {
    // Enough batches of large payloads for several checkpoints (one per 1000 WAL pages),
    // accepted and half answered through the writer thread; then a fresh open finds exactly
    // the unanswered ones, the file is intact, and closing removed the WAL.
    temp_dir tmp;
    auto log = (tmp.path() / "telegram-updates.sqlite").string();
    const std::string conversation = "9";
    const std::string payload = R"({"update_id":0,"pad":")" + std::string(5000, 'p') + "\"}";
    constexpr std::int64_t updates = 1200;
    {
        auto d = tg::make_sqlite_dedupe(log, 1'000'000);
        net::io_context ioc;
        int fresh = 0, finished = 0;
        run_test(ioc, [&]() -> awaitable<void> {
            auto ex = co_await net::this_coro::executor;
            for (std::int64_t id = 1; id <= updates; ++id)
                net::co_spawn(
                    ex,
                    [&, id]() -> awaitable<void> {
                        if (co_await d->async_accept(id, conversation, payload, 1000) ==
                            tg::update_status::fresh)
                            ++fresh;
                        if (id % 2 == 0)
                            co_await d->async_answered(id);
                        ++finished;
                    },
                    net::detached);
            co_await eventually([&] { return finished == updates; }, 60s);
        });
        REQUIRE(finished == updates);
        CHECK(fresh == updates);
    }
    CHECK(!std::filesystem::exists(log + "-wal"));
    auto reopened = tg::make_sqlite_dedupe(log, 1'000'000);
    CHECK(reopened->size() == static_cast<std::size_t>(updates));
    auto left = reopened->unanswered();
    REQUIRE(left.size() == static_cast<std::size_t>(updates / 2));
    for (const auto& p : left) {
        CHECK(p.id % 2 == 1);
        CHECK(p.payload == payload);
    }
    CHECK(tandem::test::sqlite_integrity(log) == "ok");
}
