#include "../support/sqlite_check.hpp"
#include "../support/test_support.hpp"
#include "../support/threads.hpp"

#include "bot/checkins.hpp"
#include "bot/conversation_store.hpp"
#include "bot/private_file.hpp"

#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <sys/stat.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

using namespace tandem;
using tandem::test::on_threads;

// The contract every store keeps (memory, SQLite, Redis) is in store_conformance_test.cpp;
// what is particular to SQLite is here.

TEST_CASE("store: sqlite file and folder are owner-only", "[store][privacy]") {
    test::temp_dir tmp;
    auto dir = tmp.path() / "fresh";
    auto path = (dir / "state.sqlite").string();
    auto s = bot::make_sqlite_store(path);
    s->save("k", "{}", 1);
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    REQUIRE(::stat(dir.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);
}

TEST_CASE("private files: a file made by something else becomes owner-only, and a folder that "
          "cannot be made is named in the error",
          "[store][privacy]") {
    test::temp_dir tmp;
    auto path = tmp.path() / "copied.sqlite";
    {
        std::FILE* f = std::fopen(path.c_str(), "w");
        std::fclose(f);
    }
    REQUIRE(::chmod(path.c_str(), 0644) == 0);
    bot::create_private_file(path.string(), "the test file");
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);

    auto blocker = tmp.path() / "a_file";
    {
        std::FILE* f = std::fopen(blocker.c_str(), "w");
        std::fclose(f);
    }
    auto under = (blocker / "data" / "x.sqlite").string();
    try {
        bot::create_private_file(under, "the test file");
        FAIL("no error for a folder under a file");
    } catch (const bot::store_error& e) {
        std::string what = e.what();
        CHECK_THAT(what, Catch::Contains((blocker / "data").string()));
        CHECK_THAT(what, Catch::Contains("for the test file"));
    }
}

TEST_CASE("store: an unusable path is a clear error", "[store]") {
    CHECK_THROWS_AS(bot::make_sqlite_store("/proc/tandem/nope/state.sqlite"), bot::store_error);
    test::temp_dir tmp;
    auto garbage = tmp.path() / "garbage.sqlite";
    {
        std::FILE* f = std::fopen(garbage.c_str(), "w");
        std::fputs("this is not a database, just text that is long enough to look like a header",
                   f);
        std::fclose(f);
    }
    CHECK_THROWS_AS(bot::make_sqlite_store(garbage.string()), bot::store_error);
}

namespace {

void concurrent_saves(bot::conversation_store& s) {
    constexpr int threads = 8, rounds = 150;
    std::atomic<int> unseen{0}; // (Catch2 assertions are not thread-safe: count, check after)
    on_threads(threads, [&](int t) {
        for (int r = 0; r < rounds; ++r) {
            std::string key = "t" + std::to_string(t) + ":c" + std::to_string(r % 10);
            s.save(key, R"({"round":)" + std::to_string(r) + "}", r);
            // Durable and visible when save() returns: a load sees this round.
            if (s.load(key) != R"({"round":)" + std::to_string(r) + "}")
                ++unseen;
        }
    });
    CHECK(unseen == 0);
    CHECK(s.size() == threads * 10);
    for (int t = 0; t < threads; ++t)
        for (int c = 0; c < 10; ++c)
            CHECK(s.load("t" + std::to_string(t) + ":c" + std::to_string(c)).value() ==
                  R"({"round":)" + std::to_string(rounds - 10 + c) + "}");
}

} // namespace

TEST_CASE("store: saves from many threads at once all land, last write wins per key",
          "[store][concurrency]") {
    auto mem = bot::make_memory_store();
    concurrent_saves(*mem);
    test::temp_dir tmp;
    auto sql = bot::make_sqlite_store((tmp.path() / "state.sqlite").string());
    concurrent_saves(*sql);
    auto st = sql->stats();
    CHECK(st.writes == 8 * 150);
    CHECK(st.commits >= 1);
    CHECK(st.commits <= st.writes);
    // What was committed is in the file: a fresh connection sees all of it.
    auto again = bot::make_sqlite_store((tmp.path() / "state.sqlite").string());
    CHECK(again->size() == 80);
}

TEST_CASE("store: sqlite commits concurrent saves together (group commit)",
          "[store][concurrency]") {
    test::temp_dir tmp;
    // synchronous=FULL: each commit waits for an fsync, so saves pile up behind it.
    auto sql = bot::make_sqlite_store((tmp.path() / "state.sqlite").string(), true);
    on_threads(8, [&](int t) {
        for (int r = 0; r < 40; ++r)
            sql->save("k" + std::to_string(t), std::to_string(r), r);
    });
    auto st = sql->stats();
    INFO("writes " << st.writes << ", commits " << st.commits);
    CHECK(st.writes == 8 * 40);
    // Eight writers that each wait for their commit: batches of more than one save happen.
    CHECK(st.commits < st.writes);
}

