// Faults through `tandem serve` as an operator runs it (a real process on 127.0.0.1, a
// fake Bot API in the test): kill -9 under load and restart on the same data, a store that
// fills up and recovers, a data folder that cannot be created. Nothing leaves this machine.
// Sizes come from TANDEM_FAULT_CHATS / TANDEM_FAULT_TURNS / TANDEM_FAULT_KILLS.
#include "adapters/telegram/telegram_update.hpp"
#include "bot/config.hpp"
#include "bot/conversation_state.hpp"
#include "bot/turn_processor.hpp"
#include "tests/adapters/test_support.hpp"
#include "tests/app/serve_support.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/process.hpp"

#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <boost/asio/detached.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include <set>
#include <sys/resource.h>
#include <sys/stat.h>

using namespace tandem::test;
using nlohmann::json;
namespace fs = std::filesystem;
namespace tg = tandem::adapters::telegram;

namespace {

const std::string secret = "faults_test_secret";

std::size_t env_size(const char* name, std::size_t fallback) {
    const char* v = std::getenv(name);
    if (!v || !*v)
        return fallback;
    return static_cast<std::size_t>(std::stoul(v));
}

// A project folder of its own with the fixture content and a SQLite store.
struct fault_folder {
    temp_dir tmp;
    std::string config;

    explicit fault_folder(json store = json::object()) {
        fs::copy(fixture_content(), tmp.path() / "content", fs::copy_options::recursive);
        fs::create_directories(tmp.path() / "config");
        store["kind"] = "sqlite";
        json cfg = {{"schema_version", 1},
                    {"data_dir", "data"},
                    {"content",
                     {{"intents_dir", "content/intents"},
                      {"dialogs_dir", "content/dialogs"},
                      {"resources_file", "content/resources.json"},
                      {"locales_file", "content/locales.json"}}},
                    {"store", store},
                    {"core", {{"threads", 2}}},
                    {"server", {{"shutdown_grace_ms", 3000}}},
                    {"telegram", {{"per_chat_interval_ms", 0}, {"outage_backoff_max_ms", 200}}}};
        config = (tmp.path() / "config" / "tandem.json").string();
        std::ofstream(config) << cfg.dump(2);
    }
    fs::path path(const std::string& rel) const { return tmp.path() / rel; }
    std::string db() const { return path("data/tandem.sqlite").string(); }
    std::string update_log() const { return path("data/telegram-updates.sqlite").string(); }
};

std::unique_ptr<child_process> start(const fault_folder& f, const std::string& api_base,
                                     const std::string& log) {
    std::vector<std::string> argv{tandem_bin(), "serve",    "--config",
                                  f.config,     "--listen", "127.0.0.1:0"};
    std::vector<std::string> env{"TELEGRAM_BOT_TOKEN=77:FAULTS",
                                 "TELEGRAM_WEBHOOK_SECRET=" + secret,
                                 "TELEGRAM_API_BASE=" + api_base};
    std::vector<std::string> unset{"DISCORD_PUBLIC_KEY", "DISCORD_APPLICATION_ID",
                                   "DISCORD_BOT_TOKEN", "DISCORD_API_BASE"};
    return std::make_unique<child_process>(argv, env, unset, f.path(log).string());
}

std::string update_json(std::int64_t chat, std::int64_t id, const std::string& text) {
    json from = {{"id", chat}, {"is_bot", false}, {"first_name", "Sam"}};
    json c = {{"id", chat}, {"type", "private"}};
    json m = {
        {"message_id", id}, {"from", from}, {"chat", c}, {"date", unix_now()}, {"text", text}};
    return json{{"update_id", id}, {"message", m}}.dump();
}

http::header_list secret_header() {
    http::header_list h;
    h.emplace_back("X-Telegram-Bot-Api-Secret-Token", secret);
    return h;
}

// What a conversation says, turn by turn.
const std::vector<std::string> script = {"/start",
                                         "I feel smothered",
                                         "1",
                                         "i need my own space",
                                         "is this normal?",
                                         "we are drifting apart",
                                         "2",
                                         "thanks",
                                         "hmm",
                                         "/menu",
                                         "I feel smothered",
                                         "ok",
                                         "we are drifting apart",
                                         "bye",
                                         "/start",
                                         "is this normal?"};

// The texts tandem must send for each turn of chat's conversation, computed by the same
// core in this process (memory store) and rendered as the adapter renders them.
std::vector<std::vector<std::string>> expected_replies(tandem::bot::turn_processor& tp,
                                                       std::int64_t chat, std::size_t turns) {
    std::vector<std::vector<std::string>> out;
    for (std::size_t i = 0; i < turns; ++i) {
        tandem::bot::inbound_message in;
        in.channel = "telegram";
        in.conversation_id = std::to_string(chat);
        in.user_id = std::to_string(chat);
        in.text = script[i % script.size()];
        in.platform_message_id = std::to_string(i);
        auto r = tp.run(in, unix_now());
        std::vector<std::string> texts;
        for (auto& m : tg::render_reply(chat, r.reply, {}))
            texts.push_back(m.value("text", ""));
        out.push_back(std::move(texts));
    }
    return out;
}

// Checks that got is expected, message by message, except that the reply of the update in
// flight at a kill may be sent again from its first message (at least once: the process
// died between the Bot API accepting it and the log marking it answered). Returns how many
// such repeats it saw, or -1 (with a note) when got differs otherwise.
int match_replies(const std::vector<std::vector<std::string>>& expected,
                  const std::vector<std::string>& got, std::string& note) {
    std::vector<std::string> flat;
    std::vector<std::size_t> group_start; // for each flat index, its reply's first index
    for (const auto& g : expected)
        for (std::size_t k = 0; k < g.size(); ++k) {
            group_start.push_back(flat.size() - k);
            flat.push_back(g[k]);
        }
    std::size_t e = 0;
    int repeats = 0;
    for (std::size_t i = 0; i < got.size(); ++i) {
        if (e < flat.size() && got[i] == flat[e]) {
            ++e;
            continue;
        }
        // A repeat of the reply just sent (or being sent), from its first message.
        bool repeat = false;
        if (e > 0) {
            std::size_t s = group_start[e - 1];
            if (got[i] == flat[s]) {
                e = s + 1;
                repeat = true;
            }
        }
        if (!repeat) {
            note = "message " + std::to_string(i) + " is \"" + got[i].substr(0, 60) +
                   "\", expected \"" + (e < flat.size() ? flat[e].substr(0, 60) : "(nothing)") +
                   "\"";
            return -1;
        }
        ++repeats;
        if (std::getenv("TANDEM_FAULT_DEBUG"))
            std::fprintf(stderr, "repeat at %zu of %zu: %s\n", i, got.size(),
                         got[i].substr(0, 40).c_str());
    }
    if (e != flat.size()) {
        note = "only " + std::to_string(e) + " of " + std::to_string(flat.size()) +
               " messages arrived";
        return -1;
    }
    return repeats;
}

std::optional<json> stored_state(const std::string& db, std::int64_t chat) {
    sqlite3* h = nullptr;
    if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
        sqlite3_close(h);
        return std::nullopt;
    }
    std::optional<json> out;
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(h, "SELECT state FROM conversations WHERE key = ?1", -1, &s, nullptr);
    auto key = "telegram:" + std::to_string(chat);
    sqlite3_bind_text(s, 1, key.c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(s) == SQLITE_ROW)
        out = json::parse(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)), nullptr, false);
    sqlite3_finalize(s);
    sqlite3_close(h);
    return out;
}

