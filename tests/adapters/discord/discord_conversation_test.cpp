// A whole conversation through the Discord interactions endpoint with the real core and the
// fixture content: /reflect, buttons, the free-text modal, a slow turn completed by a
// follow-up, a check-in through the proactive sink, and /forget.
#include "adapters/discord/discord_adapter.hpp"
#include "discord/signing.hpp"
#include "test_support.hpp"

#include "bot/turn_processor.hpp"

#include <catch2/catch.hpp>

using namespace tandem::test;
namespace dc = tandem::adapters::discord;
using nlohmann::json;

namespace {

const std::string user = "1160000000000000777";
const std::string app = "1180000000000000000";

struct discord_world {
    net::io_context ioc;
    fake_api api{ioc, R"({"id":"1"})"};
    real_core core;
    test_signer signer;
    std::shared_ptr<http::metrics> stats = std::make_shared<http::metrics>();
    http::http_client client{ioc.get_executor()};
    std::shared_ptr<dc::discord_adapter> adapter;
    std::unique_ptr<http::http_server> server;
    std::uint16_t port = 0;
    int next_id = 500;

    discord_world() {
        dc::discord_config cfg;
        cfg.api_base = api.base();
        cfg.public_key = signer.public_hex();
        auto verifier = dc::ed25519_verifier::from_hex(cfg.public_key);
        adapter = std::make_shared<dc::discord_adapter>(ioc.get_executor(), cfg, *verifier,
                                                        *core.service, client, stats);
        core.service->set_proactive_sink("discord", adapter->proactive_sink());
        auto routes = std::make_shared<http::router>();
        routes->add(adapter->route());
        http::server_config sc;
        sc.port = 0;
        server = std::make_unique<http::http_server>(ioc.get_executor(), sc, routes, stats);
        port = server->start();
    }

    json base(int type) {
        ++next_id;
        return {{"application_id", app},
                {"id", "1180000000000" + std::to_string(next_id)},
                {"token", "token-" + std::to_string(next_id)},
                {"type", type},
                {"version", 1},
                {"locale", "en-US"},
                {"channel_id", "1180000000000000200"},
                {"user", {{"id", user}, {"username", "sam"}}}};
    }
    json command(const std::string& name, const std::string& text = "",
                 const std::string& option = "text") {
        json ix = base(2);
        ix["data"] = {{"id", "1"}, {"name", name}, {"type", 1}};
        if (!text.empty())
            ix["data"]["options"] = json::array({{{"name", option}, {"type", 3}, {"value", text}}});
        return ix;
    }
    json press(const std::string& custom_id) {
        json ix = base(3);
        ix["data"] = {{"custom_id", custom_id}, {"component_type", 2}};
        return ix;
    }
    json modal(const std::string& text) {
        json ix = base(5);
        json input = {{"type", 4}, {"custom_id", "text"}, {"value", text}};
        ix["data"] = {{"custom_id", "m:answer"},
                      {"components", json::array({{{"type", 18}, {"component", input}}})}};
        return ix;
    }

    // Posts a signed interaction; returns the HTTP answer's JSON.
    awaitable<json> send(json ix) {
        auto body = ix.dump();
        auto h = discord_headers(signer, body);
        http::http_client c(ioc.get_executor());
        auto r = co_await c.request(
            post_json("http://127.0.0.1:" + std::to_string(port) + "/webhooks/discord", body, h));
        REQUIRE(r.response.status == 200);
        bool idle = co_await eventually([this] { return adapter->pending() == 0; });
        REQUIRE(idle);
        co_return json::parse(r.response.body);
    }
};

std::vector<std::string> custom_ids(const json& message) {
    std::vector<std::string> out;
    if (message.contains("components"))
        for (const auto& row : message["components"])
            for (const auto& b : row["components"])
                out.push_back(b["custom_id"].get<std::string>());
    return out;
}

bool starts(const std::string& s, const std::string& prefix) {
    return s.rfind(prefix, 0) == 0;
}

std::string content(const json& answer) {
    return answer["data"]["content"].get<std::string>();
}

} // namespace