TEST_CASE("store: a failed group commit rolls back its whole batch and every save in it throws",
          "[store][faults][concurrency]") {
    test::temp_dir tmp;
    auto path = (tmp.path() / "state.sqlite").string();
    auto s = bot::make_sqlite_store(path);
    for (int t = 0; t < 6; ++t)
        s->save("k" + std::to_string(t), "old", 1);
    // Fault injection from a second connection: any write of the state "poison" aborts the
    // transaction it is in.
    {
        sqlite3* db = nullptr;
        REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
        const char* sql =
            "CREATE TRIGGER poison_i BEFORE INSERT ON conversations WHEN NEW.state='poison' "
            "BEGIN SELECT RAISE(ABORT, 'injected fault'); END;"
            "CREATE TRIGGER poison_u BEFORE UPDATE ON conversations WHEN NEW.state='poison' "
            "BEGIN SELECT RAISE(ABORT, 'injected fault'); END;";
        REQUIRE(sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK);
        sqlite3_close(db);
    }
    std::vector<int> outcome(6, -1); // 1 = returned, 0 = threw store_error
    on_threads(6, [&](int t) {
        for (int r = 0; r < 30; ++r) {
            std::string key = "k" + std::to_string(t);
            std::string value = t == 0 && r % 3 == 0 ? "poison" : "v" + std::to_string(r);
            try {
                s->save(key, value, 2);
                if (value == "poison")
                    outcome[static_cast<std::size_t>(t)] = 2; // must never happen
                // What returned is committed.
                if (s->load(key).value() != value)
                    outcome[static_cast<std::size_t>(t)] = 3;
            } catch (const bot::store_error&) {
                // What threw left the previous value in place: never the failed one.
                if (s->load(key).value() == value)
                    outcome[static_cast<std::size_t>(t)] = 4;
            }
        }
        if (outcome[static_cast<std::size_t>(t)] == -1)
            outcome[static_cast<std::size_t>(t)] = 1;
    });
    CHECK(outcome == std::vector<int>(6, 1));
    CHECK(s->load("k0").value() != "poison");
}

TEST_CASE("store: the check-in store is owner-only and fails cleanly on a bad file",
          "[store][privacy]") {
    test::temp_dir tmp;
    auto path = (tmp.path() / "checkins.sqlite").string();
    auto c = bot::make_sqlite_checkin_store(path);
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    auto garbage = tmp.path() / "garbage.sqlite";
    {
        std::FILE* f = std::fopen(garbage.c_str(), "w");
        std::fputs("this is not a database, just text that is long enough to look like a header",
                   f);
        std::fclose(f);
    }
    // (Under AddressSanitizer this also proves the half-opened connection is closed.)
    CHECK_THROWS_AS(bot::make_sqlite_checkin_store(garbage.string()), bot::store_error);
}

TEST_CASE("store: an SQLite file from before versions opens, and its rows start at version 1",
          "[store]") {
    test::temp_dir tmp;
    auto path = (tmp.path() / "old.sqlite").string();
    {
        sqlite3* db = nullptr;
        REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
        const char* sql = "CREATE TABLE conversations (key TEXT PRIMARY KEY, state TEXT NOT NULL,"
                          " last_active INTEGER NOT NULL);"
                          "INSERT INTO conversations VALUES ('console:local', '{\"old\":1}', 5);";
        REQUIRE(sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK);
        sqlite3_close(db);
    }
    auto s = bot::make_sqlite_store(path);
    auto got = s->load_versioned("console:local");
    REQUIRE(got.has_value());
    CHECK(got->json == R"({"old":1})");
    CHECK(got->version == 1);
    CHECK_FALSE(s->save_if("console:local", "{}", 6, 0).has_value());
    CHECK(s->save_if("console:local", R"({"new":1})", 6, 1) == std::optional<std::uint64_t>(2));
    // Opening it again does not migrate twice.
    auto again = bot::make_sqlite_store(path);
    CHECK(again->load_versioned("console:local").value().version == 2);
}

TEST_CASE("store: sqlite checkpoints on a thread of its own and loses no committed save",
          "[store][concurrency]") {
    // Enough commits of a few pages each for several checkpoints (one per 1000 WAL pages),
    // from several threads, with reads meanwhile; then a fresh connection sees every last
    // save, the file is intact, and closing the last connection removes the WAL.
    test::temp_dir tmp;
    auto path = (tmp.path() / "state.sqlite").string();
    {
        auto s = bot::make_sqlite_store(path);
        std::atomic<int> wrong{0}; // Catch2 assertions are not for other threads
        on_threads(4, [&](int t) {
            for (int i = 0; i < 400; ++i) {
                std::string key = "k" + std::to_string(t) + "-" + std::to_string(i % 50);
                std::string state = "{\"n\":" + std::to_string(i) + ",\"pad\":\"" +
                                    std::string(6000, static_cast<char>('a' + t)) + "\"}";
                s->save(key, state, i);
                auto back = s->load(key);
                if (!back || *back != state)
                    ++wrong;
            }
        });
        CHECK(wrong == 0);
        CHECK(s->stats().writes == 4 * 400);
    }
    CHECK(!std::filesystem::exists(path + "-wal"));
    auto again = bot::make_sqlite_store(path);
    CHECK(again->size() == 4 * 50);
    for (int t = 0; t < 4; ++t)
        for (int k = 0; k < 50; ++k) {
            auto v = again->load("k" + std::to_string(t) + "-" + std::to_string(k));
            REQUIRE(v);
            CHECK(v->find("\"n\":" + std::to_string(350 + k) + ",") != std::string::npos);
        }
    CHECK(tandem::test::sqlite_integrity(path) == "ok");
}