void sql(const std::string& db, const std::string& statement) {
    sqlite3* h = nullptr;
    REQUIRE(sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
    sqlite3_busy_timeout(h, 5000);
    char* err = nullptr;
    int rc = sqlite3_exec(h, statement.c_str(), nullptr, nullptr, &err);
    std::string msg = err ? err : "";
    sqlite3_free(err);
    sqlite3_close(h);
    INFO(statement << ": " << msg);
    REQUIRE(rc == SQLITE_OK);
}

// Sends each chat's next updates in order, one at a time (as Telegram does), until the
// script ends or the server stops answering. Counts acknowledgements.
struct chat_driver {
    std::int64_t chat = 0;
    std::size_t next = 0;      // next turn to deliver
    std::size_t acked = 0;     // turns acknowledged with 2xx
    std::vector<int> statuses; // of every delivery, in order

    std::int64_t update_id(std::size_t turn) const {
        return chat * 1000 + static_cast<std::int64_t>(turn);
    }
};

} // namespace

TEST_CASE("faults: kill -9 under load, restart, redeliver: nothing lost, nothing twice",
          "[faults][e2e]") {
    const std::size_t chats = env_size("TANDEM_FAULT_CHATS", 60);
    const std::size_t turns = std::min(env_size("TANDEM_FAULT_TURNS", 12), script.size());
    const std::size_t kills = env_size("TANDEM_FAULT_KILLS", 5);
    fault_folder folder;
    net::io_context ioc;
    fake_api api(ioc);
    std::vector<chat_driver> drivers(chats);
    for (std::size_t i = 0; i < chats; ++i)
        drivers[i].chat = 7'000'000 + static_cast<std::int64_t>(i);
    std::size_t killed = 0, sends_before_final_redelivery = 0, sends_after = 0;
    std::size_t resumed = 0, replayed = 0, send_failed = 0;
    std::mt19937 rng(20261130);

    run_test(
        ioc,
        [&]() -> awaitable<void> {
            for (std::size_t cycle = 0; cycle <= kills; ++cycle) {
                bool last_cycle = cycle == kills;
                auto serve = start(folder, api.base(), "serve-" + std::to_string(cycle) + ".log");
                auto port = co_await serve::wait_listening(*serve);
                std::size_t acked_now = 0;
                // Kill somewhere in this cycle's share of the work.
                std::size_t share = chats * turns / (kills + 1);
                std::size_t kill_at = share / 2 + rng() % std::max<std::size_t>(1, share / 2);
                auto running = std::make_shared<std::size_t>(0);
                auto stop = std::make_shared<bool>(false);
                for (auto& d : drivers) {
                    ++*running;
                    net::co_spawn(
                        ioc,
                        [&, dp = &d, running, stop, port]() -> awaitable<void> {
                            chat_driver& dr = *dp;
                            http::http_client c(ioc.get_executor());
                            // Telegram redelivers: the last two acknowledged updates again.
                            std::size_t from = dr.next >= 2 ? dr.next - 2 : 0;
                            for (std::size_t t = from; t < turns && !*stop; ++t) {
                                auto body = update_json(dr.chat, dr.update_id(t),
                                                        script[t % script.size()]);
                                auto r = co_await c.request(post_json(
                                    serve::url(port, "/webhooks/telegram"), body, secret_header()));
                                dr.statuses.push_back(r.response.status);
                                if (r.response.status == 503) { // busy: Telegram retries
                                    --t;
                                    co_await sleep_for(50ms);
                                    continue;
                                }
                                if (r.response.status != 200)
                                    break; // killed: no answer; redelivered next cycle
                                if (t >= dr.next) {
                                    dr.next = t + 1;
                                    ++dr.acked;
                                    ++acked_now;
                                }
                            }
                            --*running;
                        },
                        net::detached);
                }
                if (!last_cycle) {
                    co_await eventually([&] { return acked_now >= kill_at || *running == 0; },
                                        120s);
                    serve->signal(SIGKILL);
                    ++killed;
                    co_await serve::wait_exit(*serve, 30s);
                    *stop = true;
                    co_await eventually([&] { return *running == 0; }, 60s);
                    resumed += serve::count_events(*serve, "telegram.resumed");
                    send_failed += serve::count_events(*serve, "telegram.send_failed");
                    continue;
                }
                co_await eventually([&] { return *running == 0; }, 120s);
                // Every update acknowledged: wait for the replies to settle, then deliver
                // every update once more (Telegram may) and drain.
                auto settled = [&] {
                    auto n = api.calls_named("sendMessage").size();
                    return n;
                };
                std::size_t prev = 0;
                for (int quiet = 0; quiet < 20;) {
                    co_await sleep_for(50ms);
                    auto n = settled();
                    quiet = n == prev ? quiet + 1 : 0;
                    prev = n;
                }
                sends_before_final_redelivery = api.calls_named("sendMessage").size();
                http::http_client c(ioc.get_executor());
                for (auto& d : drivers)
                    for (std::size_t t = 0; t < turns; ++t) {
                        auto r = co_await c.request(post_json(
                            serve::url(port, "/webhooks/telegram"),
                            update_json(d.chat, d.update_id(t), script[t % script.size()]),
                            secret_header()));
                        CHECK(r.response.status == 200);
                    }
                serve->signal(SIGTERM);
                auto code = co_await serve::wait_exit(*serve, 30s);
                REQUIRE(code);
                CHECK(*code == 0);
                sends_after = api.calls_named("sendMessage").size();
                replayed = serve::count_events(*serve, "telegram.duplicate_update");
                send_failed += serve::count_events(*serve, "telegram.send_failed");
            }
        },
        600s);

    // Who got what, in order.
    std::map<std::int64_t, std::vector<std::string>> got;
    for (const auto& c : api.calls_named("sendMessage")) {
        auto j = c.json();
        got[j.value("chat_id", std::int64_t{0})].push_back(j.value("text", ""));
    }
    int repeats = 0;
    std::size_t complete = 0;
    tandem::bot::turn_processor tp(load_ok(fixture_paths()), tandem::bot::make_memory_store(),
                                   tandem::bot::config{}.conversation);
    for (const auto& d : drivers) {
        CHECK(d.next == turns); // every turn acknowledged in the end
        std::string note;
        int r = match_replies(expected_replies(tp, d.chat, turns), got[d.chat], note);
        INFO("chat " << d.chat << ": " << note);
        CHECK(r >= 0);
        if (r >= 0) {
            repeats += r;
            ++complete;
        }
        // The state holds every turn exactly once: none lost, none applied twice.
        auto st = stored_state(folder.db(), d.chat);
        REQUIRE(st);
        CHECK(st->value("turns", 0) == static_cast<int>(turns));
        CHECK(st->value("answered_ids", json::array()).back() ==
              std::to_string(d.update_id(turns - 1)));
    }
    // A reply goes out twice only when it was in flight at a kill (one per chat per kill at
    // most) or when a send failed without an answer (a timeout: Telegram may have it) and
    // was tried again.
    CHECK(repeats <= static_cast<int>(killed * chats + send_failed));
    // Redelivering every answered update sends nothing.
    CHECK(sends_after == sends_before_final_redelivery);
    CHECK(replayed >= chats * turns);
    CHECK(killed == kills);
    WARN("kill -9 cycles survived: " << killed << "; chats " << chats << " x turns " << turns
                                     << "; conversations complete and in order: " << complete
                                     << "; replies sent again after a kill: " << repeats
                                     << "; start-ups that resumed the inbox: " << resumed
                                     << "; sends that failed and were tried again: "
                                     << send_failed);
}

