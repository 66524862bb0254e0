// `tandem telegram set-webhook` and `tandem discord register-commands` against local fake
// platform APIs (TELEGRAM_API_BASE / DISCORD_API_BASE point at them).
#include "tests/adapters/test_support.hpp"
#include "tests/support/process.hpp"

#include <catch2/catch.hpp>

#include <set>
#include <thread>

using namespace tandem::test;
using nlohmann::json;

namespace {

// A fake API served from its own thread while the command under test runs.
struct background_api {
    net::io_context ioc;
    fake_api api;
    net::executor_work_guard<net::io_context::executor_type> work{ioc.get_executor()};
    std::thread thread;

    explicit background_api(std::string default_body) : api(ioc, std::move(default_body)) {
        thread = std::thread([this] { ioc.run(); });
    }
    ~background_api() {
        work.reset();
        ioc.stop();
        thread.join();
    }
};

std::string config() {
    return (fixture_content() / "config" / "tandem.json").string();
}

// Runs tandem with only the given platform variables set.
run_result tandem_with(const std::string& vars, const std::string& args) {
    return sh("env -u TELEGRAM_BOT_TOKEN -u TELEGRAM_WEBHOOK_SECRET -u TELEGRAM_API_BASE "
              "-u DISCORD_APPLICATION_ID -u DISCORD_BOT_TOKEN -u DISCORD_API_BASE "
              "-u DISCORD_PUBLIC_KEY " +
              vars + " " + q(tandem_bin()) + " " + args + " --config " + q(config()));
}

} // namespace

TEST_CASE("telegram set-webhook registers the URL, the secret, the update kinds and the "
          "command menu",
          "[telegram][cli]") {
    background_api fake(R"({"ok":true,"result":true,"description":"Webhook was set"})");
    auto r = tandem_with("TELEGRAM_BOT_TOKEN=123:ABC TELEGRAM_WEBHOOK_SECRET=hook_secret_1 "
                         "TELEGRAM_API_BASE=" +
                             fake.api.base(),
                         "telegram set-webhook --url https://bot.example.com/webhooks/telegram");
    INFO(r.out);
    CHECK(r.status == 0);
    auto calls = fake.api.calls();
    REQUIRE(calls.size() == 2);
    CHECK(calls[0].path == "/bot123:ABC/setWebhook");
    // Then the menu beside the message box: every channel command, /link with its argument.
    CHECK(calls[1].path == "/bot123:ABC/setMyCommands");
    std::set<std::string> menu;
    auto sent = calls[1].json();
    for (const auto& c : sent["commands"]) {
        menu.insert(c["command"].get<std::string>());
        CHECK(c["description"].get<std::string>().size() <= 256);
    }
    CHECK(menu == std::set<std::string>{"help", "menu", "restart", "forget", "why", "export",
                                        "link", "unlink"});
    CHECK(sent["commands"].dump().find("/link [code]") != std::string::npos);
    auto body = calls[0].json();
    CHECK(body["url"] == "https://bot.example.com/webhooks/telegram");
    CHECK(body["secret_token"] == "hook_secret_1");
    CHECK(body["allowed_updates"] == json::array({"message", "callback_query"}));
    CHECK(r.out.find("123:ABC") == std::string::npos); // the token is never printed
    CHECK(r.out.find("hook_secret_1") == std::string::npos);
}

TEST_CASE("telegram set-webhook explains what is missing or refused", "[telegram][cli]") {
    background_api fake(
        R"({"ok":false,"error_code":400,"description":"Bad Request: bad webhook: HTTPS url must be provided for webhook"})");
    auto no_token = tandem_with("TELEGRAM_API_BASE=" + fake.api.base(),
                                "telegram set-webhook --url https://bot.example.com/x");
    CHECK(no_token.status == 1);
    CHECK(no_token.out.find("TELEGRAM_BOT_TOKEN") != std::string::npos);
    auto no_url = tandem_with("TELEGRAM_BOT_TOKEN=1:A TELEGRAM_WEBHOOK_SECRET=s "
                              "TELEGRAM_API_BASE=" +
                                  fake.api.base(),
                              "telegram set-webhook");
    CHECK(no_url.status == 2);
    CHECK(no_url.out.find("--url") != std::string::npos);
    auto bad_secret = tandem_with("TELEGRAM_BOT_TOKEN=1:A TELEGRAM_WEBHOOK_SECRET='has spaces' "
                                  "TELEGRAM_API_BASE=" +
                                      fake.api.base(),
                                  "telegram set-webhook --url https://bot.example.com/x");
    CHECK(bad_secret.status == 1);
    CHECK(bad_secret.out.find("TELEGRAM_WEBHOOK_SECRET") != std::string::npos);
    CHECK(fake.api.count() == 0); // nothing was sent for any of these
    auto refused = tandem_with("TELEGRAM_BOT_TOKEN=1:A TELEGRAM_WEBHOOK_SECRET=s "
                               "TELEGRAM_API_BASE=" +
                                   fake.api.base(),
                               "telegram set-webhook --url http://insecure.example.com/x");
    CHECK(refused.status == 1);
    CHECK(refused.out.find("HTTPS url must be provided") != std::string::npos);
    auto usage = tandem_with("", "telegram frobnicate");
    CHECK(usage.status == 2);
}

TEST_CASE("discord register-commands installs the commands with the bot token", "[discord][cli]") {
    background_api fake(R"([{"id":"1","name":"reflect"},{"id":"2","name":"forget"}])");
    auto vars = "DISCORD_APPLICATION_ID=1180000000000000000 DISCORD_BOT_TOKEN=bot.secret.token "
                "DISCORD_API_BASE=" +
                fake.api.base();
    auto global = tandem_with(vars, "discord register-commands");
    INFO(global.out);
    CHECK(global.status == 0);
    CHECK(global.out.find("/reflect") != std::string::npos);
    auto guild = tandem_with(vars, "discord register-commands --guild 1170000000000000000");
    CHECK(guild.status == 0);
    auto calls = fake.api.calls();
    REQUIRE(calls.size() == 2);
    CHECK(calls[0].method == "PUT");
    CHECK(calls[0].path == "/applications/1180000000000000000/commands");
    CHECK(calls[0].header("Authorization") == "Bot bot.secret.token");
    CHECK(calls[0].header("User-Agent").rfind("DiscordBot (", 0) == 0);
    auto defs = calls[0].json();
    REQUIRE(defs.is_array());
    CHECK(defs[0]["name"] == "reflect");
    CHECK(defs.size() == 9); // /reflect and the 8 core commands, /link and /unlink included
    CHECK(calls[1].path == "/applications/1180000000000000000/guilds/1170000000000000000/commands");
    CHECK(global.out.find("bot.secret.token") == std::string::npos);

    auto missing = tandem_with("DISCORD_API_BASE=" + fake.api.base(), "discord register-commands");
    CHECK(missing.status == 1);
    CHECK(missing.out.find("DISCORD_APPLICATION_ID") != std::string::npos);
    CHECK(missing.out.find("DISCORD_BOT_TOKEN") != std::string::npos);
    CHECK(fake.api.count() == 2);
}
