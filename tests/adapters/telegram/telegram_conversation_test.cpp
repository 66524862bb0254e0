// A whole conversation through the Telegram webhook with the real core and the fixture
// content: commands, buttons, free text, a redelivered update, a check-in sent through the
// proactive sink, "forget me", and what /metrics shows afterwards.
#include "adapters/telegram/telegram_adapter.hpp"
#include "test_support.hpp"

#include <catch2/catch.hpp>

using namespace tandem::test;
namespace tg = tandem::adapters::telegram;
using nlohmann::json;

namespace {

const std::string secret = "conversation_secret_1";
constexpr std::int64_t chat = 4242001;

struct telegram_world {
    net::io_context ioc;
    fake_api api{ioc};
    real_core core;
    std::shared_ptr<http::metrics> stats = std::make_shared<http::metrics>();
    http::http_client client{ioc.get_executor()};
    std::shared_ptr<tg::telegram_adapter> adapter;
    std::unique_ptr<http::http_server> server;
    std::uint16_t port = 0;
    std::int64_t next_update = 7000;

    telegram_world() {
        tg::telegram_config cfg;
        cfg.token = "42:CONVERSATION";
        cfg.secret = secret;
        cfg.api_base = api.base();
        cfg.per_chat_interval = 0ms;
        adapter = std::make_shared<tg::telegram_adapter>(ioc.get_executor(), cfg, *core.service,
                                                         client, stats);
        core.service->set_proactive_sink("telegram", adapter->proactive_sink());
        auto routes = std::make_shared<http::router>();
        routes->add(adapter->route());
        http::route metrics;
        metrics.path = "/metrics";
        metrics.methods = {"GET"};
        metrics.media_types = {};
        metrics.handler = [s = stats](http::http_request) -> awaitable<http::http_response> {
            co_return http::text_response(200, s->render());
        };
        routes->add(std::move(metrics));
        http::server_config sc;
        sc.port = 0;
        server = std::make_unique<http::http_server>(ioc.get_executor(), sc, routes, stats);
        port = server->start();
    }

    json text_update(const std::string& text) {
        json from = {
            {"id", chat}, {"is_bot", false}, {"first_name", "Sam"}, {"language_code", "en"}};
        json c = {{"id", chat}, {"type", "private"}, {"first_name", "Sam"}};
        json m = {{"message_id", next_update},
                  {"from", from},
                  {"chat", c},
                  {"date", unix_now()},
                  {"text", text}};
        return {{"update_id", next_update++}, {"message", m}};
    }
    json press(const std::string& data) {
        json from = {
            {"id", chat}, {"is_bot", false}, {"first_name", "Sam"}, {"language_code", "en"}};
        json c = {{"id", chat}, {"type", "private"}};
        json m = {{"message_id", 1}, {"chat", c}, {"date", unix_now()}, {"text", "..."}};
        json q = {{"id", "cb" + std::to_string(next_update)},
                  {"from", from},
                  {"message", m},
                  {"chat_instance", "1"},
                  {"data", data}};
        return {{"update_id", next_update++}, {"callback_query", q}};
    }

    // Posts one update, waits until its replies went out, and returns the texts sent.
    awaitable<std::vector<json>> say(json update) {
        auto before = api.calls_named("sendMessage").size();
        http::header_list h;
        h.emplace_back("X-Telegram-Bot-Api-Secret-Token", secret);
        http::http_client c(ioc.get_executor());
        auto r = co_await c.request(post_json(
            "http://127.0.0.1:" + std::to_string(port) + "/webhooks/telegram", update.dump(), h));
        REQUIRE(r.response.status == 200);
        bool idle = co_await eventually([this] { return adapter->pending() == 0; });
        REQUIRE(idle);
        auto sends = api.calls_named("sendMessage");
        std::vector<json> out;
        for (auto i = before; i < sends.size(); ++i)
            out.push_back(sends[i].json());
        co_return out;
    }
};

std::vector<std::string> texts(const std::vector<json>& msgs) {
    std::vector<std::string> out;
    for (const auto& m : msgs)
        out.push_back(m["text"].get<std::string>());
    return out;
}

std::vector<std::string> buttons(const std::vector<json>& msgs) {
    std::vector<std::string> out;
    if (msgs.empty() || !msgs.back().contains("reply_markup"))
        return out;
    for (const auto& row : msgs.back()["reply_markup"]["inline_keyboard"])
        out.push_back(row[0]["callback_data"].get<std::string>());
    return out;
}

bool starts(const std::string& s, const std::string& prefix) {
    return s.rfind(prefix, 0) == 0;
}

} // namespace

