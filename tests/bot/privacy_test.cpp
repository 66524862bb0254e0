// Privacy in the core (issue 6 part 6): "forget me" removes every trace of a conversation
// (state with the user's answers, pending check-ins, recorded self-ratings) from the memory
// and the SQLite stores, and leaves no deleted text readable in the SQLite files; idle
// conversations are deleted after the configured retention, by the sweeper on its own.
#include "../support/test_support.hpp"

#include "bot/bot_service.hpp"
#include "bot/checkins.hpp"
#include "bot/conversation_store.hpp"
#include "bot/turn_processor.hpp"

#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <chrono>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

using namespace tandem;
namespace fs = std::filesystem;

namespace {

std::string marker() {
    std::random_device rd;
    std::string s = "zqmarker";
    for (int i = 0; i < 10; ++i)
        s += static_cast<char>('a' + rd() % 26);
    return s;
}

bot::inbound_message said(const std::string& text) {
    bot::inbound_message m;
    m.channel = "telegram";
    m.conversation_id = "4711";
    m.user_id = "4711";
    if (text.size() > 2 && text.front() == '[' && text.back() == ']')
        m.option_id = text.substr(1, text.size() - 2);
    else
        m.text = text;
    return m;
}

// Rows of `sql` (first column as text) in the SQLite file, read with a connection of its own.
std::vector<std::string> rows(const std::string& file, const std::string& sql) {
    sqlite3* db = nullptr;
    std::vector<std::string> out;
    REQUIRE(sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const auto* t = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
        out.emplace_back(t ? t : "");
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
}

std::string file_bytes(const fs::path& dir) {
    std::string all;
    for (const auto& e : fs::directory_iterator(dir)) {
        std::ifstream in(e.path(), std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        all += ss.str();
    }
    return all;
}

struct stores {
    std::shared_ptr<bot::conversation_store> state;
    std::shared_ptr<bot::checkin_store> checkins;
};

// A conversation that leaves every kind of trace: recorded self-ratings, a scheduled
// check-in and a captured free-text answer (the marker) in the dialog state.
void leave_traces(bot::turn_processor& p, const std::string& text, std::int64_t now) {
    for (const auto* line :
         {"rate me", "8", "3", "later please", "[tomorrow]", "I feel smothered", "[partner]"})
        REQUIRE_FALSE(p.run(said(line), now).error);
    auto r = p.run(said("I would paint " + text), now);
    REQUIRE_FALSE(r.error);
    REQUIRE(r.node == "room"); // the answer was captured and the dialog moved on
}

void forget_removes_everything(stores s, const std::function<void(const std::string&)>& on_disk) {
    auto text = marker();
    bot::conversation_config cfg;
    bot::turn_processor p(test::load_ok(test::fixture_paths()), s.state, cfg, false, s.checkins);
    std::int64_t now = 1'700'000'000;
    leave_traces(p, text, now);
    auto key = bot::turn_processor::key("telegram", "4711");
    auto state = s.state->load(key);
    REQUIRE(state);
    CHECK(state->find(text) != std::string::npos);        // the answer is held...
    CHECK(state->find("closeness") != std::string::npos); // ...and the ratings
    CHECK(s.checkins->size() == 1);
    if (on_disk)
        on_disk(text); // checks before the forget, so the checks after it can fail

    auto r = p.run(said("forget me"), now + 5);
    CHECK(r.forgotten);
    CHECK_FALSE(s.state->load(key));
    CHECK(s.state->size() == 0);
    CHECK(s.checkins->size() == 0);
    CHECK(s.checkins->take_due(now + 10 * 86400, 10).empty()); // no check-in comes later
    // A later conversation starts from nothing: no trend, nothing to export.
    auto trend = p.run(said("my trend"), now + 10);
    std::string said_back;
    for (const auto& t : trend.reply.texts)
        said_back += t + "\n";
    CHECK(said_back.find("NO TREND YET") != std::string::npos);
    auto exported = p.run(said("/export"), now + 11);
    for (const auto& t : exported.reply.texts)
        CHECK(t.find(text) == std::string::npos);
}

} // namespace

TEST_CASE("privacy: forget me removes state, check-ins and ratings (memory store)",
          "[privacy][store]") {
    forget_removes_everything({bot::make_memory_store(), bot::make_memory_checkin_store()}, {});
}

TEST_CASE("privacy: forget me removes every row and leaves no readable text (SQLite)",
          "[privacy][store]") {
    test::temp_dir tmp;
    auto file = (tmp.path() / "data" / "tandem.sqlite").string();
    auto state = bot::make_sqlite_store(file);
    auto checkins = bot::make_sqlite_checkin_store(file);
    bool seen_before = false;
    std::string marker_text;
    forget_removes_everything({state, checkins}, [&](const std::string& text) {
        marker_text = text;
        // Before: the rows are there and the text is in the files (so the checks can fail).
        CHECK(rows(file, "SELECT key FROM conversations").size() == 1);
        CHECK(rows(file, "SELECT key FROM checkins").size() == 1);
        seen_before = file_bytes(tmp.path() / "data").find(text) != std::string::npos;
    });
    CHECK(seen_before);
    // After the forget the state is recreated by the "my trend" turn above; only that
    // fresh, empty conversation may be there.
    auto after = rows(file, "SELECT state FROM conversations");
    CHECK(after.size() <= 1);
    for (const auto& s : after)
        CHECK(s.find("closeness") == std::string::npos);
    CHECK(rows(file, "SELECT key FROM checkins").empty());
    CHECK(file_bytes(tmp.path() / "data").find(marker_text) == std::string::npos);
}

TEST_CASE("privacy: forgotten text is not left in the SQLite files", "[privacy][store]") {
    // Straight at the store: save a state with the marker, delete it, and read every byte of
    // the database, its WAL and shared-memory files.
    test::temp_dir tmp;
    auto dir = tmp.path() / "data";
    auto file = (dir / "tandem.sqlite").string();
    auto text = marker();
    auto s = bot::make_sqlite_store(file);
    for (int i = 0; i < 20; ++i) // other conversations on the same pages
        s->save("widget:" + std::to_string(i), R"({"a":")" + std::string(200, 'x') + "\"}", 100);
    s->save("widget:me", R"({"answer":")" + text + "\"}", 1);
    CHECK(file_bytes(dir).find(text) != std::string::npos);
    CHECK(s->erase("widget:me"));
    CHECK(file_bytes(dir).find(text) == std::string::npos);

