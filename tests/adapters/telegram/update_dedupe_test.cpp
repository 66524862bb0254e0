// The update_id log that keeps a redelivered Telegram update from being answered twice.
#include "adapters/telegram/update_dedupe.hpp"
#include "bot/conversation_store.hpp"
#include "test_support.hpp"

#include <catch2/catch.hpp>

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
