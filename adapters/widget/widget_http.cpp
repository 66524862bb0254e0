#include "adapters/widget/widget_http.hpp"

#include "adapters/http/websocket.hpp"
#include "adapters/widget/widget_assets.hpp"
#include "adapters/widget/widget_connection.hpp"
#include "adapters/widget/widget_protocol.hpp"
#include "bot/log.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <optional>
#include <set>
#include <variant>

namespace tandem::adapters::widget {

namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

// The page that opened the widget, demo page included, must run under this policy: the
// demo page proves the widget needs nothing inline.
constexpr const char* demo_csp =
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

std::string dump(const nlohmann::json& j) {
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

} // namespace

bool origin_allowed(const widget_config& cfg, std::string_view origin, std::string_view host) {
    if (origin.empty())
        return true; // not a browser: an Origin header guards browsers, nothing else
    auto o = normalize_origin(origin);
    if (o.empty())
        return false; // "null" (sandboxed frames, file://) and garbage
    // The server's own pages (the demo page): same host and port as the request.
    auto authority = o.substr(o.find("://") + 3);
    auto h = lower(host);
    if (!h.empty() && (authority == h || normalize_origin("http://" + h) == "http://" + authority ||
                       normalize_origin("https://" + h) == "https://" + authority))
        return true;
    for (const auto& a : cfg.allowed_origins)
        if (a == "*" || a == o)
            return true;
    return false;
}

namespace {

struct refusal {
    std::string client_msg_id;
    int retry_after_seconds = 1;
};

// The per-address limit counts the frames that cost tandem something: a new session or a
// message (a turn). Pings, polls, resumes and malformed frames (refused by the protocol
// anyway) pass. Returns why a frame is refused, or nothing.
std::optional<refusal> over_limit(http::source_limiter* limiter, const std::string& source,
                                  std::string_view raw) {
    if (!limiter)
        return std::nullopt;
    auto j = nlohmann::json::parse(raw, nullptr, false);
    if (!j.is_object())
        return std::nullopt;
    auto type = j.find("type");
    if (type == j.end() || !type->is_string() || (*type != "message" && *type != "start"))
        return std::nullopt;
    auto d = limiter->take(source);
    if (d.allowed)
        return std::nullopt;
    refusal r;
    r.retry_after_seconds = d.retry_after_seconds;
    if (auto id = j.find("client_msg_id"); id != j.end() && id->is_string())
        r.client_msg_id = id->get<std::string>();
    return r;
}

} // namespace

struct widget_adapter::impl : std::enable_shared_from_this<impl> {
    net::any_io_executor ex;
    widget_config cfg;
    std::shared_ptr<widget_hub> hub;
    net::steady_timer sweep_timer;
    std::atomic<bool> stopping{false};
    std::shared_ptr<http::source_limiter> limiter; // per client address; null = none
    bool trust_forwarded_for = false;
    mutable std::mutex mu;
    std::set<std::shared_ptr<widget_connection>> open; // sockets and waiting polls

    impl(net::any_io_executor e, widget_config c, bot::turn_service& service)
        : ex(e), cfg(c), hub(std::make_shared<widget_hub>(std::move(c), service)), sweep_timer(e) {}

    std::shared_ptr<widget_connection> open_connection(net::any_io_executor where) {
        auto c = std::make_shared<widget_connection>(hub, where);
        std::lock_guard lock(mu);
        if (stopping)
            c->outbox().close();
        open.insert(c);
        return c;
    }
    void close_connection(const std::shared_ptr<widget_connection>& c) {
        c->close();
        std::lock_guard lock(mu);
        open.erase(c);
    }

    // CORS for an allowed browser origin; nothing for other callers.
    void add_cors(http::http_response& res, std::string_view origin) const {
        res.headers.emplace_back("Vary", "Origin");
        if (!origin.empty())
            res.headers.emplace_back("Access-Control-Allow-Origin", std::string(origin));
        res.headers.emplace_back("Cache-Control", "no-store");
    }

    http::http_response refuse_origin() const {
        auto res = http::error_response(403, "origin_not_allowed");
        res.headers.emplace_back("Vary", "Origin");
        return res;
    }

    awaitable<http::http_response> preflight(http::http_request req) {
        auto origin = req.header("Origin");
        if (!origin_allowed(cfg, origin, req.header("Host")))
            co_return refuse_origin();
        http::http_response res;
        res.status = 204;
        res.content_type = "text/plain";
        add_cors(res, origin);
        res.headers.emplace_back("Access-Control-Allow-Methods", "POST, OPTIONS");
        res.headers.emplace_back("Access-Control-Allow-Headers", "Content-Type");
        res.headers.emplace_back("Access-Control-Max-Age", "600");
        co_return res;
    }