TEST_CASE("faults: a full store answers 503 and not ready, then recovers", "[faults][e2e]") {
    fault_folder folder(json{{"max_bytes", 256 * 1024}});
    net::io_context ioc;
    fake_api api(ioc);
    auto serve = start(folder, api.base(), "serve.log");
    int ready_full = 0, ready_after = 0, redelivered = 0;
    std::size_t accepted = 0, refused_at = 0, refused_while_full = 0, accepted_while_full = 0;
    std::int64_t refused_id = 0, refused_chat = 0;
    std::optional<int> code;
    run_test(ioc, [&]() -> awaitable<void> {
        auto port = co_await serve::wait_listening(*serve);
        http::http_client c(ioc.get_executor());
        http::client_request get;
        get.method = "GET";
        get.url = serve::url(port, "/readyz");
        auto r0 = co_await c.request(get);
        CHECK(r0.response.status == 200);
        auto first = co_await c.request(post_json(serve::url(port, "/webhooks/telegram"),
                                                  update_json(8'000'000, 8'000'000'000, "/start"),
                                                  secret_header()));
        CHECK(first.response.status == 200);
        ++accepted;
        // The disk fills up (another writer takes all the room the cap leaves, in the
        // store's file and in the update log's: max_bytes caps each).
        for (const auto& file : {folder.db(), folder.update_log()})
            sql(file, "CREATE TABLE filler(b BLOB); INSERT INTO filler VALUES (zeroblob(" +
                          std::to_string(400 * 1024) + "));");
        // New conversations need new pages: before long the update log cannot be written.
        for (std::int64_t i = 1; i <= 400; ++i) {
            std::int64_t chat_id = 8'000'000 + i;
            auto r = co_await c.request(post_json(serve::url(port, "/webhooks/telegram"),
                                                  update_json(chat_id, chat_id * 1000, "/start"),
                                                  secret_header()));
            if (r.response.status == 200) {
                ++accepted;
                continue;
            }
            CHECK(r.response.status == 503);
            CHECK(r.response.header("Retry-After") == "5");
            refused_at = static_cast<std::size_t>(i);
            refused_id = chat_id * 1000;
            refused_chat = chat_id;
            break;
        }
        REQUIRE(refused_id != 0);
        auto r1 = co_await c.request(get);
        ready_full = r1.response.status;
        // Still (nearly) full: more new conversations; a write that fits may pass (and
        // must then be answered), the others are refused.
        for (std::int64_t i = 1; i <= 3; ++i) {
            std::int64_t chat_id = 8'500'000 + i;
            auto r = co_await c.request(post_json(serve::url(port, "/webhooks/telegram"),
                                                  update_json(chat_id, chat_id * 1000, "/start"),
                                                  secret_header()));
            if (r.response.status == 503)
                ++refused_while_full;
            else if (r.response.status == 200) {
                ++accepted;
                ++accepted_while_full;
            }
        }
        // Every acknowledged update is answered (an apology when its turn could not be
        // saved); wait for that, so their saves do not take the room freed next.
        co_await eventually(
            [&] {
                std::set<std::int64_t> chats_answered;
                for (const auto& call : api.calls_named("sendMessage"))
                    chats_answered.insert(call.json().value("chat_id", std::int64_t{0}));
                return chats_answered.size() == accepted;
            },
            60s);
        // Room again: the update Telegram retries is answered, and the server is ready.
        for (const auto& file : {folder.db(), folder.update_log()})
            sql(file, "DROP TABLE filler;");
        auto again = co_await c.request(post_json(serve::url(port, "/webhooks/telegram"),
                                                  update_json(refused_chat, refused_id, "/start"),
                                                  secret_header()));
        redelivered = again.response.status;
        auto r2 = co_await c.request(get);
        ready_after = r2.response.status;
        serve->signal(SIGTERM);
        code = co_await serve::wait_exit(*serve, 30s);
    });
    CHECK(ready_full == 503);
    CHECK(redelivered == 200);
    CHECK(ready_after == 200);
    REQUIRE(code);
    CHECK(*code == 0);
    // Not silent: every acknowledged update, and the redelivered one, got an answer.
    std::set<std::int64_t> answered;
    for (const auto& c : api.calls_named("sendMessage"))
        answered.insert(c.json().value("chat_id", std::int64_t{0}));
    CHECK(answered.size() == accepted + 1);
    CHECK(answered.count(refused_chat) == 1);
    CHECK(refused_while_full + accepted_while_full == 3);
    // Logged once per failing stretch (not once per refused update); a stretch ends with a
    // write that works, and a recovery line.
    auto failed_lines = serve::count_events(*serve, "telegram.store_failed");
    CHECK(failed_lines >= 1);
    CHECK(failed_lines <= 1 + accepted_while_full);
    CHECK(serve::count_events(*serve, "telegram.store_recovered") == failed_lines);
    WARN("full store: " << accepted << " updates acknowledged, update " << refused_at
                        << " refused with 503, answered after recovery");
}

TEST_CASE("faults: a data folder that cannot be created stops serve with the path and cause",
          "[faults]") {
    fault_folder folder;
    auto blocker = folder.path("not_a_folder");
    std::ofstream(blocker) << "a file where the data folder should be";
    auto data = (blocker / "data").string();
    auto r = sh(q(tandem_bin()) + " serve --listen 127.0.0.1:0 --data " + q(data) + " --config " +
                q(folder.config) + " 2>&1");
    CHECK(r.status != 0);
    CHECK(r.out.find(blocker.string()) != std::string::npos);  // names the path
    CHECK(r.out.find("Not a directory") != std::string::npos); // and the cause
    CHECK(r.out.find("http.listening") == std::string::npos);
}

TEST_CASE("load: thousands of conversations at once through tandem serve, every reply right "
          "and in order",
          "[load][e2e]") {
    // TANDEM_SOAK_CHATS conversations are all in progress at once: each round sends every
    // conversation its next message (over TANDEM_SOAK_CONNECTIONS keep-alive connections,
    // as Telegram's webhook does), and the next round starts once the round is acknowledged,
    // while the replies of earlier rounds are still being worked on and sent.
    const std::size_t chats = env_size("TANDEM_SOAK_CHATS", 2000);
    const std::size_t turns = std::min(env_size("TANDEM_SOAK_TURNS", 6), script.size());
    const std::size_t connections = env_size("TANDEM_SOAK_CONNECTIONS", 32);
    fault_folder folder;
    {
        // Room for every conversation at once.
        std::ifstream in(folder.config);
        auto cfg = json::parse(in);
        cfg["telegram"]["max_live_chats"] = chats + 100;
        cfg["telegram"]["max_pending"] = chats * 4;
        std::ofstream(folder.config) << cfg.dump(2);
    }
    net::io_context ioc;
    fake_api api(ioc);
    auto serve = start(folder, api.base(), "serve.log");
    std::size_t busy = 0, other = 0, expected_messages = 0;
    tandem::bot::turn_processor tp(load_ok(fixture_paths()), tandem::bot::make_memory_store(),
                                   tandem::bot::config{}.conversation);
    std::map<std::int64_t, std::vector<std::vector<std::string>>> expected;
    for (std::size_t i = 0; i < chats; ++i) {
        std::int64_t chat = 9'000'000 + static_cast<std::int64_t>(i);
        expected[chat] = expected_replies(tp, chat, turns);
        for (const auto& g : expected[chat])
            expected_messages += g.size();
    }
    double seconds = 0;
    std::optional<int> code;
    std::size_t peak_outstanding = 0;
    run_test(
        ioc,
        [&]() -> awaitable<void> {
            auto port = co_await serve::wait_listening(*serve);
            auto t0 = std::chrono::steady_clock::now();
            for (std::size_t t = 0; t < turns; ++t) {
                auto next = std::make_shared<std::size_t>(0);
                auto running = std::make_shared<std::size_t>(0);
                for (std::size_t w = 0; w < connections; ++w) {
                    ++*running;
                    net::co_spawn(
                        ioc,
                        [&, next, running, t, port]() -> awaitable<void> {
                            http::http_client c(ioc.get_executor());
                            while (*next < chats) {
                                std::size_t i = (*next)++;
                                std::int64_t chat = 9'000'000 + static_cast<std::int64_t>(i);
                                auto body =
                                    update_json(chat, chat * 1000 + static_cast<std::int64_t>(t),
                                                script[t % script.size()]);
                                for (;;) {
                                    auto r = co_await c.request(
                                        post_json(serve::url(port, "/webhooks/telegram"), body,
                                                  secret_header()));
                                    if (r.response.status == 200)
                                        break;
                                    if (r.response.status == 503) {
                                        ++busy; // Telegram retries
                                        co_await sleep_for(20ms);
                                        continue;
                                    }
                                    ++other;
                                    break;
                                }
                            }
                            --*running;
                        },
                        net::detached);
                }
                while (*running > 0) {
                    co_await sleep_for(5ms);
                    auto sent = api.count();
                    // Replies still owed: turns handed out so far minus replies sent.
                    std::size_t owed_upper = t * chats + *next;
                    peak_outstanding = std::max(
                        peak_outstanding, owed_upper > sent ? owed_upper - sent : std::size_t{0});
                }
            }
            bool all = co_await eventually([&] { return api.count() >= expected_messages; }, 300s);
            CHECK(all);
            seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            serve->signal(SIGTERM);
            code = co_await serve::wait_exit(*serve, 30s);
        },
        600s);
    REQUIRE(code);
    CHECK(*code == 0);
    CHECK(other == 0);
    std::map<std::int64_t, std::vector<std::string>> got;
    for (const auto& c : api.calls_named("sendMessage")) {
        auto j = c.json();
        got[j.value("chat_id", std::int64_t{0})].push_back(j.value("text", ""));
    }
    std::size_t complete = 0;
    for (const auto& [chat, want] : expected) {
        std::string note;
        int r = match_replies(want, got[chat], note);
        INFO("chat " << chat << ": " << note);
        CHECK(r == 0); // no kills here: not a single repeat either
        complete += r == 0;
    }
    CHECK(complete == chats);
    WARN("soak: " << chats << " conversations in progress at once, " << turns << " turns each ("
                  << chats * turns << " turns, " << expected_messages << " replies) in " << seconds
                  << " s over " << connections << " connections; at most " << peak_outstanding
                  << " replies owed at once; 503 busy answers " << busy
                  << "; conversations complete and in order: " << complete);
}

TEST_CASE("faults: SIGTERM drains within its grace even when the Bot API hangs, and the next "
          "start sends what was left",
          "[faults][e2e]") {
    const std::size_t chats = 20;
    fault_folder folder; // shutdown_grace_ms 3000
    net::io_context ioc;
    fake_api api(ioc);
    std::optional<int> first_exit, second_exit;
    std::size_t resumed_updates = 0;
    double drain_seconds = 0;
    run_test(
        ioc,
        [&]() -> awaitable<void> {
            auto serve = start(folder, api.base(), "serve-1.log");
            auto port = co_await serve::wait_listening(*serve);
            // The Bot API stops answering (each call hangs for a minute).
            for (std::size_t i = 0; i < chats * 2; ++i)
                api.push({200, R"({"ok":true,"result":{}})", 60s, {}});
            http::http_client c(ioc.get_executor());
            for (std::size_t i = 0; i < chats; ++i) {
                std::int64_t chat = 6'000'000 + static_cast<std::int64_t>(i);
                auto r = co_await c.request(post_json(serve::url(port, "/webhooks/telegram"),
                                                      update_json(chat, chat * 1000, "/start"),
                                                      secret_header()));
                CHECK(r.response.status == 200);
            }
            auto t0 = std::chrono::steady_clock::now();
            serve->signal(SIGTERM);
            first_exit = co_await serve::wait_exit(*serve, 60s); // hang guard only
            drain_seconds =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            CHECK(serve::count_events(*serve, "serve.drained") == 1);
            // The Bot API is back; a new start answers every acknowledged update.
            api.clear_script();
            auto again = start(folder, api.base(), "serve-2.log");
            co_await serve::wait_listening(*again);
            co_await eventually(
                [&] {
                    std::set<std::int64_t> answered;
                    for (const auto& call : api.calls_named("sendMessage"))
                        answered.insert(call.json().value("chat_id", std::int64_t{0}));
                    return answered.size() == chats;
                },
                60s);
            again->signal(SIGTERM);
            second_exit = co_await serve::wait_exit(*again, 30s);
            std::istringstream in(again->log());
            std::string line;
            while (std::getline(in, line)) {
                auto j = json::parse(line, nullptr, false);
                if (j.is_object() && j.value("event", "") == "telegram.resumed")
                    resumed_updates = j.value("updates", std::size_t{0});
            }
        },
        180s);
    REQUIRE(first_exit);
    CHECK(*first_exit == 0);
    REQUIRE(second_exit);
    CHECK(*second_exit == 0);
    CHECK(resumed_updates == chats); // none was answered before the stop
    std::set<std::int64_t> answered;
    for (const auto& call : api.calls_named("sendMessage"))
        answered.insert(call.json().value("chat_id", std::int64_t{0}));
    CHECK(answered.size() == chats);
    WARN("SIGTERM with a hanging Bot API: exited 0 after "
         << drain_seconds << " s (grace 3 s); next start resumed " << resumed_updates
         << " updates");
}

TEST_CASE("faults: an update log left in the store's file by an older version moves to its own "
          "file and its unanswered update is answered exactly once",
          "[faults][e2e][store]") {
    fault_folder folder;
    const std::int64_t chat = 9'100'000, pending_id = 9'100'000'001, answered_id = 9'100'000'000;
    // What an older version left: the log in the store's file, in the schema from before
    // records knew their conversation, with an update acknowledged but never answered.
    fs::create_directories(folder.path("data"));
    std::ofstream(folder.db()).close();
    sql(folder.db(), "CREATE TABLE telegram_updates (update_id INTEGER PRIMARY KEY, seen_at "
                     "INTEGER NOT NULL, payload TEXT);"
                     "INSERT INTO telegram_updates VALUES (" +
                         std::to_string(answered_id) + ", " + std::to_string(unix_now()) +
                         ", NULL);"
                         "INSERT INTO telegram_updates VALUES (" +
                         std::to_string(pending_id) + ", " + std::to_string(unix_now()) + ", '" +
                         update_json(chat, pending_id, "/start") + "');");
    net::io_context ioc;
    fake_api api(ioc);
    auto sends_to_chat = [&] {
        std::size_t n = 0;
        for (const auto& c : api.calls_named("sendMessage"))
            n += c.json().value("chat_id", std::int64_t{0}) == chat;
        return n;
    };
    tandem::bot::turn_processor tp(load_ok(fixture_paths()), tandem::bot::make_memory_store(),
                                   tandem::bot::config{}.conversation);
    const auto one_reply = expected_replies(tp, chat, 1)[0].size();
    std::size_t resumed_first = 0, resumed_second = 99, sent_first = 0;
    std::optional<int> first_exit, second_exit;
    int redelivered = 0, old_redelivered = 0;
    run_test(
        ioc,
        [&]() -> awaitable<void> {
            auto serve = start(folder, api.base(), "serve-1.log");
            auto port = co_await serve::wait_listening(*serve);
            co_await eventually([&] { return sends_to_chat() >= one_reply; }, 30s);
            // Telegram redelivers both: neither is answered (again).
            http::http_client c(ioc.get_executor());
            auto r = co_await c.request(post_json(serve::url(port, "/webhooks/telegram"),
                                                  update_json(chat, pending_id, "/start"),
                                                  secret_header()));
            redelivered = r.response.status;
            auto r2 = co_await c.request(post_json(serve::url(port, "/webhooks/telegram"),
                                                   update_json(chat, answered_id, "/start"),
                                                   secret_header()));
            old_redelivered = r2.response.status;
            serve->signal(SIGTERM);
            first_exit = co_await serve::wait_exit(*serve, 30s);
            sent_first = sends_to_chat();
            for (const auto& line : serve::log_lines(serve->log()))
                if (line.value("event", "") == "telegram.resumed")
                    resumed_first = line.value("updates", std::size_t{0});
            // The next start finds nothing left to move or to answer.
            auto again = start(folder, api.base(), "serve-2.log");
            co_await serve::wait_listening(*again);
            again->signal(SIGTERM);
            second_exit = co_await serve::wait_exit(*again, 30s);
            for (const auto& line : serve::log_lines(again->log()))
                if (line.value("event", "") == "telegram.resumed")
                    resumed_second = line.value("updates", std::size_t{0});
        },
        120s);
    REQUIRE(first_exit);
    CHECK(*first_exit == 0);
    REQUIRE(second_exit);
    CHECK(*second_exit == 0);
    CHECK(resumed_first == 1);
    CHECK(resumed_second == 0);
    CHECK(redelivered == 200);
    CHECK(old_redelivered == 200);
    CHECK(sent_first == one_reply); // the turn's reply, once
    CHECK(sends_to_chat() == one_reply);
    auto st = stored_state(folder.db(), chat);
    REQUIRE(st);
    CHECK(st->value("turns", 0) == 1);
    // The store's file holds conversations only now.
    sqlite3* h = nullptr;
    REQUIRE(sqlite3_open_v2(folder.db().c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(h, "SELECT 1 FROM sqlite_master WHERE name = 'telegram_updates'", -1, &s,
                       nullptr);
    CHECK(sqlite3_step(s) == SQLITE_DONE);
    sqlite3_finalize(s);
    sqlite3_close(h);
    struct stat fst {};
    REQUIRE(::stat(folder.update_log().c_str(), &fst) == 0);
    CHECK((fst.st_mode & 0777) == 0600);
}

TEST_CASE("limits: the widget's API is limited per client address with 429, a slow_down frame "
          "and Retry-After, the Telegram webhook is not",
          "[limits][e2e]") {
    fault_folder folder;
    {
        std::ifstream in(folder.config);
        auto cfg = json::parse(in);
        cfg["server"]["per_source_per_minute"] = 1;
        cfg["server"]["per_source_burst"] = 3;
        std::ofstream(folder.config) << cfg.dump(2);
    }
    net::io_context ioc;
    fake_api api(ioc);
    auto serve = start(folder, api.base(), "serve.log");
    std::vector<int> widget, telegram;
    std::string retry_after, code;
    run_test(ioc, [&]() -> awaitable<void> {
        auto port = co_await serve::wait_listening(*serve);
        http::http_client c(ioc.get_executor());
        for (int i = 0; i < 5; ++i) {
            auto r = co_await c.request(
                post_json(serve::url(port, "/widget/api"), R"({"type":"start","language":"en"})"));
            widget.push_back(r.response.status);
            if (r.response.status == 429) {
                retry_after = std::string(r.response.header("Retry-After"));
                auto j = json::parse(r.response.body, nullptr, false);
                if (j.is_object() && j["frames"].is_array() && !j["frames"].empty())
                    code = j["frames"][0].value("code", "");
            }
        }
        for (int i = 0; i < 5; ++i) {
            std::int64_t chat = 5'000'000 + i;
            auto r = co_await c.request(post_json(serve::url(port, "/webhooks/telegram"),
                                                  update_json(chat, chat * 1000, "/start"),
                                                  secret_header()));
            telegram.push_back(r.response.status);
        }
        serve->signal(SIGTERM);
        co_await serve::wait_exit(*serve, 30s);
    });
    CHECK(widget == std::vector<int>{200, 200, 200, 429, 429});
    CHECK(code == "slow_down");
    REQUIRE_FALSE(retry_after.empty());
    CHECK(std::stoi(retry_after) >= 1);
    CHECK(telegram == std::vector<int>{200, 200, 200, 200, 200});
}

namespace {

// A bare WebSocket client (RFC 6455, text frames only), enough to talk to the widget.
struct ws_client {
    net::ip::tcp::socket sock;
    std::string buffer;

    explicit ws_client(net::any_io_executor ex) : sock(ex) {}

    awaitable<bool> open(std::uint16_t port, const std::string& path) {
        co_await sock.async_connect({net::ip::make_address("127.0.0.1"), port}, use_tuple);
        std::string req = "GET " + path +
                          " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: "
                          "Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                          "Sec-WebSocket-Version: 13\r\n\r\n";
        auto [wec, wn] = co_await net::async_write(sock, net::buffer(req), use_tuple);
        if (wec)
            co_return false;
        char buf[4096];
        while (buffer.find("\r\n\r\n") == std::string::npos) {
            auto [ec, n] = co_await sock.async_read_some(net::buffer(buf), use_tuple);
            if (ec)
                co_return false;
            buffer.append(buf, n);
        }
        bool ok = buffer.rfind("HTTP/1.1 101", 0) == 0;
        buffer.erase(0, buffer.find("\r\n\r\n") + 4);
        co_return ok;
    }

    awaitable<void> send(const std::string& text) {
        std::string f;
        f.push_back(static_cast<char>(0x81));
        const unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
        if (text.size() < 126) {
            f.push_back(static_cast<char>(0x80 | text.size()));
        } else {
            f.push_back(static_cast<char>(0x80 | 126));
            f.push_back(static_cast<char>((text.size() >> 8) & 0xff));
            f.push_back(static_cast<char>(text.size() & 0xff));
        }
        for (unsigned char m : mask)
            f.push_back(static_cast<char>(m));
        for (std::size_t i = 0; i < text.size(); ++i)
            f.push_back(static_cast<char>(static_cast<unsigned char>(text[i]) ^ mask[i % 4]));
        co_await net::async_write(sock, net::buffer(f), use_tuple);
    }

    // The next text message, or nullopt when the socket closed or limit passed.
    awaitable<std::optional<std::string>> next(std::chrono::milliseconds limit) {
        auto end = std::chrono::steady_clock::now() + limit;
        char buf[4096];
        for (;;) {
            if (buffer.size() >= 2) {
                std::size_t len = static_cast<unsigned char>(buffer[1]) & 0x7f, head = 2;
                if (len == 126 && buffer.size() >= 4) {
                    len = (static_cast<unsigned char>(buffer[2]) << 8) |
                          static_cast<unsigned char>(buffer[3]);
                    head = 4;
                }
                if (len < 126 || head == 4) {
                    if (buffer.size() >= head + len) {
                        int opcode = static_cast<unsigned char>(buffer[0]) & 0x0f;
                        std::string payload = buffer.substr(head, len);
                        buffer.erase(0, head + len);
                        if (opcode == 1)
                            co_return payload;
                        if (opcode == 8)
                            co_return std::nullopt;
                        continue; // pings and others
                    }
                }
            }
            if (std::chrono::steady_clock::now() > end)
                co_return std::nullopt;
            net::steady_timer guard(sock.get_executor(), end - std::chrono::steady_clock::now());
            guard.async_wait([this](boost::system::error_code ec) {
                if (!ec)
                    sock.cancel();
            });
            auto [ec, n] = co_await sock.async_read_some(net::buffer(buf), use_tuple);
            guard.cancel();
            if (ec)
                co_return std::nullopt;
            buffer.append(buf, n);
        }
    }
};

// Outside the coroutines: g++ 12 miscompiles braced JSON initialisers holding string
// literals after a co_await.
std::string message_frame(const std::string& id, const std::string& text) {
    json f = json::object();
    f["type"] = "message";
    f["client_msg_id"] = id;
    f["text"] = text;
    return f.dump();
}

} // namespace

TEST_CASE("limits: widget WebSocket messages beyond the per-address limit get a slow_down frame",
          "[limits][e2e]") {
    fault_folder folder;
    {
        std::ifstream in(folder.config);
        auto cfg = json::parse(in);
        cfg["server"]["per_source_per_minute"] = 1;
        cfg["server"]["per_source_burst"] = 4; // the handshake, start, and two messages
        std::ofstream(folder.config) << cfg.dump(2);
    }
    net::io_context ioc;
    fake_api api(ioc);
    auto serve = start(folder, api.base(), "serve.log");
    bool opened = false;
    std::vector<json> frames;
    run_test(ioc, [&]() -> awaitable<void> {
        auto port = co_await serve::wait_listening(*serve);
        ws_client ws(ioc.get_executor());
        opened = co_await ws.open(port, "/widget/socket");
        REQUIRE(opened);
        co_await ws.send(R"({"type":"start","language":"en"})");
        for (int i = 1; i <= 3; ++i)
            co_await ws.send(R"({"type":"message","client_msg_id":"m)" + std::to_string(i) +
                             R"(","text":"hi"})");
        // Read until the refusal of m3 shows up (or a generous guard passes).
        for (;;) {
            auto f = co_await ws.next(20s);
            if (!f)
                break;
            frames.push_back(json::parse(*f, nullptr, false));
            if (frames.back().value("code", "") == "slow_down")
                break;
        }
        serve->signal(SIGTERM);
        co_await serve::wait_exit(*serve, 30s);
    });
    bool ready = false, acked_m1 = false, slow_m3 = false;
    for (const auto& f : frames) {
        ready = ready || f.value("type", "") == "ready";
        acked_m1 =
            acked_m1 || (f.value("type", "") == "ack" && f.value("client_msg_id", "") == "m1");
        slow_m3 =
            slow_m3 || (f.value("code", "") == "slow_down" && f.value("client_msg_id", "") == "m3");
    }
    CHECK(ready);
    CHECK(acked_m1);
    CHECK(slow_m3);
}

TEST_CASE("load: thousands of widget WebSocket conversations held open at once, every reply in "
          "order",
          "[load][e2e]") {
    // TANDEM_SOAK_SOCKETS sessions are all opened first and stay open until every one has
    // finished TANDEM_SOAK_SOCKET_TURNS turns.
    const std::size_t sockets = env_size("TANDEM_SOAK_SOCKETS", 2000);
    {
        // Two descriptors per session (this process and tandem serve, which inherits the
        // limit): raise the soft limit to the hard one.
        rlimit lim{};
        getrlimit(RLIMIT_NOFILE, &lim);
        lim.rlim_cur = lim.rlim_max;
        setrlimit(RLIMIT_NOFILE, &lim);
        INFO("open files allowed: " << lim.rlim_cur);
        REQUIRE(lim.rlim_cur >= sockets + 256);
    }
    const std::size_t turns = std::min(env_size("TANDEM_SOAK_SOCKET_TURNS", 6), script.size());
    fault_folder folder;
    {
        std::ifstream in(folder.config);
        auto cfg = json::parse(in);
        cfg["server"]["max_connections"] = sockets + 100;
        cfg["server"]["per_source_per_minute"] = 0; // every client is 127.0.0.1 here
        std::ofstream(folder.config) << cfg.dump(2);
    }
    net::io_context ioc;
    fake_api api(ioc);
    auto serve = start(folder, api.base(), "serve.log");
    std::size_t opened = 0, ready = 0, finished = 0, in_order = 0, greeted = 0;
    std::size_t peak_open = 0;
    double seconds = 0;
    run_test(
        ioc,
        [&]() -> awaitable<void> {
            auto port = co_await serve::wait_listening(*serve);
            auto t0 = std::chrono::steady_clock::now();
            auto done = std::make_shared<std::size_t>(0);
            for (std::size_t i = 0; i < sockets; ++i) {
                net::co_spawn(
                    ioc,
                    [&, done]() -> awaitable<void> {
                        ws_client ws(ioc.get_executor());
                        bool ok = co_await ws.open(port, "/widget/socket");
                        if (ok)
                            ++opened;
                        peak_open = std::max(peak_open, opened - finished);
                        if (ok) {
                            co_await ws.send(R"({"type":"start","language":"en"})");
                            while (auto f = co_await ws.next(60s))
                                if (json::parse(*f, nullptr, false).value("type", "") == "ready") {
                                    ++ready;
                                    break;
                                }
                        }
                        // Everyone is in before anyone talks: all sessions live at once.
                        co_await eventually([&] { return ready >= sockets; }, 120s);
                        std::size_t answered = 0;
                        bool hello = false;
                        for (std::size_t t = 0; ok && t < turns; ++t) {
                            auto id = "m" + std::to_string(t);
                            co_await ws.send(message_frame(id, script[t]));
                            bool got = false;
                            while (auto f = co_await ws.next(60s)) {
                                auto j = json::parse(*f, nullptr, false);
                                if (j.value("type", "") != "bot")
                                    continue;
                                if (j.value("reply_to", "") != id)
                                    break; // out of order
                                got = !j["texts"].empty();
                                if (t == 0)
                                    hello = j["texts"].dump().find("HELLO") != std::string::npos;
                                break;
                            }
                            if (!got)
                                break;
                            ++answered;
                        }
                        in_order += answered == turns;
                        greeted += hello;
                        ++finished;
                        // Stay open until everyone has finished.
                        co_await eventually([&] { return finished >= sockets; }, 120s);
                        ++*done;
                    },
                    net::detached);
            }
            co_await eventually([&] { return *done >= sockets; }, 300s);
            seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            serve->signal(SIGTERM);
            co_await serve::wait_exit(*serve, 30s);
        },
        400s);
    CHECK(opened == sockets);
    CHECK(ready == sockets);
    CHECK(in_order == sockets);
    CHECK(greeted == sockets);
    WARN("widget soak: " << sockets << " WebSocket sessions open at once (peak " << peak_open
                         << "), " << turns << " turns each (" << sockets * turns << " turns) in "
                         << seconds << " s; every reply in order: " << in_order);
}

namespace {

std::optional<json> stored_state_of(const std::string& db, const std::string& key) {
    sqlite3* h = nullptr;
    if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
        sqlite3_close(h);
        return std::nullopt;
    }
    std::optional<json> out;
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(h, "SELECT state FROM conversations WHERE key = ?1", -1, &s, nullptr);
    sqlite3_bind_text(s, 1, key.c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(s) == SQLITE_ROW)
        out = json::parse(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)), nullptr, false);
    sqlite3_finalize(s);
    sqlite3_close(h);
    return out;
}