    // The sweeper's deletes too.
    auto old = marker();
    s->save("widget:old", R"({"answer":")" + old + "\"}", 5);
    CHECK(file_bytes(dir).find(old) != std::string::npos);
    CHECK(s->erase_idle_before(10) == 1);
    CHECK(file_bytes(dir).find(old) == std::string::npos);
    CHECK(s->size() == 20);
}

TEST_CASE("privacy: idle conversations are deleted after the configured retention",
          "[privacy][store]") {
    // A fake clock through turn_processor: the retention is conversation.idle_expiry_seconds.
    bot::conversation_config cfg;
    cfg.idle_expiry_seconds = 600;
    auto store = bot::make_memory_store();
    bot::turn_processor p(test::load_ok(test::fixture_paths()), store, cfg);
    std::int64_t t0 = 1'700'000'000;
    REQUIRE_FALSE(p.run(said("I feel smothered"), t0).error);
    CHECK(p.sweep(t0 + 599) == 0);
    CHECK(store->size() == 1);
    CHECK(p.sweep(t0 + 601) == 1);
    CHECK(store->size() == 0);

    // Retention 0 keeps conversations until the user deletes them.
    cfg.idle_expiry_seconds = 0;
    auto kept = bot::make_memory_store();
    bot::turn_processor q(test::load_ok(test::fixture_paths()), kept, cfg);
    REQUIRE_FALSE(q.run(said("I feel smothered"), t0).error);
    CHECK(q.sweep(t0 + 10 * 365 * 86400LL) == 0);
    CHECK(kept->size() == 1);
}

TEST_CASE("privacy: the service's sweeper enforces retention by itself", "[privacy][store]") {
    // core.sweep_interval_seconds = 1 and a conversation idle for an hour: the sweeper deletes
    // it without being asked; a fresh one stays. Waits up to 20 s (a hang guard only).
    test::temp_dir tmp;
    auto store = bot::make_sqlite_store((tmp.path() / "s.sqlite").string());
    bot::config cfg;
    cfg.core.threads = 1;
    cfg.core.sweep_interval_seconds = 1;
    cfg.conversation.idle_expiry_seconds = 60;
    auto now = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    store->save("telegram:old", "{}", now - 3600);
    store->save("telegram:fresh", "{}", now + 3600);
    bot::bot_service service(test::load_ok(test::fixture_paths()), store, cfg);
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (store->load("telegram:old") && std::chrono::steady_clock::now() < end)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    service.stop();
    CHECK_FALSE(store->load("telegram:old"));
    CHECK(store->load("telegram:fresh"));
}
