// The Telegram webhook on a shared Redis store, acknowledging each update only once its
// turn is committed and its reply sent (what `tandem serve` does with store.kind "redis").
// A Redis that goes away gives Telegram a 503 (it retries) and loses nothing; a redelivered
// update is never a second turn. Redis runs as a private redis-server on a unix socket.
#include "adapters/telegram/telegram_adapter.hpp"
#include "bot/bot_service.hpp"
#include "bot/conversation_store.hpp"
#include "test_support.hpp"
#include "tests/support/redis_server.hpp"

#include <catch2/catch.hpp>

using namespace tandem::test;
using nlohmann::json;
namespace tg = tandem::adapters::telegram;
namespace bot = tandem::bot;

namespace {

const std::string secret = "redis_test_secret";
constexpr std::int64_t chat = 777001;

std::string update(std::int64_t id, const std::string& text, std::int64_t to = chat) {
    json from = {{"id", to}, {"is_bot", false}, {"first_name", "Sam"}};
    json c = {{"id", to}, {"type", "private"}};
    json m = {
        {"message_id", id}, {"from", from}, {"chat", c}, {"date", 1735689600}, {"text", text}};
    return json{{"update_id", id}, {"message", m}}.dump();
}

// The adapter over a real bot_service: conversations in store_redis, the update log in
// dedupe_redis (the same server in production; two here, so one can fail alone).
struct redis_env {
    net::io_context ioc;
    fake_api api{ioc};
    std::shared_ptr<bot::conversation_store> store;
    std::unique_ptr<bot::bot_service> core;
    http::http_client client{ioc.get_executor()};
    std::shared_ptr<tg::update_dedupe> dedupe;
    std::shared_ptr<tg::telegram_adapter> adapter;
    std::unique_ptr<http::http_server> server;
    std::uint16_t port = 0;

    redis_env(const redis_server& store_redis, const redis_server& dedupe_redis) {
        auto opts = store_redis.options("t:");
        opts.command_timeout_ms = 2000;
        store = bot::make_redis_store(opts);
        bot::config cfg;
        cfg.core.threads = 2;
        core = std::make_unique<bot::bot_service>(load_ok(fixture_paths()), store, cfg);
        tg::telegram_config tc;
        tc.token = "123456:TEST-token";
        tc.secret = secret;
        tc.api_base = api.base();
        tc.per_chat_interval = 0ms;
        tc.ack_after_turn = true;
        dedupe = tg::make_redis_dedupe(dedupe_redis.options("t:"));
        adapter = std::make_shared<tg::telegram_adapter>(ioc.get_executor(), tc, *core, client,
                                                         nullptr, dedupe);
        auto routes = std::make_shared<http::router>();
        routes->add(adapter->route());
        http::server_config sc;
        sc.port = 0;
        server = std::make_unique<http::http_server>(ioc.get_executor(), sc, routes, nullptr);
        port = server->start();
    }
    ~redis_env() { core->stop(); }

    awaitable<int> post(const std::string& body) {
        http::header_list h;
        h.emplace_back("X-Telegram-Bot-Api-Secret-Token", secret);
        http::http_client c(ioc.get_executor());
        auto r = co_await c.request(
            post_json("http://127.0.0.1:" + std::to_string(port) + "/webhooks/telegram", body, h));
        co_return r.response.status;
    }
    std::size_t replies() { return api.calls_named("sendMessage").size(); }
};

} // namespace

TEST_CASE("telegram on redis: acknowledged only after the reply, a dead Redis is a 503 and "
          "the redelivery is answered once",
          "[telegram][redis][faults]") {
    redis_server redis(true);
    redis_env env(redis, redis);
    run_test(env.ioc, [&]() -> awaitable<void> {
        int status = 0;
        status = co_await env.post(update(1, "/start"));
        CHECK(status == 200);
        // Acknowledged after the turn: the reply is already out when the 200 arrives.
        CHECK(env.replies() == 1);
        auto greeting = env.api.calls_named("sendMessage").back().json()["text"];

        redis.kill();
        status = co_await env.post(update(2, "i need some space"));
        CHECK(status == 503);
        CHECK(env.replies() == 1); // no apology, no half turn: Telegram will retry

        redis.start(); // the append-only file brings everything back
        status = co_await env.post(update(2, "i need some space"));
        CHECK(status == 200);
        CHECK(env.replies() == 2);
        // Redelivered again (say the 200 got lost): acknowledged, not answered twice.
        status = co_await env.post(update(2, "i need some space"));
        CHECK(status == 200);
        CHECK(env.replies() == 2);
        status = co_await env.post(update(1, "/start"));
        CHECK(status == 200);
        CHECK(env.replies() == 2);
        co_return;
    });
}

