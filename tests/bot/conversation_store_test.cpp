#include "../support/test_support.hpp"

#include "bot/conversation_store.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>

using namespace tandem;

namespace {
// The same contract for every store.
void conformance(bot::conversation_store& s) {
    CHECK_FALSE(s.load("a").has_value());
    s.save("a", R"({"x":1})", 100);
    s.save("b", R"({"x":2})", 200);
    CHECK(s.load("a").value() == R"({"x":1})");
    s.save("a", R"({"x":3})", 300);
    CHECK(s.load("a").value() == R"({"x":3})");
    CHECK(s.size() == 2);
    CHECK(s.erase_idle_before(250) == 1); // b (200) goes, a (300) stays
    CHECK_FALSE(s.load("b").has_value());
    CHECK(s.erase("a"));
    CHECK_FALSE(s.erase("a"));
    CHECK(s.size() == 0);
    std::string weird = "telegram:\xD7\xA9'\"; DROP TABLE conversations; --";
    s.save(weird, "{}", 1);
    CHECK(s.load(weird).value() == "{}");
}
} // namespace

TEST_CASE("store: memory store conformance", "[store]") {
    auto s = bot::make_memory_store();
    conformance(*s);
}

TEST_CASE("store: sqlite store conformance", "[store]") {
    test::temp_dir tmp;
    auto s = bot::make_sqlite_store((tmp.path() / "state.sqlite").string());
    conformance(*s);
}

TEST_CASE("store: sqlite keeps state across reopening the file", "[store]") {
    test::temp_dir tmp;
    auto path = (tmp.path() / "data" / "state.sqlite").string();
    {
        auto s = bot::make_sqlite_store(path);
        s->save("console:local", R"({"kept":true})", 42);
    }
    auto s = bot::make_sqlite_store(path);
    CHECK(s->load("console:local").value() == R"({"kept":true})");
}

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
