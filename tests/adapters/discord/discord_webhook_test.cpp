// The Discord interactions endpoint end to end over loopback: signed requests in, inline or
// deferred answers out, follow-ups recorded by a fake Discord API.
#include "adapters/discord/discord_adapter.hpp"
#include "discord/signing.hpp"
#include "test_support.hpp"

#include <catch2/catch.hpp>

using namespace tandem::test;
namespace dc = tandem::adapters::discord;
using nlohmann::json;

namespace {

std::string fixture(const std::string& name) {
    return read_file(std::string(TANDEM_TEST_DATA) + "/discord/" + name);
}

std::string now_ts(std::int64_t offset = 0) {
    return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count() +
                          offset);
}

// Built outside coroutines: g++ 12 rejects braced lists of string literals in co_await
// expressions ("array used as initializer").
http::header_list sig_headers(const std::string& sig, const std::string& ts) {
    http::header_list h;
    if (!sig.empty())
        h.emplace_back("X-Signature-Ed25519", sig);
    if (!ts.empty())
        h.emplace_back("X-Signature-Timestamp", ts);
    return h;
}

struct discord_env {
    net::io_context ioc;
    fake_api api{ioc, R"({"id":"1"})"};
    fake_turn_service core;
    test_signer signer;
    std::shared_ptr<http::metrics> stats = std::make_shared<http::metrics>();
    http::http_client client{ioc.get_executor()};
    std::shared_ptr<dc::discord_adapter> adapter;
    std::unique_ptr<http::http_server> server;
    std::uint16_t port = 0;

    explicit discord_env(std::function<void(dc::discord_config&)> tweak = {}) {
        dc::discord_config cfg;
        cfg.api_base = api.base();
        cfg.public_key = signer.public_hex();
        if (tweak)
            tweak(cfg);
        auto verifier = dc::ed25519_verifier::from_hex(cfg.public_key);
        adapter = std::make_shared<dc::discord_adapter>(ioc.get_executor(), cfg, *verifier, core,
                                                        client, stats);
        auto routes = std::make_shared<http::router>();
        routes->add(adapter->route());
        http::server_config sc;
        sc.port = 0;
        server = std::make_unique<http::http_server>(ioc.get_executor(), sc, routes, stats);
        port = server->start();
    }

    awaitable<http::client_result> post_raw(std::string body, http::header_list headers) {
        http::http_client c(ioc.get_executor());
        co_return co_await c.request(post_json(
            "http://127.0.0.1:" + std::to_string(port) + "/webhooks/discord", body, headers));
    }
    awaitable<http::client_result> post_signed(std::string body, std::string ts = now_ts()) {
        auto sig = signer.sign_hex(ts + body);
        co_return co_await post_raw(body, sig_headers(sig, ts));
    }
    awaitable<void> settle() {
        co_await eventually([this] { return adapter->pending() == 0; });
        co_await sleep_for(100ms);
    }
};

json body_of(const http::client_result& r) {
    return json::parse(r.response.body, nullptr, false);
}

} // namespace

TEST_CASE("discord: a signed PING gets PONG", "[discord]") {
    discord_env env;
    run_test(env.ioc, [&]() -> awaitable<void> {
        auto r = co_await env.post_signed(fixture("ping.json"));
        CHECK(r.response.status == 200);
        CHECK(r.response.header("Content-Type") == "application/json");
        CHECK(body_of(r) == json{{"type", 1}});
    });
    CHECK(env.core.turns() == 0);
}

TEST_CASE("discord: bad, missing or stale signatures are 401", "[discord]") {
    discord_env env;
    run_test(env.ioc, [&]() -> awaitable<void> {
        auto body = fixture("ping.json");
        auto ts = now_ts();
        auto sig = env.signer.sign_hex(ts + body);
        std::string flipped = sig;
        flipped[0] = flipped[0] == 'a' ? 'b' : 'a';
        auto r1 = co_await env.post_raw(body, sig_headers(flipped, ts));
        CHECK(r1.response.status == 401);
        auto r2 = co_await env.post_raw(body, sig_headers("", ts));
        CHECK(r2.response.status == 401);
        auto r3 = co_await env.post_raw(body, sig_headers(sig, ""));
        CHECK(r3.response.status == 401);
        auto r4 = co_await env.post_raw(body, sig_headers("", ""));
        CHECK(r4.response.status == 401);
        // Signed over a re-serialised body.
        auto reserialised = json::parse(body).dump(2);
        auto r5 = co_await env.post_raw(reserialised, sig_headers(sig, ts));
        CHECK(r5.response.status == 401);
        // Another key's valid signature.
        test_signer other;
        auto other_sig = other.sign_hex(ts + body);
        auto r6 = co_await env.post_raw(body, sig_headers(other_sig, ts));
        CHECK(r6.response.status == 401);
        // Correctly signed, but an hour old or an hour ahead.
        auto r7 = co_await env.post_signed(body, now_ts(-3600));
        CHECK(r7.response.status == 401);
        auto r8 = co_await env.post_signed(body, now_ts(3600));
        CHECK(r8.response.status == 401);
        auto r9 = co_await env.post_signed(body, "17e8");
        CHECK(r9.response.status == 401);
    });
}