TEST_CASE("telegram on redis: a turn whose store fails is released and runs on redelivery",
          "[telegram][redis][faults]") {
    redis_server conversations(true), updates;
    redis_env env(conversations, updates);
    run_test(env.ioc, [&]() -> awaitable<void> {
        int status = 0;
        status = co_await env.post(update(10, "/start"));
        CHECK(status == 200);
        CHECK(env.replies() == 1);
        // The update log works, the conversation store does not: the claim succeeds, the
        // turn fails, the claim is released and Telegram hears 503.
        conversations.kill();
        status = co_await env.post(update(11, "i need some space"));
        CHECK(status == 503);
        CHECK(env.replies() == 1); // the apology is not sent: the retry will answer
        conversations.start();
        status = co_await env.post(update(11, "i need some space"));
        CHECK(status == 200);
        CHECK(env.replies() == 2);
        co_return;
    });
    auto state = env.store->load("telegram:" + std::to_string(chat));
    REQUIRE(state.has_value());
    CHECK(json::parse(*state)["answered_ids"].back() == "11");
}

TEST_CASE("telegram on redis: a reply that could not be sent is sent on redelivery, and the "
          "turn is not run twice",
          "[telegram][redis][faults]") {
    redis_server redis;
    redis_env env(redis, redis);
    run_test(env.ioc, [&]() -> awaitable<void> {
        int status = 0;
        status = co_await env.post(update(20, "/start"));
        CHECK(status == 200);
        auto before = env.store->load_versioned("telegram:" + std::to_string(chat)).value();
        // The Bot API fails for good (400): the turn is committed, the reply is not out.
        fake_api::scripted fail;
        fail.status = 400;
        fail.body = R"({"ok":false,"error_code":400,"description":"Bad Request"})";
        env.api.push(fail);
        status = co_await env.post(update(21, "i need some space"));
        CHECK(status == 503);
        auto after = env.store->load_versioned("telegram:" + std::to_string(chat)).value();
        CHECK(after.version == before.version + 1); // one turn committed
        auto failed_text = env.api.calls_named("sendMessage").back().json()["text"];
        // Telegram redelivers: the same reply goes out, from the stored turn.
        status = co_await env.post(update(21, "i need some space"));
        CHECK(status == 200);
        CHECK(env.api.calls_named("sendMessage").back().json()["text"] == failed_text);
        auto again = env.store->load_versioned("telegram:" + std::to_string(chat)).value();
        CHECK(again.version == after.version); // no second turn
        CHECK(again.json == after.json);
        co_return;
    });
}

TEST_CASE("telegram on redis: forget me removes the chat's update records too",
          "[telegram][redis][privacy]") {
    redis_server redis;
    redis_env env(redis, redis);
    tandem::bot::redis::client raw(redis.options());
    auto keys = [&](const std::string& pattern) {
        return raw.command({"KEYS", pattern}, true).elements.size();
    };
    run_test(env.ioc, [&]() -> awaitable<void> {
        int status = 0;
        status = co_await env.post(update(40, "/start"));
        CHECK(status == 200);
        status = co_await env.post(update(41, "i need some space"));
        CHECK(status == 200);
        status = co_await env.post(update(50, "/start", chat + 1)); // someone else
        CHECK(status == 200);
        CHECK(keys("t:tg:u:*") == 3);
        CHECK(keys("t:tg:chat:" + std::to_string(chat)) == 1);
        status = co_await env.post(update(42, "/forget"));
        CHECK(status == 200);
        co_return;
    });
    // Nothing says this chat ever wrote: no state, no update ids, no per-chat set.
    CHECK_FALSE(env.store->load("telegram:" + std::to_string(chat)).has_value());
    CHECK(keys("t:tg:chat:" + std::to_string(chat)) == 0);
    CHECK(keys("t:tg:u:4*") == 0);
    // The other chat keeps its record and its conversation.
    CHECK(keys("t:tg:u:50") == 1);
    CHECK(env.store->load("telegram:" + std::to_string(chat + 1)).has_value());
    CHECK(env.dedupe->size() == 1);
}
