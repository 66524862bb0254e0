// The Telegram webhook end to end over loopback: tandem's server and adapter, a fake core,
// and a fake Bot API server that records the outbound calls.
#include "adapters/telegram/telegram_adapter.hpp"
#include "test_support.hpp"

#include <catch2/catch.hpp>

using namespace tandem::test;
namespace tg = tandem::adapters::telegram;
using nlohmann::json;

namespace {

const std::string secret = "s3cr3t_Token-0123456789abcdef";

std::string fixture(const std::string& name) {
    return read_file(std::string(TANDEM_TEST_DATA) + "/telegram/" + name);
}

struct telegram_env {
    net::io_context ioc;
    fake_api api{ioc};
    fake_turn_service core;
    std::shared_ptr<http::metrics> stats = std::make_shared<http::metrics>();
    http::http_client client{ioc.get_executor()};
    std::shared_ptr<tg::telegram_adapter> adapter;
    std::unique_ptr<http::http_server> server;
    std::uint16_t port = 0;

    explicit telegram_env(std::function<void(tg::telegram_config&)> tweak = {},
                          std::shared_ptr<tg::update_dedupe> dedupe = nullptr) {
        tg::telegram_config cfg;
        cfg.token = "123456:TEST-token";
        cfg.secret = secret;
        cfg.api_base = api.base();
        cfg.per_chat_interval = 0ms;
        cfg.max_body_bytes = 4096;
        if (tweak)
            tweak(cfg);
        adapter = std::make_shared<tg::telegram_adapter>(ioc.get_executor(), cfg, core, client,
                                                         stats, dedupe);
        auto routes = std::make_shared<http::router>();
        routes->add(adapter->route());
        http::server_config sc;
        sc.port = 0;
        server = std::make_unique<http::http_server>(ioc.get_executor(), sc, routes, stats);
        port = server->start();
    }

    awaitable<http::client_result> post(std::string body, std::string token = secret) {
        http::header_list h;
        if (!token.empty())
            h.emplace_back("X-Telegram-Bot-Api-Secret-Token", token);
        http::http_client c(ioc.get_executor());
        co_return co_await c.request(
            post_json("http://127.0.0.1:" + std::to_string(port) + "/webhooks/telegram", body, h));
    }

    // Waits until the adapter has no work left, then a little longer to catch extra calls.
    awaitable<void> settle() {
        co_await eventually([this] { return adapter->pending() == 0; });
        co_await sleep_for(100ms);
    }
};

} // namespace

TEST_CASE("telegram: a valid update gives exactly one turn and one sendMessage", "[telegram]") {
    telegram_env env;
    run_test(env.ioc, [&]() -> awaitable<void> {
        auto r = co_await env.post(fixture("message_text.json"));
        CHECK(r.response.status == 200);
        bool ok1 = co_await eventually([&] { return env.api.count() >= 1; });
        CHECK(ok1);
        co_await env.settle();
    });
    REQUIRE(env.core.turns() == 1);
    auto in = env.core.seen().front();
    CHECK(in.channel == "telegram");
    CHECK(in.conversation_id == "521983746");
    CHECK(in.user_id == "521983746");
    CHECK(in.text == "We had a fight about chores again");
    CHECK(in.option_id.empty());
    CHECK(in.language == "pt-br");
    auto calls = env.api.calls();
    REQUIRE(calls.size() == 1);
    CHECK(calls[0].method == "POST");
    CHECK(calls[0].path == "/bot123456:TEST-token/sendMessage");
    auto body = calls[0].json();
    CHECK(body["chat_id"] == 521983746);
    CHECK(body["text"] == "hello from the core");
    CHECK(!body.contains("parse_mode"));
}