TEST_CASE("discord: a signed but malformed body is 400", "[discord]") {
    discord_env env;
    run_test(env.ioc, [&]() -> awaitable<void> {
        auto r1 = co_await env.post_signed("not json");
        CHECK(r1.response.status == 400);
        auto r2 = co_await env.post_signed(R"({"type":"2"})");
        CHECK(r2.response.status == 400);
        auto r3 = co_await env.post_signed(R"({"type":2,"id":"1"})");
        CHECK(r3.response.status == 400);
    });
    CHECK(env.core.turns() == 0);
}

TEST_CASE("discord: /reflect with text answers inline, ephemeral", "[discord]") {
    discord_env env;
    run_test(env.ioc, [&]() -> awaitable<void> {
        auto r = co_await env.post_signed(fixture("slash_reflect_guild.json"));
        CHECK(r.response.status == 200);
        auto b = body_of(r);
        CHECK(b["type"] == 4);
        CHECK(b["data"]["content"] == "hello from the core");
        CHECK(b["data"]["flags"] == 64);
        CHECK(b["data"]["components"][0]["components"][0]["custom_id"] == "t:answer");
        co_await env.settle();
    });
    REQUIRE(env.core.turns() == 1);
    auto in = env.core.seen()[0];
    CHECK(in.channel == "discord");
    CHECK(in.conversation_id == "1160000000000000042");
    CHECK(in.text == "We keep arguing about money");
    CHECK(in.language == "en-GB");
    CHECK(env.api.count() == 0);
}

TEST_CASE("discord: /reflect without text starts with a greeting", "[discord]") {
    discord_env env;
    run_test(env.ioc, [&]() -> awaitable<void> {
        auto r1 = co_await env.post_signed(fixture("slash_reflect_dm.json"));
        CHECK(r1.response.status == 200);
    });
    REQUIRE(env.core.turns() == 1);
    CHECK(env.core.seen()[0].text == "hi");
}

TEST_CASE("discord: a button click sends its option id to the core", "[discord]") {
    discord_env env;
    run_test(env.ioc, [&]() -> awaitable<void> {
        auto r = co_await env.post_signed(fixture("button_click.json"));
        CHECK(body_of(r)["type"] == 4);
    });
    REQUIRE(env.core.turns() == 1);
    CHECK(env.core.seen()[0].option_id == "talk");
    CHECK(env.core.seen()[0].text.empty());
}

TEST_CASE("discord: 'Type an answer' opens a modal, and its submit is a text turn", "[discord]") {
    discord_env env;
    run_test(env.ioc, [&]() -> awaitable<void> {
        auto open = co_await env.post_signed(fixture("answer_button.json"));
        CHECK(body_of(open)["type"] == 9);
        CHECK(body_of(open)["data"]["custom_id"] == "m:answer");
        CHECK(env.core.turns() == 0);
        auto submit = co_await env.post_signed(fixture("modal_submit.json"));
        CHECK(body_of(submit)["type"] == 4);
        CHECK(body_of(submit)["data"]["flags"] == 64);
    });
    REQUIRE(env.core.turns() == 1);
    CHECK(env.core.seen()[0].text == "I felt unheard when plans changed");
}

TEST_CASE("discord: a slow turn is deferred, then completed by PATCH @original", "[discord]") {
    discord_env env([](dc::discord_config& c) { c.inline_wait = 50ms; });
    env.core.delay = 400ms;
    run_test(env.ioc, [&]() -> awaitable<void> {
        auto r = co_await env.post_signed(fixture("slash_reflect_guild.json"));
        CHECK(r.response.status == 200);
        CHECK(body_of(r) == json::parse(R"({"type":5,"data":{"flags":64}})"));
        bool ok1 = co_await eventually([&] { return env.api.count() >= 1; });
        CHECK(ok1);
        co_await env.settle();
    });
    auto calls = env.api.calls();
    REQUIRE(calls.size() == 1);
    CHECK(calls[0].method == "PATCH");
    CHECK(calls[0].path == "/webhooks/1180000000000000000/"
                           "aW50ZXJhY3Rpb246MTE4MDAwMDAwMDAwMDAwMDEwMA-fake/messages/@original");
    CHECK(calls[0].json()["content"] == "hello from the core");
    CHECK(env.stats->test_event_count("discord", "deferred") == 1);
}

