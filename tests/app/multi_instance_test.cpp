// Two `tandem serve` processes on one redis-server, as behind a load balancer. Many
// Telegram conversations run at once, each message going to the other instance than the
// one before. Mid-run one instance is killed with SIGKILL while it is in the middle of
// answering; the updates it never acknowledged are delivered again to the survivor (as
// Telegram does). Every conversation must complete with its whole transcript, each reply
// delivered exactly once, every turn applied exactly once. Nothing leaves this machine.
#include "bot/conversation_store.hpp"
#include "tests/adapters/test_support.hpp"
#include "tests/app/serve_support.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/process.hpp"
#include "tests/support/redis_server.hpp"

#include <boost/asio/detached.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>

using namespace tandem::test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::string tg_secret = "multi_instance_secret";
constexpr std::int64_t first_chat = 8800100;
constexpr int conversations = 16;
// Each conversation: open the smothered dialog, pick "friend", answer, rate.
const std::vector<std::string> script = {"i need some space", "a friend", "go dancing", "2"};
const std::string last_reply = "LOW: 2 out of 10 is not much.";

std::uint16_t listening_port(const child_process& p) {
    for (const auto& l : serve::log_lines(p.log()))
        if (l.value("event", "") == "http.listening")
            return l.value("port", std::uint16_t{0});
    return 0;
}

// One instance: its own folder (config, log), the shared Redis, its own fake Bot API (so
// the test knows which instance sent what).
struct instance {
    temp_dir dir;
    std::unique_ptr<child_process> proc;
    std::uint16_t port = 0;
    bool alive = true;
    int in_flight = 0; // webhook requests sent to it and not answered yet

    instance(const redis_server& redis, const fake_api& api) {
        fs::create_directories(dir.path() / "config");
        json cfg = {
            {"schema_version", 1},
            {"data_dir", "data"},
            {"content",
             {{"intents_dir", (fixture_content() / "intents").string()},
              {"dialogs_dir", (fixture_content() / "dialogs").string()},
              {"resources_file", (fixture_content() / "resources.json").string()},
              {"locales_file", (fixture_content() / "locales.json").string()}}},
            {"store", {{"kind", "redis"}, {"unix_socket", redis.socket()}, {"key_prefix", "mi:"}}},
            {"core", {{"threads", 2}}},
            {"server", {{"shutdown_grace_ms", 3000}}},
            // A lease short enough that a killed instance's claims lapse soon, long enough to
            // outlast one turn under a sanitizer on a busy box (with 2 s a reply once went out
            // twice, most likely a turn outliving its lease; docs/deployment.md, "A lease must
            // outlast a turn").
            {"telegram", {{"per_chat_interval_ms", 0}, {"claim_lease_seconds", 5}}}};
        auto config = (dir.path() / "config" / "tandem.json").string();
        std::ofstream(config) << cfg.dump(2);
        std::vector<std::string> argv{tandem_bin(), "serve",    "--config",
                                      config,       "--listen", "127.0.0.1:0"};
        proc = std::make_unique<child_process>(
            argv,
            std::vector<std::string>{"TELEGRAM_BOT_TOKEN=77:MULTI",
                                     "TELEGRAM_WEBHOOK_SECRET=" + tg_secret,
                                     "TELEGRAM_API_BASE=" + api.base()},
            std::vector<std::string>{"DISCORD_PUBLIC_KEY", "DISCORD_APPLICATION_ID",
                                     "DISCORD_BOT_TOKEN", "DISCORD_API_BASE"},
            (dir.path() / "serve.log").string());
    }
    std::string url(const std::string& path) const {
        return "http://127.0.0.1:" + std::to_string(port) + path;
    }
};

std::string update(std::int64_t id, std::int64_t chat, const std::string& text) {
    json from = {{"id", chat}, {"is_bot", false}, {"first_name", "Sam"}};
    json c = {{"id", chat}, {"type", "private"}};
    json m = {
        {"message_id", id}, {"from", from}, {"chat", c}, {"date", unix_now()}, {"text", text}};
    return json{{"update_id", id}, {"message", m}}.dump();
}