TEST_CASE("discord conversation: /reflect, buttons, the modal, a check-in and /forget, with the "
          "real core",
          "[discord][e2e]") {
    discord_world w;
    run_test(w.ioc, [&]() -> awaitable<void> {
        auto hello = co_await w.send(w.command("reflect"));
        CHECK(hello["type"] == 4);
        CHECK(hello["data"]["flags"] == 64);
        CHECK(content(hello).find("HELLO") != std::string::npos);
        CHECK(content(hello).find("MENU") != std::string::npos);
        CHECK(custom_ids(hello["data"]) ==
              std::vector<std::string>{"o:space", "o:distant", "o:nothing", "t:answer"});

        auto space = co_await w.send(w.press("o:space"));
        CHECK(starts(content(space), "SMOTHERED"));
        auto partner = co_await w.send(w.press("o:partner"));
        CHECK(content(partner) == "If you had the space, what would you do with it?");

        auto open = co_await w.send(w.press("t:answer"));
        CHECK(open["type"] == 9);
        auto use = co_await w.send(w.modal("I would go climbing"));
        CHECK(starts(content(use), "So you'd you would go climbing."));
        auto low = co_await w.send(w.command("reflect", "3"));
        CHECK(starts(content(low), "LOW: 3 out of 10"));
        auto summary = co_await w.send(w.press("o:yes"));
        CHECK(starts(content(summary), "SUMMARY: about your partner"));
        CHECK(custom_ids(summary["data"]).empty()); // the dialog ended: no buttons

        auto offer = co_await w.send(w.command("reflect", "later please"));
        auto scheduled = co_await w.send(w.press("o:tomorrow"));
        CHECK(content(scheduled) == "SCHEDULED.");
        REQUIRE(w.core.checkins->size() == 1);
        CHECK(w.api.count() == 0); // every answer so far went inline

        // The interaction token is still fresh: the check-in is a follow-up on it.
        auto sent = co_await w.core.service->send_due_checkins(unix_now() + 2 * 86400);
        CHECK(sent == 1);
        auto calls = w.api.calls();
        REQUIRE(calls.size() == 1);
        CHECK(calls[0].method == "POST");
        CHECK(calls[0].path == "/webhooks/" + app + "/token-" + std::to_string(w.next_id));
        CHECK(starts(calls[0].json()["content"].get<std::string>(), "CHECKIN"));
        CHECK(calls[0].json()["flags"] == 64);

        auto why = co_await w.send(w.command("why"));
        CHECK(why["type"] == 4);
        auto gone = co_await w.send(w.command("forget"));
        CHECK(starts(content(gone), "FORGOTTEN"));
    });
    CHECK(w.core.store->size() == 0);
}

TEST_CASE("discord conversation: /link with a code joins a conversation from another app",
          "[discord][e2e][linking]") {
    discord_world w;
    // The console, on the same store, started a conversation and asked for a code.
    tandem::bot::config cfg;
    tandem::bot::turn_processor console(load_ok(fixture_paths()), w.core.store, cfg.conversation);
    tandem::bot::inbound_message m;
    m.channel = "console";
    m.conversation_id = "local";
    m.text = "hello";
    console.run(m, unix_now());
    m.text = "/link";
    auto issued = console.run(m, unix_now());
    std::string code;
    for (const auto& t : issued.reply.texts)
        if (auto at = t.find("/link "); at != std::string::npos)
            code = t.substr(at + 6, 9);
    REQUIRE(code.size() == 9);
    run_test(w.ioc, [&]() -> awaitable<void> {
        auto linked = co_await w.send(w.command("link", code, "code"));
        CHECK(linked["type"] == 4);
        CHECK(starts(content(linked), "Linked."));
        auto again = co_await w.send(w.command("link", code, "code"));
        CHECK(content(again).find("doesn't work") != std::string::npos);
    });
    auto stored = w.core.store->load("discord:" + user);
    REQUIRE(stored);
    CHECK(json::parse(*stored)["linked_to"] == "console:local");
}