TEST_CASE("discord: long replies are split at 2000, and the rest arrive as follow-ups",
          "[discord]") {
    discord_env env;
    env.core.reply_for = [](const tandem::bot::inbound_message&) {
        tandem::bot::outbound_message m;
        m.texts = {std::string(1900, 'a') + " " + std::string(1900, 'b'), std::string(1900, 'c')};
        m.options = {{"ok", "OK"}};
        return m;
    };
    run_test(env.ioc, [&]() -> awaitable<void> {
        auto r = co_await env.post_signed(fixture("slash_reflect_dm.json"));
        CHECK(body_of(r)["data"]["content"] == std::string(1900, 'a'));
        CHECK(!body_of(r)["data"].contains("components"));
        bool ok1 = co_await eventually([&] { return env.api.count() >= 2; });
        CHECK(ok1);
        co_await env.settle();
    });
    auto calls = env.api.calls();
    REQUIRE(calls.size() == 2);
    for (const auto& c : calls) {
        CHECK(c.method == "POST");
        CHECK(c.path == "/webhooks/1180000000000000000/"
                        "aW50ZXJhY3Rpb246MTE4MDAwMDAwMDAwMDAwMDEwMQ-fake");
        CHECK(c.json()["flags"] == 64);
    }
    CHECK(calls[0].json()["content"] == std::string(1900, 'b'));
    CHECK(calls[1].json()["content"] == std::string(1900, 'c'));
    CHECK(calls[1].json()["components"][0]["components"][0]["custom_id"] == "o:ok");
}

TEST_CASE("discord: /forget and the other core commands reach the core as slash text",
          "[discord]") {
    discord_env env;
    run_test(env.ioc, [&]() -> awaitable<void> {
        auto r = co_await env.post_signed(fixture("forget_command.json"));
        CHECK(body_of(r)["type"] == 4);
        CHECK(body_of(r)["data"]["flags"] == 64);
        json why = json::parse(fixture("forget_command.json"));
        why["data"]["name"] = "why";
        auto r1 = co_await env.post_signed(why.dump());
        CHECK(body_of(r1)["type"] == 4);
        json unknown = why;
        unknown["data"]["name"] = "dance";
        auto u = co_await env.post_signed(unknown.dump());
        CHECK(body_of(u)["type"] == 4); // a kind note, no turn
    });
    REQUIRE(env.core.turns() == 2);
    CHECK(env.core.seen()[0].text == "/forget");
    CHECK(env.core.seen()[0].conversation_id == "1160000000000000042");
    CHECK(env.core.seen()[1].text == "/why");
    CHECK(env.core.forgotten().empty()); // the core decides, not the adapter
}

TEST_CASE("discord: a 429 on a follow-up is retried after retry_after", "[discord]") {
    discord_env env([](dc::discord_config& c) { c.inline_wait = 20ms; });
    env.core.delay = 200ms;
    env.api.push({429,
                  R"({"message":"You are being rate limited.","retry_after":0.3,"global":false})",
                  0ms,
                  {}});
    run_test(env.ioc, [&]() -> awaitable<void> {
        auto r = co_await env.post_signed(fixture("slash_reflect_guild.json"));
        CHECK(body_of(r)["type"] == 5);
        bool ok1 = co_await eventually([&] { return env.api.count() >= 2; });
        CHECK(ok1);
        co_await env.settle();
    });
    auto calls = env.api.calls();
    REQUIRE(calls.size() == 2);
    CHECK(calls[1].method == "PATCH");
    CHECK(env.stats->test_event_count("discord", "followup_failed") == 0);
}