    // POST /widget/api (one frame, answered with the frames it caused) and POST
    // /widget/poll (waits up to poll_timeout for news after last_seq).
    awaitable<http::http_response> api(http::http_request req, bool poll) {
        auto self = shared_from_this();
        if (req.method == "OPTIONS")
            co_return co_await preflight(std::move(req));
        auto origin = std::string(req.header("Origin"));
        if (!origin_allowed(cfg, origin, req.header("Host")))
            co_return refuse_origin();
        auto answer = [&](int status, const nlohmann::json& frames) {
            auto res = http::json_response(status, dump({{"frames", frames}}));
            add_cors(res, origin);
            return res;
        };
        if (!poll) {
            // Per client address; answered here (not by the server) so the page, on another
            // origin, can read it: the widget shows its gentle "slow down" note.
            auto source =
                http::client_source(req.remote, req.header("X-Forwarded-For"), trust_forwarded_for);
            if (auto refused = over_limit(limiter.get(), source, req.body)) {
                auto res =
                    answer(429, nlohmann::json::array(
                                    {error_frame("slow_down", "too many messages; wait a moment",
                                                 refused->client_msg_id)}));
                res.headers.emplace_back("Retry-After",
                                         std::to_string(refused->retry_after_seconds));
                co_return res;
            }
        }
        auto parsed = parse_client_frame(req.body, {cfg.max_frame_bytes, cfg.max_text_chars});
        if (auto* err = std::get_if<frame_error>(&parsed)) {
            int status = err->code == "too_large"         ? 413
                         : err->code == "unknown_session" ? 404
                                                          : 400;
            co_return answer(status, nlohmann::json::array({error_frame(err->code, err->message)}));
        }
        auto frame = std::get<client_frame>(std::move(parsed));
        bool is_poll = frame.type == frame_type::poll;
        if (is_poll != poll)
            co_return answer(400, nlohmann::json::array({error_frame(
                                      "bad_frame", poll ? "only poll frames go to /widget/poll"
                                                        : "poll frames go to /widget/poll")}));
        auto conn = open_connection(co_await net::this_coro::executor);
        co_await conn->handle(frame);
        auto frames = nlohmann::json::array();
        if (is_poll && !conn->session().empty() && conn->outbox().size() == 0)
            if (auto first = co_await conn->outbox().pop(cfg.poll_timeout))
                frames.push_back(std::move(*first));
        for (auto& f : conn->outbox().drain())
            frames.push_back(std::move(f));
        close_connection(conn);
        int status = 200;
        if (frames.size() == 1 && frames[0]["type"] == "error") {
            auto code = frames[0]["code"].get<std::string>();
            status = code == "unknown_session" ? 404 : code == "busy" ? 503 : 400;
        }
        co_return answer(status, frames);
    }

    static awaitable<void> read_loop(std::shared_ptr<http::websocket_channel> ch,
                                     std::shared_ptr<widget_connection> conn,
                                     std::shared_ptr<http::source_limiter> limiter,
                                     std::string source) {
        while (auto msg = co_await ch->read()) {
            if (auto refused = over_limit(limiter.get(), source, *msg)) {
                // The widget shows its own gentle "slow down" note for this frame.
                conn->push(error_frame("slow_down", "too many messages; wait a moment",
                                       refused->client_msg_id));
                continue;
            }
            co_await conn->handle(*msg);
        }
        conn->close(); // the writer drains, then stops
    }

    // The socket's one writer: everything for the client goes through the mailbox.
    static awaitable<void> write_loop(std::shared_ptr<http::websocket_channel> ch,
                                      std::shared_ptr<widget_connection> conn,
                                      std::shared_ptr<impl> self) {
        while (auto f = co_await conn->outbox().pop())
            if (!co_await ch->write(dump(*f)))
                co_return;
        // Closed by the reader (peer gone), by stop() or because we fell behind: say so.
        co_await ch->close(self->stopping ? 1001 : 1000);
    }

    awaitable<void> socket(http::http_request req, std::shared_ptr<http::websocket_channel> ch) {
        using namespace net::experimental::awaitable_operators;
        auto self = shared_from_this();
        auto conn = open_connection(co_await net::this_coro::executor);
        auto source =
            http::client_source(req.remote, req.header("X-Forwarded-For"), trust_forwarded_for);
        co_await (read_loop(ch, conn, limiter, std::move(source)) && write_loop(ch, conn, self));
        close_connection(conn);
    }