http::client_request get(std::string url) {
    http::client_request r;
    r.method = "GET";
    r.url = std::move(url);
    return r;
}

// The replies the fake Bot API answered, per chat, in order (calls from index `from` on).
std::map<std::int64_t, std::vector<std::string>> replies(const fake_api& api, std::size_t upto) {
    std::map<std::int64_t, std::vector<std::string>> out;
    auto calls = api.calls_named("sendMessage");
    for (std::size_t i = 0; i < calls.size() && i < upto; ++i) {
        auto j = calls[i].json();
        out[j["chat_id"].get<std::int64_t>()].push_back(j["text"].get<std::string>());
    }
    return out;
}

} // namespace

TEST_CASE("multi-instance: two serve processes on one Redis, one killed mid-run, every "
          "conversation completes, nothing lost, nothing answered twice",
          "[serve][redis][e2e]") {
    redis_server redis(true); // kept across the stop at the end
    net::io_context ioc;
    fake_api api_a(ioc), api_b(ioc);
    std::vector<std::unique_ptr<instance>> inst;
    inst.push_back(std::make_unique<instance>(redis, api_a));
    inst.push_back(std::make_unique<instance>(redis, api_b));
    std::size_t stall_from = static_cast<std::size_t>(-1); // api_a's calls from here hang
    int acknowledged = 0, redelivered = 0, answered_503 = 0;
    bool killed = false;
    int stuck_in_a = 0;
    std::vector<int> completed(conversations, 0);
    int readyz_a = 0, readyz_b = 0, readyz_down = 0, webhook_down = 0;

    run_test(
        ioc,
        [&]() -> awaitable<void> {
            for (auto& i : inst) {
                bool up = co_await eventually(
                    [&] { return (i->port = listening_port(*i->proc)) != 0; }, 30s);
                REQUIRE(up);
            }
            http::http_client probe(ioc.get_executor());
            auto ra = co_await probe.request(get(inst[0]->url("/readyz")));
            auto rb = co_await probe.request(get(inst[1]->url("/readyz")));
            readyz_a = ra.response.status;
            readyz_b = rb.response.status;

            // One coroutine per conversation; each waits for its message's 200 before the
            // next (a person waits for the answer), alternating instances.
            int running = conversations;
            for (int c = 0; c < conversations; ++c) {
                net::co_spawn(
                    ioc,
                    [&, c]() -> awaitable<void> {
                        std::int64_t chat = first_chat + c;
                        for (int n = 0; n < static_cast<int>(script.size()); ++n) {
                            std::int64_t id = chat * 100 + n;
                            auto body = update(id, chat, script[static_cast<std::size_t>(n)]);
                            int pick = (c + n) % 2;
                            bool first_try = true;
                            for (int attempt = 0;; ++attempt) {
                                if (attempt > 600)
                                    throw std::runtime_error("update never acknowledged");
                                if (!inst[static_cast<std::size_t>(pick)]->alive)
                                    pick = 1 - pick;
                                auto& target = *inst[static_cast<std::size_t>(pick)];
                                if (!first_try)
                                    ++redelivered;
                                first_try = false;
                                http::header_list h;
                                h.emplace_back("X-Telegram-Bot-Api-Secret-Token", tg_secret);
                                http::http_client client(ioc.get_executor());
                                ++target.in_flight;
                                auto r = co_await client.request(
                                    post_json(target.url("/webhooks/telegram"), body, h));
                                --target.in_flight;
                                if (r.ok()) {
                                    ++acknowledged;
                                    break;
                                }
                                if (r.response.status == 503)
                                    ++answered_503;
                                // No answer (killed) or 503 (busy): Telegram delivers again.
                                co_await sleep_for(50ms);
                            }
                            completed[static_cast<std::size_t>(c)] = n + 1;
                        }
                        --running;
                    },
                    net::detached);
            }

            // Mid-run: instance A stops getting answers from its Bot API (every reply it
            // sends from now on hangs), and once each request it holds is stuck there, it
            // is killed: those updates were claimed, their turns committed, their replies
            // never delivered, and no 200 went back.
            int half = conversations * static_cast<int>(script.size()) / 2;
            bool reached = co_await eventually([&] { return acknowledged >= half; }, 60s);
            REQUIRE(reached);
            {
                stall_from = api_a.calls_named("sendMessage").size();
                for (int i = 0; i < 1000; ++i) {
                    fake_api::scripted hang;
                    hang.delay = std::chrono::hours(1);
                    hang.body = R"({"ok":true,"result":{"message_id":1}})";
                    api_a.push(hang);
                }
            }
            bool stuck = co_await eventually(
                [&] {
                    auto hung = api_a.calls_named("sendMessage").size() - stall_from;
                    return hung > 0 && inst[0]->in_flight == static_cast<int>(hung);
                },
                30s);
            REQUIRE(stuck); // at least one unacknowledged update dies with A
            stuck_in_a = inst[0]->in_flight;
            inst[0]->proc->signal(SIGKILL);
            inst[0]->proc->wait_exit(10s);
            inst[0]->alive = false;
            killed = true;

            bool all_done = co_await eventually([&] { return running == 0; }, 120s);
            REQUIRE(all_done);

            // Redis down: the survivor says so and refuses updates with 503.
            redis.stop();
            auto rd = co_await probe.request(get(inst[1]->url("/readyz")));
            readyz_down = rd.response.status;
            http::header_list h;
            h.emplace_back("X-Telegram-Bot-Api-Secret-Token", tg_secret);
            auto wd = co_await probe.request(
                post_json(inst[1]->url("/webhooks/telegram"), update(999, first_chat, "hello"), h));
            webhook_down = wd.response.status;
            redis.start();
        },
        240s);

    CHECK(killed);
    CHECK(stuck_in_a > 0);
    CHECK(readyz_a == 200);
    CHECK(readyz_b == 200);
    CHECK(readyz_down == 503);
    CHECK(webhook_down == 503);
    INFO("acknowledged " << acknowledged << ", deliveries again " << redelivered << ", 503s "
                         << answered_503 << ", stuck in A when killed " << stuck_in_a);
    CHECK(acknowledged == conversations * static_cast<int>(script.size()));
    for (int c = 0; c < conversations; ++c)
        CHECK(completed[static_cast<std::size_t>(c)] == static_cast<int>(script.size()));

    // Delivered replies: A's answered ones (before its Bot API hung) and all of B's.
    auto from_a = replies(api_a, stall_from);
    auto from_b = replies(api_b, static_cast<std::size_t>(-1));
    CHECK_FALSE(from_a.empty()); // both instances really answered
    CHECK_FALSE(from_b.empty());
    for (int c = 0; c < conversations; ++c) {
        std::int64_t chat = first_chat + c;
        // Each turn's reply came from A or from B; the order is checked through the state.
        std::vector<std::string> all = from_a[chat];
        all.insert(all.end(), from_b[chat].begin(), from_b[chat].end());
        INFO("chat " << chat);
        CHECK(all.size() == script.size()); // each reply exactly once, none lost
        CHECK(std::count_if(all.begin(), all.end(), [](const std::string& t) {
                  return t.find(last_reply) != std::string::npos;
              }) == 1);
    }

    // Every turn applied exactly once, in order: each conversation's state is at the end of
    // the script and remembers its last update.
    auto store = tandem::bot::make_redis_store(redis.options("mi:"));
    for (int c = 0; c < conversations; ++c) {
        std::int64_t chat = first_chat + c;
        auto state = store->load("telegram:" + std::to_string(chat));
        REQUIRE(state.has_value());
        auto j = json::parse(*state);
        INFO("chat " << chat << ": " << j.dump());
        CHECK(j["stack"].back()["node"] == "more");
        // Idempotent turns: every update id answered once, the last one's reply kept.
        std::vector<std::string> ids;
        for (int t = 0; t <= 3; ++t)
            ids.push_back(std::to_string(chat * 100 + t));
        CHECK(j["answered_ids"] == json(ids));
        CHECK(j["last_reply"]["texts"][0] == last_reply);
    }
}
