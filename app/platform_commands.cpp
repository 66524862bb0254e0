// `tandem telegram set-webhook|delete-webhook|webhook-info` and
// `tandem discord register-commands`: one-off calls to the platform APIs with the
// secrets from the environment.
#include "app/commands.hpp"
#include "app/runtime.hpp"
#include "bot/commands.hpp"

#include "adapters/discord/discord_client.hpp"
#include "adapters/discord/discord_config.hpp"
#include "adapters/discord/discord_interaction.hpp"
#include "adapters/http/https_client.hpp"
#include "adapters/telegram/telegram_client.hpp"
#include "adapters/telegram/telegram_config.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <iostream>

namespace tandem::app {

namespace net = boost::asio;
namespace http = adapters::http;
namespace tg = adapters::telegram;
namespace dc = adapters::discord;
using nlohmann::json;

namespace {

// Runs one coroutine to completion on a private io_context (these commands do nothing else).
template <class Fn> int run_once(Fn fn) {
    net::io_context ioc;
    int code = 1;
    net::co_spawn(ioc, fn(ioc.get_executor()), [&code](std::exception_ptr e, int rc) {
        if (e) {
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                std::cerr << "tandem: " << ex.what() << "\n";
            }
            return;
        }
        code = rc;
    });
    ioc.run();
    return code;
}

void telegram_usage(std::ostream& out) {
    out << "usage: tandem telegram set-webhook [--url URL] [--drop-pending-updates] "
           "[--config FILE]\n"
           "       tandem telegram delete-webhook [--drop-pending-updates]\n"
           "       tandem telegram webhook-info\n"
           "Needs TELEGRAM_BOT_TOKEN (and TELEGRAM_WEBHOOK_SECRET for set-webhook); the URL\n"
           "defaults to telegram.public_url in the config.\n";
}

void print_result(const char* what, const tg::api_result& r) {
    if (r.ok) {
        std::cout << what << ": ok\n";
        if (!r.result.is_boolean())
            std::cout << r.result.dump(2) << "\n";
    } else if (!r.transport_error.empty()) {
        std::cerr << what << " failed: " << r.transport_error << "\n";
    } else {
        std::cerr << what << " failed: HTTP " << r.status << " " << r.description << "\n";
    }
}

} // namespace

int cmd_telegram(args_t args) {
    common_options opts;
    std::string error;
    if (!parse_common(args, opts, error) || args.empty()) {
        if (!error.empty())
            std::cerr << "tandem telegram: " << error << "\n";
        telegram_usage(std::cerr);
        return 2;
    }
    std::string action = args.front();
    std::string url;
    bool drop = false;
    for (std::size_t i = 1; i < args.size(); ++i) {
        if (args[i] == "--url" && i + 1 < args.size())
            url = args[++i];
        else if (args[i] == "--drop-pending-updates")
            drop = true;
        else {
            std::cerr << "tandem telegram: unexpected argument \"" << args[i] << "\"\n";
            telegram_usage(std::cerr);
            return 2;
        }
    }
    if (action != "set-webhook" && action != "delete-webhook" && action != "webhook-info") {
        telegram_usage(std::cerr);
        return 2;
    }
    auto cfg = open_config(opts);
    if (!cfg)
        return 1;
    bot::diagnostics diags;
    auto tc = tg::parse_telegram_config(*cfg, opts.config_path, diags);
    if (!diags.empty()) {
        std::cerr << diags.to_string();
        return 1;
    }
    if (auto why = tg::resolve_secrets(tc, bot::process_env(), action == "set-webhook");
        !why.empty()) {
        std::cerr << "tandem telegram: " << why << "\n";
        return 1;
    }
    if (url.empty())
        url = tc.public_url;
    if (action == "set-webhook" && url.empty()) {
        std::cerr << "tandem telegram set-webhook: give --url https://your.host" << tc.path
                  << " or set telegram.public_url\n";
        return 2;
    }
    json params = json::object();
    std::string method = "getWebhookInfo";
    if (action == "set-webhook") {
        method = "setWebhook";
        params["url"] = url;
        params["secret_token"] = tc.secret;
        params["allowed_updates"] = tc.allowed_updates;
        params["drop_pending_updates"] = drop;
    } else if (action == "delete-webhook") {
        method = "deleteWebhook";
        params["drop_pending_updates"] = drop;
    }
    return run_once([&](net::any_io_executor ex) -> adapters::awaitable<int> {
        http::http_client client(ex);
        tg::bot_api api(client, {tc.api_base, tc.token, tc.request_timeout, tc.max_attempts,
                                 tc.max_retry_wait});
        auto r = co_await api.call(method, params);
        print_result(method.c_str(), r);
        if (!r.ok || method != "setWebhook")
            co_return r.ok ? 0 : 1;
        // The command menu Telegram shows beside the message box: the channel commands,
        // each with its argument named ("/link [code]").
        json commands = json::array();
        for (const auto& c : bot::channel_commands()) {
            std::string description = c.description;
            if (c.option)
                description += std::string(" (/") + c.name + " [" + c.option + "])";
            commands.push_back({{"command", c.name}, {"description", description}});
        }
        json menu_params = json::object();
        menu_params["commands"] = std::move(commands);
        auto menu = co_await api.call("setMyCommands", menu_params);
        print_result("setMyCommands", menu);
        co_return menu.ok ? 0 : 1;
    });
}