    awaitable<void> sweep_loop() {
        auto self = shared_from_this();
        while (!stopping) {
            sweep_timer.expires_after(std::chrono::seconds(60));
            auto [ec] = co_await sweep_timer.async_wait(net::as_tuple(net::use_awaitable));
            if (ec || stopping)
                co_return;
            hub->sweep();
        }
    }
};

widget_adapter::widget_adapter(net::any_io_executor ex, widget_config cfg,
                               bot::turn_service& service)
    : impl_(std::make_shared<impl>(ex, std::move(cfg), service)) {
    net::co_spawn(impl_->sweep_timer.get_executor(), impl_->sweep_loop(), [](std::exception_ptr e) {
        if (!e)
            return;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& ex) {
            bot::log::error("widget.sweeper_failed", {{"error", ex.what()}});
        }
    });
}

widget_adapter::~widget_adapter() {
    stop();
}

std::shared_ptr<bot::proactive_sink> widget_adapter::sink() const {
    return make_widget_sink(impl_->hub);
}

std::shared_ptr<widget_hub> widget_adapter::hub() const {
    return impl_->hub;
}

std::size_t widget_adapter::connections() const {
    std::lock_guard lock(impl_->mu);
    return impl_->open.size();
}

void widget_adapter::stop() {
    auto s = impl_;
    std::set<std::shared_ptr<widget_connection>> open;
    {
        std::lock_guard lock(s->mu);
        if (s->stopping.exchange(true))
            return;
        open = s->open;
    }
    net::post(s->sweep_timer.get_executor(), [s] { s->sweep_timer.cancel(); });
    for (const auto& c : open)
        c->outbox().close(); // polls answer at once, sockets close with 1001
}

void widget_adapter::set_source_limiter(std::shared_ptr<http::source_limiter> limiter,
                                        bool trust_forwarded_for) {
    impl_->limiter = std::move(limiter);
    impl_->trust_forwarded_for = trust_forwarded_for;
}

void widget_adapter::add_routes(http::router& routes) {
    auto s = impl_;
    auto asset_route = [&](const std::string& path, bool page) {
        http::route r;
        r.path = path;
        r.methods = {"GET"};
        r.media_types = {};
        r.label = path == "/" ? "widget_demo" : "widget_asset";
        r.handler = [s, page](http::http_request req) -> awaitable<http::http_response> {
            auto a = find_asset(req.path, s->cfg.assets_dir);
            if (!a)
                co_return http::error_response(404, "not_found");
            http::http_response res;
            res.content_type = a->content_type;
            res.body = std::move(a->body);
            res.headers.emplace_back("Cache-Control", "no-cache");
            res.headers.emplace_back("X-Content-Type-Options", "nosniff");
            if (page) {
                res.headers.emplace_back("Content-Security-Policy", demo_csp);
                res.headers.emplace_back("Referrer-Policy", "no-referrer");
            } else {
                res.headers.emplace_back("Cross-Origin-Resource-Policy", "cross-origin");
            }
            co_return res;
        };
        routes.add(std::move(r));
    };
    asset_route("/widget.js", false);
    if (s->cfg.demo_page) {
        asset_route("/", true);
        asset_route("/index.html", true);
        asset_route("/demo.css", false);
        asset_route("/favicon.svg", false);
    }

    for (bool poll : {false, true}) {
        http::route r;
        r.path = poll ? "/widget/poll" : "/widget/api";
        r.methods = {"POST", "OPTIONS"};
        r.media_types = {"application/json", "text/plain"};
        r.max_body = s->cfg.max_frame_bytes;
        r.label = poll ? "widget_poll" : "widget_api";
        r.handler = [s, poll](http::http_request req) -> awaitable<http::http_response> {
            co_return co_await s->api(std::move(req), poll);
        };
        routes.add(std::move(r));
    }

    http::route ws;
    ws.path = "/widget/socket";
    ws.methods = {"GET"};
    ws.media_types = {};
    ws.label = "widget_socket";
    ws.handler = [](http::http_request) -> awaitable<http::http_response> {
        auto res = http::error_response(426, "websocket_upgrade_required");
        res.headers.emplace_back("Upgrade", "websocket");
        co_return res;
    };
    ws.websocket = std::make_shared<http::websocket_route>();
    ws.websocket->max_message = s->cfg.max_frame_bytes;
    ws.websocket->idle_timeout = s->cfg.socket_idle_timeout;
    ws.websocket->check = [s](const http::http_request& req) -> std::optional<http::http_response> {
        if (!origin_allowed(s->cfg, req.header("Origin"), req.header("Host"))) {
            bot::log::info("widget.origin_refused", {{"transport", "websocket"}});
            return s->refuse_origin();
        }
        return std::nullopt;
    };
    ws.websocket->run = [s](http::http_request req,
                            std::shared_ptr<http::websocket_channel> ch) -> awaitable<void> {
        co_await s->socket(std::move(req), std::move(ch));
    };
    ws.per_source = s->limiter;
    routes.add(std::move(ws));
}

} // namespace tandem::adapters::widget