std::int64_t count_rows(const std::string& db, const std::string& query) {
    sqlite3* h = nullptr;
    std::int64_t n = -1;
    if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
        sqlite3_stmt* s = nullptr;
        if (sqlite3_prepare_v2(h, query.c_str(), -1, &s, nullptr) == SQLITE_OK &&
            sqlite3_step(s) == SQLITE_ROW)
            n = sqlite3_column_int64(s, 0);
        sqlite3_finalize(s);
    }
    sqlite3_close(h);
    return n;
}

} // namespace

TEST_CASE("faults: kill -9 after a Discord deferral, restart: one PATCH @original with the "
          "stored reply, one turn",
          "[faults][discord][e2e]") {
    // The turn cannot commit while the test holds the store's write lock, so the interaction
    // is deferred (inline_wait_ms 0) whatever the machine's load. The first PATCH @original
    // hangs, so the process dies after the turn was committed and before the follow-up was
    // delivered.
    serve::folder f(json{{"store", {{"kind", "sqlite"}}}, {"discord", {{"inline_wait_ms", 0}}}});
    net::io_context ioc;
    fake_api api(ioc, R"({"id":"1"})");
    api.push({200, R"({"id":"1"})", 60000ms, {}});
    test_signer signer;
    std::vector<std::string> env = {"DISCORD_PUBLIC_KEY=" + signer.public_hex(),
                                    "DISCORD_API_BASE=" + api.base()};
    const std::string id = "1190000000000000001";
    const std::string user = "5001";
    auto first = serve::start(f, env, "serve1.log");
    std::unique_ptr<child_process> second;
    std::optional<int> second_exit;
    run_test(
        ioc,
        [&]() -> awaitable<void> {
            auto port = co_await serve::wait_listening(*first);
            sqlite3* lock = nullptr;
            REQUIRE(sqlite3_open_v2(f.path("data/tandem.sqlite").c_str(), &lock,
                                    SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
            sqlite3_busy_timeout(lock, 5000);
            REQUIRE(sqlite3_exec(lock, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
            http::http_client c(ioc.get_executor());
            auto body = serve::discord_command(id, user, "I feel smothered");
            auto d = co_await c.request(post_json(serve::url(port, "/webhooks/discord"), body,
                                                  serve::discord_headers(signer, body)));
            sqlite3_exec(lock, "COMMIT", nullptr, nullptr, nullptr); // the turn commits now
            sqlite3_close(lock);
            CHECK(d.response.status == 200);
            CHECK(json::parse(d.response.body, nullptr, false)["type"] == 5);
            bool patching = co_await eventually([&] { return api.count() >= 1; }, 30s);
            REQUIRE(patching);
            first->signal(SIGKILL);
            co_await serve::wait_exit(*first, 30s);

            second = serve::start(f, env, "serve2.log");
            co_await serve::wait_listening(*second);
            bool patched = co_await eventually([&] { return api.count() >= 2; }, 30s);
            CHECK(patched);
            co_await sleep_for(300ms); // room for a second PATCH, which must not come
            second->signal(SIGTERM);
            second_exit = co_await serve::wait_exit(*second, 30s);
        },
        120s);
    CHECK(second_exit == 0);
    auto calls = api.calls();
    REQUIRE(calls.size() == 2);
    for (const auto& c : calls) {
        CHECK(c.method == "PATCH");
        CHECK(c.path == "/webhooks/4242/tok-" + id + "/messages/@original");
    }
    CHECK(calls[1].json()["content"] == calls[0].json()["content"]); // the stored reply
    CHECK(serve::count_events(*second, "discord.resumed") == 1);
    auto state = stored_state_of(f.path("data/tandem.sqlite").string(), "discord:" + user);
    REQUIRE(state);
    CHECK((*state)["turns"] == 1); // applied once, not again at the restart
    auto inbox = f.path("data/discord-inbox.sqlite").string();
    CHECK(count_rows(inbox, "SELECT COUNT(*) FROM discord_inbox WHERE payload IS NOT NULL") == 0);
    // Message text is never logged, by either run.
    CHECK(first->log().find("I feel smothered") == std::string::npos);
    CHECK(second->log().find("I feel smothered") == std::string::npos);
}