int cmd_discord(args_t args) {
    common_options opts;
    std::string error;
    if (!parse_common(args, opts, error) || args.empty() || args.front() != "register-commands") {
        if (!error.empty())
            std::cerr << "tandem discord: " << error << "\n";
        std::cerr << "usage: tandem discord register-commands [--guild ID] [--config FILE]\n"
                     "Needs DISCORD_APPLICATION_ID and DISCORD_BOT_TOKEN.\n";
        return 2;
    }
    std::string guild;
    for (std::size_t i = 1; i < args.size(); ++i) {
        if (args[i] == "--guild" && i + 1 < args.size()) {
            guild = args[++i];
        } else {
            std::cerr << "tandem discord: unexpected argument \"" << args[i] << "\"\n";
            return 2;
        }
    }
    auto cfg = open_config(opts);
    if (!cfg)
        return 1;
    bot::diagnostics diags;
    auto conf = dc::parse_discord_config(*cfg, opts.config_path, diags);
    if (!diags.empty()) {
        std::cerr << diags.to_string();
        return 1;
    }
    if (auto why = dc::resolve_secrets(conf, bot::process_env(), {false, true, true});
        !why.empty()) {
        std::cerr << "tandem discord: " << why << "\n";
        return 1;
    }
    if (guild.empty())
        guild = conf.guild_id;
    return run_once([&](net::any_io_executor ex) -> adapters::awaitable<int> {
        http::http_client client(ex);
        dc::discord_api api(client, {conf.api_base, conf.bot_token, conf.request_timeout,
                                     conf.max_attempts, conf.max_retry_wait});
        auto r = co_await api.put_commands(conf.application_id, guild,
                                           dc::command_definitions(conf.command_name));
        if (!r.ok) {
            std::cerr << "register-commands failed: "
                      << (r.transport_error.empty() ? "HTTP " + std::to_string(r.status)
                                                    : r.transport_error)
                      << (r.body.is_null() ? "" : " " + r.body.dump()) << "\n";
            co_return 1;
        }
        std::cout << "registered " << (guild.empty() ? "global" : "guild " + guild) << " commands:";
        if (r.body.is_array())
            for (const auto& c : r.body)
                if (c.is_object() && c.contains("name"))
                    std::cout << " /" << c["name"].get<std::string>();
        std::cout << "\n";
        co_return 0;
    });
}

} // namespace tandem::app