TEST_CASE("telegram: a button press answers the callback and sends the option id", "[telegram]") {
    telegram_env env;
    env.core.reply_for = [](const tandem::bot::inbound_message&) {
        tandem::bot::outbound_message m;
        m.texts = {"What happened next?"};
        m.options = {{"talk", "Talk it through"}, {"pause", "Take a pause"}};
        return m;
    };
    run_test(env.ioc, [&]() -> awaitable<void> {
        auto r = co_await env.post(fixture("callback_query.json"));
        CHECK(r.response.status == 200);
        bool ok1 = co_await eventually([&] { return env.api.count() >= 2; });
        CHECK(ok1);
        co_await env.settle();
    });
    auto answers = env.api.calls_named("answerCallbackQuery");
    REQUIRE(answers.size() == 1);
    CHECK(answers[0].json()["callback_query_id"] == "2241987650123456789");
    REQUIRE(env.core.turns() == 1);
    CHECK(env.core.seen()[0].option_id == "hurt");
    CHECK(env.core.seen()[0].text.empty());
    auto sends = env.api.calls_named("sendMessage");
    REQUIRE(sends.size() == 1);
    auto kb = sends[0].json()["reply_markup"]["inline_keyboard"];
    REQUIRE(kb.size() == 2);
    CHECK(kb[0][0]["callback_data"] == "o:talk");
    CHECK(kb[1][0]["text"] == "Take a pause");
}

TEST_CASE("telegram: a redelivered update_id is not answered twice", "[telegram]") {
    telegram_env env;
    run_test(env.ioc, [&]() -> awaitable<void> {
        auto body = fixture("message_text.json");
        auto a = co_await env.post(body);
        auto b = co_await env.post(body);
        CHECK(a.response.status == 200);
        CHECK(b.response.status == 200); // acknowledged, so Telegram stops retrying
        co_await eventually([&] { return env.api.count() >= 1; });
        co_await env.settle();
    });
    CHECK(env.core.turns() == 1);
    CHECK(env.api.calls_named("sendMessage").size() == 1);
    CHECK(env.stats->test_event_count("telegram", "duplicate_update") == 1);
}

TEST_CASE("telegram: a missing or wrong secret is refused before parsing", "[telegram]") {
    telegram_env env;
    run_test(env.ioc, [&]() -> awaitable<void> {
        auto missing = co_await env.post(fixture("message_text.json"), "");
        CHECK(missing.response.status == 401);
        auto wrong =
            co_await env.post(fixture("message_text.json"), "s3cr3t_Token-0123456789abcdeX");
        CHECK(wrong.response.status == 403);
        auto shorter = co_await env.post(fixture("message_text.json"), "s3cr3t");
        CHECK(shorter.response.status == 403);
        auto garbage = co_await env.post("not json", "wrong");
        CHECK(garbage.response.status == 403); // authentication comes first
        co_await env.settle();
    });
    CHECK(env.core.turns() == 0);
    CHECK(env.api.count() == 0);
}

TEST_CASE("telegram: malformed bodies are 400, never 5xx", "[telegram]") {
    telegram_env env;
    run_test(env.ioc, [&]() -> awaitable<void> {
        for (std::string body : {std::string("not json"), std::string("[]"), std::string("{}"),
                                 std::string(R"({"update_id":"1"})"), fixture("wrong_types.json"),
                                 std::string("{\"update_id\":1,")}) {
            auto r = co_await env.post(body);
            CHECK(r.response.status == 400);
        }
        co_await env.settle();
    });
    CHECK(env.core.turns() == 0);
    CHECK(env.api.count() == 0);
}

TEST_CASE("telegram: route limits: 413, 415, 405", "[telegram]") {
    telegram_env env;
    run_test(env.ioc, [&]() -> awaitable<void> {
        auto big = co_await env.post(R"({"update_id":1,"pad":")" + std::string(5000, 'x') + "\"}");
        CHECK(big.response.status == 413);
        http::http_client c(env.ioc.get_executor());
        auto url = "http://127.0.0.1:" + std::to_string(env.port) + "/webhooks/telegram";
        auto form = post_json(url, "update_id=1", {{"X-Telegram-Bot-Api-Secret-Token", secret}});
        form.content_type = "text/plain";
        auto r1 = co_await c.request(form);
        CHECK(r1.response.status == 415);
        http::client_request get;
        get.method = "GET";
        get.url = url;
        auto r2 = co_await c.request(get);
        CHECK(r2.response.status == 405);
        auto other =
            post_json("http://127.0.0.1:" + std::to_string(env.port) + "/webhooks/x", "{}");
        auto r3 = co_await c.request(other);
        CHECK(r3.response.status == 404);
    });
    CHECK(env.core.turns() == 0);
}

