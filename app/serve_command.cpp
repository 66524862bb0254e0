// `tandem serve`: the HTTP server with the Telegram and Discord webhooks, health, readiness
// and metrics. Wires config and secrets to the adapters; the adapters do the work.
// Signals: SIGINT/SIGTERM drain and exit 0; SIGHUP reloads the content (validated first;
// on any problem the running content stays and the problems are logged). With --watch the
// same reload runs when a content file is saved.
#include "app/commands.hpp"
#include "app/runtime.hpp"

#include "adapters/discord/discord_adapter.hpp"
#include "adapters/http/http_server.hpp"
#include "adapters/http/https_client.hpp"
#include "adapters/telegram/telegram_adapter.hpp"
#include "adapters/widget/widget_http.hpp"
#include "bot/log.hpp"
#include "bot/redis_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <csignal>
#include <functional>
#include <iostream>
#include <mutex>
#include <thread>

namespace tandem::app {

namespace net = boost::asio;
namespace http = adapters::http;
namespace tg = adapters::telegram;
namespace dc = adapters::discord;
namespace wg = adapters::widget;
using adapters::awaitable;

namespace {

void print_serve_usage(std::ostream& out) {
    out << "usage: tandem serve [--config FILE] [--data DIR] [--listen HOST:PORT] [--watch]\n";
}

// /healthz, /readyz and /metrics.
// not_ready: why the server should get no traffic now ("" = ready).
void add_operational_routes(http::router& routes, std::shared_ptr<http::metrics> stats,
                            std::function<std::string()> not_ready) {
    http::route health;
    health.path = "/healthz";
    health.methods = {"GET"};
    health.media_types = {};
    health.handler = [](http::http_request) -> awaitable<http::http_response> {
        co_return http::text_response(200, "ok\n");
    };
    routes.add(std::move(health));

    http::route readyz;
    readyz.path = "/readyz";
    readyz.methods = {"GET"};
    readyz.media_types = {};
    readyz.handler = [not_ready](http::http_request) -> awaitable<http::http_response> {
        auto why = not_ready();
        if (why.empty())
            co_return http::text_response(200, "ready\n");
        co_return http::text_response(503, why + "\n");
    };
    routes.add(std::move(readyz));

    http::route metrics;
    metrics.path = "/metrics";
    metrics.methods = {"GET"};
    metrics.media_types = {};
    metrics.handler = [stats](http::http_request) -> awaitable<http::http_response> {
        auto res = http::text_response(200, stats->render());
        res.content_type = "text/plain; version=0.0.4; charset=utf-8";
        co_return res;
    };
    routes.add(std::move(metrics));
}

void log_channel_off(const char* channel, const std::string& reason) {
    bot::log::warn("channel.disabled", {{"channel", channel}, {"reason", reason}});
}

void log_channel_on(const char* channel, const std::string& path) {
    bot::log::info("channel.enabled", {{"channel", channel}, {"path", path}});
}

// SIGHUP: load and validate the content; swap it in only when it has no problems.
void reload_content(runtime& rt) {
    bot::diagnostics diags;
    auto fresh = bot::content::load(content_paths_for(rt.cfg), diags);
    if (!diags.empty() || !fresh) {
        nlohmann::json problems = nlohmann::json::array();
        for (const auto& d : diags.items())
            problems.push_back(d.file + ":" + d.pointer + ": " + d.code + ": " + d.message);
        bot::log::error("content.reload_failed",
                        {{"problems", problems}, {"kept", "the running content"}});
        return;
    }
    rt.service->set_content(std::move(fresh));
    bot::log::info("content.reloaded", {});
}

// Everything `tandem serve` runs, so the signal handlers can reach it.
struct server_parts {
    net::io_context& ioc;
    runtime& rt;
    http::server_config server_cfg;
    http::http_server& server;
    std::shared_ptr<tg::telegram_adapter> telegram;
    std::shared_ptr<dc::discord_adapter> discord;
    std::shared_ptr<wg::widget_adapter> widget;
    std::shared_ptr<std::atomic<bool>> ready;
    net::thread_pool& helper; // blocking work off the I/O threads: reloads, stopping the core

