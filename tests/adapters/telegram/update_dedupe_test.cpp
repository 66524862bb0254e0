// The update_id log that keeps a redelivered Telegram update from being answered twice.
#include "../../support/redis_server.hpp"
#include "adapters/telegram/update_dedupe.hpp"
#include "bot/conversation_store.hpp"
#include "test_support.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <sqlite3.h>

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
    CHECK(left[0].update_id == 11); // oldest first
    CHECK(left[0].payload == R"({"update_id":11})");
    CHECK(left[1].update_id == 12);
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
        CHECK(left[0].update_id == 3);
        CHECK(d->accept(3, "7", "{}", 1001) == tg::update_status::pending);
        d->answered(3);
        CHECK(d->forget("7") == 1);
        CHECK(d->size() == 0);
    }
}