TEST_CASE("telegram: edits are acknowledged and ignored, stickers get a text-only note",
          "[telegram]") {
    telegram_env env;
    run_test(env.ioc, [&]() -> awaitable<void> {
        auto r1 = co_await env.post(fixture("edited_message.json"));
        CHECK(r1.response.status == 200);
        auto r2 = co_await env.post(fixture("sticker.json"));
        CHECK(r2.response.status == 200);
        co_await eventually([&] { return env.api.count() >= 1; });
        co_await env.settle();
    });
    CHECK(env.core.turns() == 0);
    auto sends = env.api.calls_named("sendMessage");
    REQUIRE(sends.size() == 1);
    CHECK(sends[0].json()["text"].get<std::string>().find("text") != std::string::npos);
}

TEST_CASE("telegram: group chats are pointed to a private chat", "[telegram]") {
    telegram_env env;
    run_test(env.ioc, [&]() -> awaitable<void> {
        auto r1 = co_await env.post(fixture("group_message.json"));
        CHECK(r1.response.status == 200);
        co_await eventually([&] { return env.api.count() >= 1; });
        co_await env.settle();
    });
    CHECK(env.core.turns() == 0);
    auto sends = env.api.calls_named("sendMessage");
    REQUIRE(sends.size() == 1);
    CHECK(sends[0].json()["chat_id"] == -1001987654321LL);
}

TEST_CASE("telegram: group chatter that does not address the bot gets no answer", "[telegram]") {
    telegram_env env;
    json chatter = json::parse(fixture("group_message.json"));
    chatter["message"]["text"] = "anyone up for lunch?";
    chatter["message"].erase("entities");
    json reply_to_bot = chatter;
    reply_to_bot["update_id"] = 918273700;
    reply_to_bot["message"]["reply_to_message"] = {
        {"message_id", 5},
        {"from", {{"id", 1}, {"is_bot", true}, {"first_name", "tandem"}}},
        {"chat", chatter["message"]["chat"]},
        {"date", 1}};
    run_test(env.ioc, [&]() -> awaitable<void> {
        auto a = co_await env.post(chatter.dump());
        CHECK(a.response.status == 200);
        auto b = co_await env.post(reply_to_bot.dump());
        CHECK(b.response.status == 200);
        co_await env.settle();
    });
    CHECK(env.core.turns() == 0);
    CHECK(env.api.calls_named("sendMessage").size() == 1); // only the reply to the bot
    CHECK(env.stats->test_event_count("telegram", "group_ignored") == 1);
}

TEST_CASE("telegram: /start and /forget reach the core as text", "[telegram]") {
    telegram_env env;
    run_test(env.ioc, [&]() -> awaitable<void> {
        auto r1 = co_await env.post(fixture("start_command.json"));
        CHECK(r1.response.status == 200);
        auto r2 = co_await env.post(fixture("forget_command.json"));
        CHECK(r2.response.status == 200);
        co_await eventually([&] { return env.api.count() >= 2; });
        co_await env.settle();
    });
    REQUIRE(env.core.turns() == 2);
    CHECK(env.core.seen()[0].text == "/start");             // a deep link's payload is dropped
    CHECK(env.core.seen()[1].text == "/forget@tandem_bot"); // the core strips the bot name
    CHECK(env.core.seen()[1].conversation_id == "521983746");
    CHECK(env.core.forgotten().empty()); // the core decides, not the adapter
    CHECK(env.api.calls_named("sendMessage").size() == 2);
}

TEST_CASE("telegram: a 429 from the Bot API is retried after retry_after", "[telegram]") {
    telegram_env env;
    env.api.push(
        {429,
         R"({"ok":false,"error_code":429,"description":"Too Many Requests: retry after 1","parameters":{"retry_after":1}})",
         0ms,
         {}});
    run_test(env.ioc, [&]() -> awaitable<void> {
        auto r1 = co_await env.post(fixture("message_text.json"));
        CHECK(r1.response.status == 200);
        bool ok2 = co_await eventually([&] { return env.api.count() >= 2; });
        CHECK(ok2);
        co_await env.settle();
    });
    auto sends = env.api.calls_named("sendMessage");
    REQUIRE(sends.size() == 2);
    CHECK(sends[0].body == sends[1].body);
    CHECK(env.core.turns() == 1);
    CHECK(env.stats->test_event_count("telegram", "send_failed") == 0);
}