    std::size_t busy() const {
        return server.connections() + (telegram ? telegram->pending() : 0) +
               (discord ? discord->pending() : 0);
    }
};

awaitable<void> wait_until(std::function<bool()> done, std::chrono::steady_clock::time_point end) {
    net::steady_timer t(co_await net::this_coro::executor);
    while (!done() && std::chrono::steady_clock::now() < end) {
        t.expires_after(std::chrono::milliseconds(20));
        co_await t.async_wait(net::as_tuple(net::use_awaitable));
    }
}

// SIGINT/SIGTERM: stop accepting, let running requests, turns and replies finish within
// shutdown_grace, then stop the core (while the I/O thread still runs, so a check-in on
// its way out can finish) and stop.
awaitable<void> shut_down(server_parts& p) {
    p.ready->store(false);
    p.server.stop();
    if (p.telegram)
        p.telegram->stop();
    if (p.discord)
        p.discord->stop();
    if (p.widget)
        p.widget->stop(); // long-polls answer now, sockets close with "going away"
    auto end = std::chrono::steady_clock::now() + p.server_cfg.shutdown_grace;
    co_await wait_until([&p] { return p.busy() == 0; }, end);
    std::size_t left = p.busy();
    p.server.close_all();
    auto core_stopped = std::make_shared<std::atomic<bool>>(false);
    net::post(p.helper, [&p, core_stopped] {
        p.rt.service->stop();
        core_stopped->store(true);
    });
    co_await wait_until([core_stopped] { return core_stopped->load(); },
                        std::chrono::steady_clock::now() + p.server_cfg.shutdown_grace);
    bot::log::info("serve.drained", {{"unfinished", left}, {"core_stopped", core_stopped->load()}});
    p.ioc.stop();
}

// --watch: once a second, on the helper pool, compare the content files' fingerprint and
// reload (validated, as for SIGHUP) when it changed. Ends with the I/O context.
awaitable<void> watch_content(server_parts& p, std::string initial_stamp) {
    struct watch_state {
        std::mutex m;
        std::string stamp;
    };
    auto st = std::make_shared<watch_state>();
    st->stamp = std::move(initial_stamp);
    net::steady_timer timer(co_await net::this_coro::executor);
    while (p.ready->load()) {
        timer.expires_after(std::chrono::seconds(1));
        auto [ec] = co_await timer.async_wait(net::as_tuple(net::use_awaitable));
        if (ec)
            co_return;
        net::post(p.helper, [&p, st] {
            std::lock_guard lock(st->m);
            auto now = content_stamp(p.rt.cfg);
            if (now == st->stamp)
                return;
            st->stamp = std::move(now);
            bot::log::info("content.changed", {});
            reload_content(p.rt);
        });
    }
}

void on_signal(server_parts& p, net::signal_set& signals) {
    signals.async_wait([&p, &signals](const boost::system::error_code& ec, int sig) {
        if (ec)
            return;
        if (sig == SIGHUP) {
            bot::log::info("content.reload_requested", {});
            net::post(p.helper, [&p] { reload_content(p.rt); });
            on_signal(p, signals); // keep listening
            return;
        }
        bot::log::info("serve.shutdown", {{"signal", sig}});
        net::co_spawn(p.ioc, shut_down(p), [&p](std::exception_ptr e) {
            if (e)
                bot::log::error("serve.shutdown_failed", {});
            p.ioc.stop();
        });
    });
}

} // namespace

int cmd_serve(args_t args) {
    common_options opts;
    std::string error;
    if (!parse_common(args, opts, error)) {
        std::cerr << "tandem serve: " << error << "\n";
        print_serve_usage(std::cerr);
        return 2;
    }
    std::optional<std::string> listen;
    bool watch = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--watch") {
            watch = true;
        } else if (args[i] == "--listen" && i + 1 < args.size()) {
            listen = args[++i];
        } else if (args[i].rfind("--listen=", 0) == 0) {
            listen = args[i].substr(9);
        } else if (args[i] == "--help" || args[i] == "-h") {
            print_serve_usage(std::cout);
            return 0;
        } else {
            std::cerr << "tandem serve: unexpected argument \"" << args[i] << "\"\n";
            print_serve_usage(std::cerr);
            return 2;
        }
    }
    std::optional<std::pair<std::string, std::uint16_t>> listen_at;
    if (listen && !(listen_at = http::parse_listen(*listen))) {
        std::cerr << "tandem serve: --listen needs HOST:PORT, e.g. 127.0.0.1:8080\n";
        return 2;
    }

    auto rt = open_runtime(opts, true);
    if (!rt)
        return 1;
    bot::diagnostics diags;
    auto server_cfg = http::parse_server_config(rt->cfg, opts.config_path, diags);
    auto tg_cfg = tg::parse_telegram_config(rt->cfg, opts.config_path, diags);
    auto dc_cfg = dc::parse_discord_config(rt->cfg, opts.config_path, diags);
    auto wg_cfg = wg::parse_widget_config(rt->cfg, opts.config_path, diags);
    if (rt->cfg.store.kind == "sqlite" && dc_cfg.inbox == tg_cfg.update_log)
        diags.add(opts.config_path, "/discord/inbox", "config.bad_value",
                  "inbox must be a file of its own, not the Telegram update log \"" +
                      tg_cfg.update_log + "\"");
    if (!diags.empty()) {
        std::cerr << "tandem serve: the configuration has problems:\n" << diags.to_string();
        return 1;
    }
    if (listen_at) {
        server_cfg.host = listen_at->first;
        server_cfg.port = listen_at->second;
    }

    // Telegram's update log: a SQLite file of its own next to the store's (telegram.update_log;
    // a log an older version kept in the store's file moves there); memory store: memory;
    // Redis: the same Redis, shared by every instance.
    std::shared_ptr<tg::update_dedupe> dedupe;
    if (rt->cfg.store.kind == "redis") {
        std::string problem;
        dedupe = tg::make_redis_dedupe(
            bot::redis::options_from_config(rt->cfg, bot::process_env(), problem));
        // Several instances: tg_cfg.ack_after_turn (it follows store.kind) acknowledges an
        // update only once its turn is done; there is no local inbox to resume.
    } else if (rt->cfg.store.kind != "memory") {
        try {
            dedupe = tg::make_sqlite_dedupe(rt->cfg.data_path(tg_cfg.update_log), 2 * 86400,
                                            rt->cfg.store.max_bytes,
                                            rt->cfg.data_path(rt->cfg.store.file));
        } catch (const bot::store_error& e) {
            std::cerr << "tandem serve: cannot open the Telegram update log: " << e.what() << "\n";
            return 1;
        }
    }

    // Discord's inbox of deferred interactions: a SQLite file of its own next to the store's
    // (discord.inbox), store.kind "sqlite" only. Memory: nothing to resume after a restart
    // anyway. Redis (several instances): none; a deferral whose instance dies is lost
    // (docs/deployment.md).
    std::shared_ptr<bot::message_log> discord_inbox;
    if (rt->cfg.store.kind == "sqlite" && dc_cfg.enabled) {
        try {
            discord_inbox =
                dc::make_sqlite_inbox(rt->cfg.data_path(dc_cfg.inbox), rt->cfg.store.max_bytes);
        } catch (const bot::store_error& e) {
            std::cerr << "tandem serve: cannot open the Discord inbox: " << e.what() << "\n";
            return 1;
        }
    }

    net::thread_pool helper(1);
    net::io_context ioc(server_cfg.threads);
    auto ex = ioc.get_executor();
    auto stats = std::make_shared<http::metrics>();
    http::http_client client(ex);
    auto routes = std::make_shared<http::router>();
    auto ready = std::make_shared<std::atomic<bool>>(false);
    auto env = bot::process_env();

    // A channel whose secrets are missing is off: its route is not mounted (404).
    std::shared_ptr<tg::telegram_adapter> telegram;
    if (!tg_cfg.enabled) {
        log_channel_off("telegram", "disabled in config");
    } else if (auto why = tg::resolve_secrets(tg_cfg, env); !why.empty()) {
        log_channel_off("telegram", why);
    } else {
        telegram =
            std::make_shared<tg::telegram_adapter>(ex, tg_cfg, *rt->service, client, stats, dedupe);
        routes->add(telegram->route());
        rt->service->set_proactive_sink(tg::telegram_adapter::channel, telegram->proactive_sink());
        // Updates acknowledged but not answered when the last run ended (a crash, kill -9).
        try {
            telegram->resume();
        } catch (const bot::store_error& e) {
            std::cerr << "tandem serve: cannot read the Telegram update log: " << e.what() << "\n";
            return 1;
        }
        log_channel_on("telegram", tg_cfg.path);
    }
    std::shared_ptr<dc::discord_adapter> discord;
    if (!dc_cfg.enabled) {
        log_channel_off("discord", "disabled in config");
    } else if (auto why = dc::resolve_secrets(dc_cfg, env, {true, false, false}); !why.empty()) {
        log_channel_off("discord", why);
    } else if (auto verifier = dc::ed25519_verifier::from_hex(dc_cfg.public_key); !verifier) {
        log_channel_off("discord", dc_cfg.public_key_env + " is not 64 hex characters");
    } else {
        discord = std::make_shared<dc::discord_adapter>(ex, dc_cfg, *verifier, *rt->service, client,
                                                        stats, discord_inbox);
        routes->add(discord->route());
        rt->service->set_proactive_sink(dc::discord_adapter::channel, discord->proactive_sink());
        // Interactions deferred but not followed up when the last run ended (a crash, kill
        // -9): finished once the I/O threads run, or dropped when their token is too old.
        discord->resume(std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count());
        log_channel_on("discord", dc_cfg.path);
    }
    // The website widget needs no secrets: it is on unless the config turns it off.
    std::shared_ptr<wg::widget_adapter> widget;
    if (!wg_cfg.enabled) {
        log_channel_off("widget", "disabled in config");
    } else {
        widget = std::make_shared<wg::widget_adapter>(ex, wg_cfg, *rt->service);
        if (rt->cfg.store.kind == "redis") {
            // A browser whose instance went away resumes its session on another one.
            std::string problem;
            widget->hub()->set_backup(wg::make_redis_session_backup(
                bot::redis::options_from_config(rt->cfg, bot::process_env(), problem)));
        }
        if (server_cfg.per_source_per_minute > 0)
            widget->set_source_limiter(
                std::make_shared<http::source_limiter>(server_cfg.per_source_per_minute,
                                                       server_cfg.per_source_burst),
                server_cfg.trust_forwarded_for);
        widget->add_routes(*routes);
        rt->service->set_proactive_sink("widget", widget->sink());
        log_channel_on("widget", "/widget.js");
    }
    // Not ready while shutting down, while a shared store (Redis) cannot be reached (send
    // traffic to another instance), and while the store cannot be written (a full disk): the
    // Telegram update log is the first write of every update, and it reports failures.
    std::weak_ptr<tg::telegram_adapter> weak_telegram = telegram;
    add_operational_routes(*routes, stats,
                           [ready, weak_telegram, store = rt->store]() -> std::string {
                               if (!ready->load())
                                   return "shutting down";
                               if (store && !store->healthy())
                                   return "store unavailable";
                               if (auto t = weak_telegram.lock(); t && t->recheck_store())
                                   return "store failing";
                               return {};
                           });

    // Taken before the server listens, so no edit made after startup can go unseen.
    std::string stamp = watch ? content_stamp(rt->cfg) : std::string();
    // Signals are caught from before the server says it listens: a SIGTERM sent as soon as
    // "http.listening" is logged (an orchestrator, a test) is queued by the signal set and
    // drains as usual instead of killing the process with the default action.
    net::signal_set stop_signals(ioc, SIGINT, SIGTERM);
    net::signal_set reload_signal(ioc, SIGHUP);
    http::http_server server(ex, server_cfg, routes, stats);
    try {
        server.start();
    } catch (const std::exception& e) {
        std::cerr << "tandem serve: cannot listen on " << server_cfg.host << ":" << server_cfg.port
                  << ": " << e.what() << "\n";
        return 1;
    }
    ready->store(true);

    server_parts parts{ioc, *rt, server_cfg, server, telegram, discord, widget, ready, helper};
    on_signal(parts, stop_signals);
    on_signal(parts, reload_signal);
    if (watch) {
        bot::log::info("content.watching", {});
        net::co_spawn(ioc, watch_content(parts, std::move(stamp)), [](std::exception_ptr e) {
            if (e)
                bot::log::error("content.watch_failed", {});
        });
    }

    std::vector<std::thread> extra;
    for (int i = 1; i < server_cfg.threads; ++i)
        extra.emplace_back([&ioc] { ioc.run(); });
    ioc.run();
    for (auto& t : extra)
        t.join();
    // The update log's writer tells no request after this (ioc goes before dedupe).
    if (dedupe)
        dedupe->settle();
    if (discord_inbox)
        discord_inbox->settle();
    rt->service->stop(); // no-op when the drain already stopped it
    helper.join();
    bot::log::info("serve.stopped", {{"turns", rt->service->turns_handled()}});
    return 0;
}

} // namespace tandem::app