TEST_CASE("discord: bad input is 4xx at the endpoint, never a turn", "[discord]") {
    discord_env env([](dc::discord_config& c) { c.max_body_bytes = 4096; });
    std::string valid = fixture("slash_reflect_dm.json");
    json user_id_number = json::parse(valid);
    user_id_number["user"]["id"] = 42;
    json no_user = json::parse(valid);
    no_user.erase("user");
    json no_token = json::parse(valid);
    no_token.erase("token");
    json options_object = json::parse(valid);
    options_object["data"]["options"] = json::object();
    json custom_id_number = json::parse(fixture("button_click.json"));
    custom_id_number["data"]["custom_id"] = 7;
    std::vector<std::pair<std::string, int>> signed_cases = {
        {valid.substr(0, valid.size() / 2), 400},     // truncated
        {"{\"type\":2,\"token\":\"\xff\xfe\"}", 400}, // invalid UTF-8
        {user_id_number.dump(), 400},
        {no_user.dump(), 400},
        {no_token.dump(), 400},
        {options_object.dump(), 400},
        {custom_id_number.dump(), 400},
        {"", 400},
        {"[1]", 400},
        {std::string(5000, ' ') + valid, 413}, // over this route's limit
    };
    std::vector<int> got;
    int wrong_type = 0, wrong_method = 0, unsigned_garbage = 0;
    run_test(env.ioc, [&]() -> awaitable<void> {
        for (const auto& c : signed_cases) {
            auto r = co_await env.post_signed(c.first);
            got.push_back(r.response.status);
        }
        http::http_client c(env.ioc.get_executor());
        auto url = "http://127.0.0.1:" + std::to_string(env.port) + "/webhooks/discord";
        auto form = post_json(url, valid);
        form.content_type = "application/x-www-form-urlencoded";
        wrong_type = (co_await c.request(form)).response.status;
        http::client_request get;
        get.method = "GET";
        get.url = url;
        wrong_method = (co_await c.request(get)).response.status;
        auto garbage = co_await env.post_raw("\xff\xfe not json", sig_headers("zz", "x"));
        unsigned_garbage = garbage.response.status;
    });
    REQUIRE(got.size() == signed_cases.size());
    for (std::size_t i = 0; i < signed_cases.size(); ++i) {
        INFO("case " << i);
        CHECK(got[i] == signed_cases[i].second);
    }
    CHECK(wrong_type == 415);
    CHECK(wrong_method == 405);
    CHECK(unsigned_garbage == 401); // the signature is checked before anything is parsed
    CHECK(env.core.turns() == 0);
    CHECK(env.api.count() == 0);
}

TEST_CASE("discord: check-ins use a fresh interaction token, else a DM, else report failure",
          "[discord]") {
    discord_env env([](dc::discord_config& c) { c.bot_token = "bot-token-for-tests"; });
    auto sink = env.adapter->proactive_sink();
    tandem::bot::outbound_message m;
    m.texts = {"How did the talk go?"};
    m.options = {{"fine", "Fine"}};
    // Built outside the coroutine (g++ 12 and braced string literals in coroutines).
    const tandem::bot::conversation_ref known{"discord", "1160000000000000042", ""};
    const tandem::bot::conversation_ref stranger{"discord", "1160000000000000999", ""};
    const fake_api::scripted dm_channel{200, R"({"id":"1190000000000000001","type":1})", 0ms, {}};
    const fake_api::scripted dm_refused{
        403, R"({"message":"Cannot send messages to this user","code":50007})", 0ms, {}};
    bool via_token = false, via_dm = false, dm_blocked = true, stopped = true;
    run_test(env.ioc, [&]() -> awaitable<void> {
        auto r = co_await env.post_signed(fixture("slash_reflect_dm.json"));
        CHECK(r.response.status == 200);
        co_await env.settle();
        via_token = co_await sink->deliver(known, m);
        env.api.push(dm_channel);
        via_dm = co_await sink->deliver(stranger, m);
        env.api.push(dm_refused);
        dm_blocked = co_await sink->deliver(stranger, m);
        env.adapter->stop();
        stopped = co_await sink->deliver(known, m);
    });
    CHECK(via_token);
    CHECK(via_dm);
    CHECK_FALSE(dm_blocked);
    CHECK_FALSE(stopped);
    auto calls = env.api.calls();
    REQUIRE(calls.size() == 4);
    CHECK(calls[0].method == "POST");
    CHECK(calls[0].path ==
          "/webhooks/1180000000000000000/aW50ZXJhY3Rpb246MTE4MDAwMDAwMDAwMDAwMDEwMQ-fake");
    CHECK(calls[0].json()["flags"] == 64);
    CHECK(calls[0].header("Authorization").empty()); // the interaction token is the credential
    CHECK(calls[1].path == "/users/@me/channels");
    CHECK(calls[1].header("Authorization") == "Bot bot-token-for-tests");
    CHECK(calls[1].json()["recipient_id"] == "1160000000000000999");
    CHECK(calls[2].path == "/channels/1190000000000000001/messages");
    CHECK(calls[2].json()["content"] == "How did the talk go?");
    CHECK(!calls[2].json().contains("flags"));
    CHECK(calls[2].json()["components"][0]["components"][0]["custom_id"] == "o:fine");
    CHECK(calls[3].path == "/users/@me/channels");
}

TEST_CASE("discord: without a bot token an expired conversation cannot be reached", "[discord]") {
    discord_env env;
    auto sink = env.adapter->proactive_sink();
    const tandem::bot::conversation_ref stranger{"discord", "1160000000000000999", ""};
    bool ok = true;
    run_test(env.ioc, [&]() -> awaitable<void> {
        ok = co_await sink->deliver(stranger, tandem::bot::outbound_message{});
    });
    CHECK_FALSE(ok);
    CHECK(env.api.count() == 0);
}