TEST_CASE("telegram conversation: from /start to a check-in and forget me, with the real core",
          "[telegram][e2e]") {
    telegram_world w;
    std::string metrics;
    run_test(w.ioc, [&]() -> awaitable<void> {
        auto hello = co_await w.say(w.text_update("/start"));
        REQUIRE(hello.size() == 1); // one message per reply: the bubbles are joined
        CHECK(texts(hello)[0].find("\n\nHELLO") != std::string::npos);
        CHECK(texts(hello)[0].find("\n\nMENU") != std::string::npos);
        CHECK(buttons(hello) == std::vector<std::string>{"o:space", "o:distant", "o:nothing"});

        auto space = co_await w.say(w.press("o:space"));
        REQUIRE(space.size() == 1);
        CHECK(starts(texts(space)[0], "SMOTHERED"));
        CHECK(buttons(space) == std::vector<std::string>{"o:partner", "o:friend"});

        auto partner = co_await w.say(w.press("o:partner"));
        REQUIRE(partner.size() == 1);
        CHECK(texts(partner)[0] == "If you had the space, what would you do with it?");

        auto climbing = w.text_update("I would go climbing");
        auto use = co_await w.say(climbing);
        REQUIRE(use.size() == 1);
        CHECK(starts(texts(use)[0], "So you'd you would go climbing."));
        // Telegram delivers the same update again: no second answer.
        auto again = co_await w.say(climbing);
        CHECK(again.empty());

        auto low = co_await w.say(w.text_update("3"));
        REQUIRE(low.size() == 1);
        CHECK(starts(texts(low)[0], "LOW: 3 out of 10"));
        auto summary = co_await w.say(w.press("o:yes"));
        REQUIRE(summary.size() == 1);
        CHECK(starts(texts(summary)[0], "SUMMARY: about your partner"));

        auto offer = co_await w.say(w.text_update("later please"));
        CHECK(buttons(offer) == std::vector<std::string>{"o:tomorrow", "o:no"});
        auto scheduled = co_await w.say(w.press("o:tomorrow"));
        REQUIRE(scheduled.size() == 1);
        CHECK(texts(scheduled)[0] == "SCHEDULED.");
        REQUIRE(w.core.checkins->size() == 1);

        // Two days on, the check-in goes out through the adapter's proactive sink.
        auto before = w.api.calls_named("sendMessage").size();
        auto sent = co_await w.core.service->send_due_checkins(unix_now() + 2 * 86400);
        CHECK(sent == 1);
        auto sends = w.api.calls_named("sendMessage");
        REQUIRE(sends.size() == before + 1);
        CHECK(sends.back().json()["chat_id"] == chat);
        CHECK(starts(sends.back().json()["text"].get<std::string>(), "CHECKIN"));
        CHECK(sends.back().json()["reply_markup"]["inline_keyboard"][0][0]["callback_data"] ==
              "o:fine");

        auto gone = co_await w.say(w.text_update("/forget"));
        REQUIRE(gone.size() == 1);
        CHECK(starts(texts(gone)[0], "FORGOTTEN"));
        CHECK(w.core.store->size() == 0);

        http::http_client c(w.ioc.get_executor());
        http::client_request get;
        get.method = "GET";
        get.url = "http://127.0.0.1:" + std::to_string(w.port) + "/metrics";
        auto m = co_await c.request(get);
        metrics = m.response.body;
    });
    // Every press was answered.
    CHECK(w.api.calls_named("answerCallbackQuery").size() == 4);
    CHECK(metrics.find(R"(tandem_turns_total{channel="telegram",topic="greeting"} 1)") !=
          std::string::npos);
    CHECK(metrics.find(R"(tandem_turn_seconds_count{channel="telegram"} 9)") != std::string::npos);
    CHECK(metrics.find(R"(tandem_events_total{channel="telegram",event="duplicate_update"} 1)") !=
          std::string::npos);
    CHECK(metrics.find("climbing") == std::string::npos); // never message text
}