TEST_CASE("telegram: long replies are split at 4096 and sent in order, paced per chat",
          "[telegram]") {
    telegram_env env([](tg::telegram_config& c) { c.per_chat_interval = 50ms; });
    env.core.reply_for = [](const tandem::bot::inbound_message&) {
        tandem::bot::outbound_message m;
        m.texts = {std::string(4000, 'a') + " " + std::string(4000, 'b'), std::string(4000, 'c')};
        m.options = {{"ok", "OK"}};
        return m;
    };
    run_test(env.ioc, [&]() -> awaitable<void> {
        auto r1 = co_await env.post(fixture("message_text.json"));
        CHECK(r1.response.status == 200);
        bool ok2 = co_await eventually([&] { return env.api.count() >= 3; });
        CHECK(ok2);
        co_await env.settle();
    });
    auto sends = env.api.calls_named("sendMessage");
    REQUIRE(sends.size() == 3);
    CHECK(sends[0].json()["text"] == std::string(4000, 'a'));
    CHECK(sends[1].json()["text"] == std::string(4000, 'b'));
    CHECK(sends[2].json()["text"] == std::string(4000, 'c'));
    CHECK(sends[2].json()["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "o:ok");
}

TEST_CASE("telegram: updates of one chat are handled in arrival order", "[telegram]") {
    telegram_env env;
    env.core.delay = 30ms;
    env.core.reply_for = [](const tandem::bot::inbound_message& in) {
        tandem::bot::outbound_message m;
        m.texts = {"re: " + in.text};
        return m;
    };
    run_test(env.ioc, [&]() -> awaitable<void> {
        for (int i = 0; i < 5; ++i) {
            json u = json::parse(fixture("message_text.json"));
            u["update_id"] = 1000 + i;
            u["message"]["text"] = "m" + std::to_string(i);
            auto r1 = co_await env.post(u.dump());
            CHECK(r1.response.status == 200);
        }
        bool ok2 = co_await eventually([&] { return env.api.count() >= 5; });
        CHECK(ok2);
        co_await env.settle();
    });
    auto sends = env.api.calls_named("sendMessage");
    REQUIRE(sends.size() == 5);
    for (int i = 0; i < 5; ++i)
        CHECK(sends[i].json()["text"] == "re: m" + std::to_string(i));
}

TEST_CASE("telegram: a stalled Bot API does not block acknowledging updates", "[telegram]") {
    telegram_env env([](tg::telegram_config& c) { c.request_timeout = 200ms; });
    env.api.push({200, R"({"ok":true,"result":{}})", 2000ms, {}});
    run_test(env.ioc, [&]() -> awaitable<void> {
        auto r1 = co_await env.post(fixture("message_text.json"));
        CHECK(r1.response.status == 200);
        json u = json::parse(fixture("message_text.json"));
        u["update_id"] = 5;
        auto r2 = co_await env.post(u.dump());
        CHECK(r2.response.status == 200);
        bool ok3 = co_await eventually([&] { return env.api.count() >= 2; });
        CHECK(ok3);
        co_await env.settle();
    });
    CHECK(env.core.turns() == 2);
    CHECK(env.stats->test_event_count("telegram", "send_failed") == 1);
}

TEST_CASE("telegram: a redelivered update after a restart is not answered again", "[telegram]") {
    temp_dir tmp;
    auto file = (tmp.path() / "telegram-updates.sqlite").string();
    auto body = fixture("message_text.json");
    {
        telegram_env first({}, tg::make_sqlite_dedupe(file));
        run_test(first.ioc, [&]() -> awaitable<void> {
            auto r = co_await first.post(body);
            CHECK(r.response.status == 200);
            co_await first.settle();
        });
        CHECK(first.api.calls_named("sendMessage").size() == 1);
    }
    telegram_env second({}, tg::make_sqlite_dedupe(file));
    run_test(second.ioc, [&]() -> awaitable<void> {
        auto r = co_await second.post(body);
        CHECK(r.response.status == 200); // acknowledged, so Telegram stops retrying
        co_await second.settle();
    });
    CHECK(second.core.turns() == 0);
    CHECK(second.api.count() == 0);
}

TEST_CASE("telegram: forget me removes the chat's update records from the SQLite inbox",
          "[telegram][privacy]") {
    temp_dir tmp;
    auto dedupe = tg::make_sqlite_dedupe((tmp.path() / "telegram-updates.sqlite").string());
    telegram_env env({}, dedupe);
    env.core.slash_forget_forgets = true;
    auto message = [](std::int64_t update_id, std::int64_t chat, const std::string& text) {
        json u = json::parse(fixture("message_text.json"));
        u["update_id"] = update_id;
        u["message"]["chat"]["id"] = chat;
        u["message"]["text"] = text;
        return u.dump();
    };
    const std::vector<std::string> before = {message(71, 5001, "hello"),
                                             message(72, 5002, "someone else"),
                                             message(73, 5001, "i need some space")};
    const std::string forget = message(74, 5001, "/forget");
    run_test(env.ioc, [&]() -> awaitable<void> {
        for (const auto& body : before) {
            auto r = co_await env.post(body);
            CHECK(r.response.status == 200);
        }
        co_await env.settle();
        CHECK(dedupe->size() == 3);
        auto r = co_await env.post(forget);
        CHECK(r.response.status == 200);
        co_await env.settle();
    });
    CHECK(env.api.calls_named("sendMessage").size() == 4); // the forget me reply went out
    // Nothing says chat 5001 ever wrote: its ids, the /forget one too, are gone.
    CHECK(dedupe->size() == 1);
    CHECK(dedupe->unanswered().empty());
    CHECK(dedupe->first_time(72, 0) == false); // the other chat keeps its record
    CHECK(dedupe->first_time(73, 0) == true);
}

TEST_CASE("telegram: bad input is 4xx at the webhook, never a turn", "[telegram]") {
    telegram_env env;
    json no_chat = json::parse(fixture("message_text.json"));
    no_chat["message"].erase("chat");
    json chat_id_string = json::parse(fixture("message_text.json"));
    chat_id_string["message"]["chat"]["id"] = "521983746";
    json text_number = json::parse(fixture("message_text.json"));
    text_number["message"]["text"] = 42;
    json callback_without_id = json::parse(fixture("callback_query.json"));
    callback_without_id["callback_query"].erase("id");
    std::string valid = fixture("message_text.json");
    std::vector<std::pair<std::string, int>> cases = {
        {valid.substr(0, valid.size() / 2), 400},                       // truncated
        {"{\"update_id\":1,\"message\":{\"text\":\"\xff\xfe\"}}", 400}, // invalid UTF-8
        {"{\"update_id\":1,\"message\":{\"text\":\"\xc3\"}}", 400},     // a cut sequence
        {no_chat.dump(), 400},
        {chat_id_string.dump(), 400},
        {text_number.dump(), 400},
        {callback_without_id.dump(), 400},
        {"", 400},
        {"null", 400},
        {"{\"update_id\":1.5}", 400},
        {"{\"update_id\":1,\"message\":[]}", 400},
        {std::string(5000, '{'), 413}, // over this route's 4096-byte limit
    };
    std::vector<int> got;
    run_test(env.ioc, [&]() -> awaitable<void> {
        for (const auto& c : cases) {
            auto r = co_await env.post(c.first);
            got.push_back(r.response.status);
        }
        co_await env.settle();
    });
    REQUIRE(got.size() == cases.size());
    for (std::size_t i = 0; i < cases.size(); ++i) {
        INFO("case " << i);
        CHECK(got[i] == cases[i].second);
    }
    CHECK(env.core.turns() == 0);
    CHECK(env.api.count() == 0);
}

TEST_CASE("telegram: check-ins go out through the proactive sink, or report why not",
          "[telegram]") {
    telegram_env env;
    auto sink = env.adapter->proactive_sink();
    tandem::bot::outbound_message m;
    m.texts = {"How did the talk go?"};
    m.options = {{"fine", "Fine"}};
    // Values built outside the coroutine: g++ 12 mishandles braced lists of string literals
    // inside coroutine bodies.
    const tandem::bot::conversation_ref ana{"telegram", "521983746", "521983746"};
    const tandem::bot::conversation_ref nobody{"telegram", "not-a-chat", ""};
    const fake_api::scripted blocked{
        403,
        R"({"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"})",
        0ms,
        {}};
    bool sent = false, bad_id = true, refused = true, stopped = true;
    run_test(env.ioc, [&]() -> awaitable<void> {
        sent = co_await sink->deliver(ana, m);
        bad_id = co_await sink->deliver(nobody, m);
        env.api.push(blocked);
        refused = co_await sink->deliver(ana, m);
        env.adapter->stop();
        stopped = co_await sink->deliver(ana, m);
    });
    CHECK(sent);
    CHECK_FALSE(bad_id);
    CHECK_FALSE(refused);
    CHECK_FALSE(stopped);
    auto sends = env.api.calls_named("sendMessage");
    REQUIRE(sends.size() == 2);
    CHECK(sends[0].json()["chat_id"] == 521983746);
    CHECK(sends[0].json()["text"] == "How did the talk go?");
    CHECK(sends[0].json()["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "o:fine");
}

TEST_CASE("telegram: a sink outliving its adapter reports failure", "[telegram]") {
    std::shared_ptr<tandem::bot::proactive_sink> sink;
    {
        telegram_env env;
        sink = env.adapter->proactive_sink();
    }
    net::io_context ioc;
    const tandem::bot::conversation_ref someone{"telegram", "1", "1"};
    bool ok = true;
    run_test(ioc, [&]() -> awaitable<void> {
        ok = co_await sink->deliver(someone, tandem::bot::outbound_message{});
    });
    CHECK_FALSE(ok);
}

TEST_CASE("telegram: when the queues are full an update gets 503, and its retry is answered",
          "[telegram]") {
    telegram_env env([](tg::telegram_config& c) { c.max_pending = 2; });
    env.core.hold = true;
    auto update = [&](std::int64_t id) {
        json u = json::parse(fixture("message_text.json"));
        u["update_id"] = id;
        return u.dump();
    };
    int a = 0, b = 0, c = 0, c_again = 0;
    std::string retry_after;
    run_test(env.ioc, [&]() -> awaitable<void> {
        a = (co_await env.post(update(1))).response.status;
        b = (co_await env.post(update(2))).response.status;
        auto refused = co_await env.post(update(3));
        c = refused.response.status;
        retry_after = std::string(refused.response.header("Retry-After"));
        env.core.hold = false;
        co_await env.settle();
        c_again = (co_await env.post(update(3))).response.status; // Telegram's retry
        co_await env.settle();
    });
    CHECK(a == 200);
    CHECK(b == 200);
    CHECK(c == 503);
    CHECK(retry_after == "1");
    CHECK(c_again == 200);
    CHECK(env.core.turns() == 3);
    CHECK(env.api.calls_named("sendMessage").size() == 3);
    CHECK(env.stats->test_event_count("telegram", "busy") == 1);
}

TEST_CASE("telegram: a client that sends half an update and stalls is cut off, with no turn",
          "[telegram]") {
    telegram_env env;
    // A second server on the same adapter route, with a short read deadline.
    auto routes = std::make_shared<http::router>();
    routes->add(env.adapter->route());
    http::server_config sc;
    sc.port = 0;
    sc.read_timeout = 300ms;
    http::http_server slow_server(env.ioc.get_executor(), sc, routes);
    auto port = slow_server.start();
    auto body = fixture("message_text.json");
    std::string head = "POST /webhooks/telegram HTTP/1.1\r\nHost: x\r\n"
                       "Content-Type: application/json\r\n"
                       "X-Telegram-Bot-Api-Secret-Token: " +
                       secret + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
                       body.substr(0, body.size() / 2);
    std::string raw;
    auto guard_fired = std::make_shared<bool>(false);
    run_test(env.ioc, [&]() -> awaitable<void> {
        raw = co_await raw_exchange(port, head, 30s, guard_fired);
        co_await env.settle();
    });
    CHECK(raw.empty());        // closed without an answer...
    CHECK_FALSE(*guard_fired); // ...by the server's deadline, not the test's guard
    CHECK(env.core.turns() == 0);
    CHECK(env.api.count() == 0);
}

TEST_CASE("telegram: a Bot API outage is retried in rounds, every reply arrives once, in order, "
          "and the queue stays bounded",
          "[telegram]") {
    telegram_env env([](tg::telegram_config& c) {
        c.max_attempts = 2;
        c.max_queued_per_chat = 3;
        c.max_pending = 3;
        c.outage_retry_rounds = 50;
        c.outage_backoff_max = 20ms;
    });
    env.core.reply_for = [](const tandem::bot::inbound_message& m) {
        tandem::bot::outbound_message out;
        out.texts = {"reply to " + m.platform_message_id};
        return out;
    };
    // The Bot API is down for the next 8 calls (502, then 429 without a usable hint).
    const int failures = 8;
    for (int i = 0; i < failures; ++i)
        env.api.push({i % 2 ? 429 : 502, R"({"ok":false,"error_code":502})", 0ms, {}});
    auto update = [&](std::int64_t id) {
        json u = json::parse(fixture("message_text.json"));
        u["update_id"] = id;
        return u.dump();
    };
    std::vector<int> statuses;
    int fourth_again = 0;
    std::size_t max_pending_seen = 0;
    run_test(env.ioc, [&]() -> awaitable<void> {
        for (std::int64_t id = 1; id <= 4; ++id)
            statuses.push_back((co_await env.post(update(id))).response.status);
        // Watch the queue while the outage lasts.
        co_await eventually([&] {
            max_pending_seen = std::max(max_pending_seen, env.adapter->pending());
            return env.adapter->pending() == 0;
        });
        fourth_again = (co_await env.post(update(4))).response.status; // Telegram's retry
        co_await env.settle();
    });
    REQUIRE(statuses.size() == 4);
    CHECK(statuses[0] == 200);
    CHECK(statuses[1] == 200);
    CHECK(statuses[2] == 200);
    CHECK(statuses[3] == 503); // the queue is full during the outage: Telegram keeps it
    CHECK(fourth_again == 200);
    CHECK(max_pending_seen <= 3);
    auto sends = env.api.calls_named("sendMessage");
    REQUIRE(sends.size() == failures + 4);
    std::vector<std::string> delivered;
    for (std::size_t i = failures; i < sends.size(); ++i)
        delivered.push_back(sends[i].json()["text"].get<std::string>());
    CHECK(delivered ==
          std::vector<std::string>{"reply to 1", "reply to 2", "reply to 3", "reply to 4"});
    CHECK(env.core.turns() == 4); // a retried reply does not run its turn again
    CHECK(env.stats->test_event_count("telegram", "send_retry_round") >= 1);
    CHECK(env.stats->test_event_count("telegram", "reply_dropped") == 0);
}

TEST_CASE("telegram: a reply refused for good (the user blocked the bot) is not retried",
          "[telegram]") {
    telegram_env env([](tg::telegram_config& c) { c.outage_backoff_max = 20ms; });
    env.api.push({403, R"({"ok":false,"error_code":403,"description":"Forbidden"})", 0ms, {}});
    auto update = [&](std::int64_t id) {
        json u = json::parse(fixture("message_text.json"));
        u["update_id"] = id;
        return u.dump();
    };
    run_test(env.ioc, [&]() -> awaitable<void> {
        CHECK((co_await env.post(update(1))).response.status == 200);
        co_await env.settle();
        CHECK((co_await env.post(update(2))).response.status == 200);
        co_await env.settle();
    });
    CHECK(env.api.calls_named("sendMessage").size() == 2); // one refused, one sent
    CHECK(env.stats->test_event_count("telegram", "reply_dropped") == 1);
    CHECK(env.stats->test_event_count("telegram", "send_retry_round") == 0);
}

TEST_CASE("telegram: beyond max_live_chats a new chat gets 503 while chats in progress go on",
          "[telegram][limits]") {
    telegram_env env([](tg::telegram_config& c) { c.max_live_chats = 2; });
    env.core.hold = true; // the core is busy: every chat keeps its worker
    auto update = [&](std::int64_t id, std::int64_t chat) {
        json u = json::parse(fixture("message_text.json"));
        u["update_id"] = id;
        u["message"]["chat"]["id"] = chat;
        u["message"]["from"]["id"] = chat;
        return u.dump();
    };
    int a = 0, b = 0, c = 0, a2 = 0, c_again = 0;
    run_test(env.ioc, [&]() -> awaitable<void> {
        a = (co_await env.post(update(1, 101))).response.status;
        b = (co_await env.post(update(2, 102))).response.status;
        c = (co_await env.post(update(3, 103))).response.status;  // a third chat: no room
        a2 = (co_await env.post(update(4, 101))).response.status; // chat 101 goes on
        env.core.hold = false;
        co_await env.settle();
        c_again = (co_await env.post(update(3, 103))).response.status; // Telegram's retry
        co_await env.settle();
    });
    CHECK(a == 200);
    CHECK(b == 200);
    CHECK(c == 503);
    CHECK(a2 == 200);
    CHECK(c_again == 200);
    CHECK(env.core.turns() == 4);
    CHECK(env.api.calls_named("sendMessage").size() == 4);
}
