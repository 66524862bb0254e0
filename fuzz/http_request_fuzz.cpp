// The HTTP request path without sockets: bytes go through Beast's request parser with the
// server's limits, then the server's checks (route, method, media type, body size) in the
// order http_server.cpp applies them, then the real handlers of the widget's HTTP API and
// the health route, on a core that answers every turn. What must hold: the parser either
// refuses with an error or yields one request; every answer has a status in 100..599 and a
// content type; every 4xx/5xx body is JSON naming an error (never the request's bytes);
// a 200 from the widget API is JSON with a list of frames; no handler throws.
#include "adapters/http/router.hpp"
#include "adapters/widget/widget_http.hpp"
#include "bot/normalizer.hpp"
#include "bot/turn_service.hpp"
#include "fuzz/fuzz_support.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/http.hpp>

#include <memory>

using namespace tandem;
namespace net = boost::asio;
namespace bhttp = boost::beast::http;
namespace http = adapters::http;

namespace {

// A core that answers every turn at once, with one option.
class echo_core final : public bot::turn_service {
  public:
    net::awaitable<bot::turn_result> handle(bot::inbound_message msg) override {
        bot::turn_result r;
        r.reply.texts = {"heard " + std::to_string(msg.text.size()) + " bytes"};
        r.reply.options = {{"yes", "Yes"}};
        co_return r;
    }
    net::awaitable<bool> forget(bot::conversation_ref) override { co_return true; }
};

struct world {
    net::io_context ioc;
    echo_core core;
    std::shared_ptr<adapters::widget::widget_adapter> widget;
    http::router routes;
    world() {
        adapters::widget::widget_config cfg;
        cfg.max_sessions = 64;
        cfg.allowed_origins = {"https://allowed.example"};
        cfg.poll_timeout = std::chrono::seconds(1);
        widget = std::make_shared<adapters::widget::widget_adapter>(ioc.get_executor(), cfg, core);
        widget->add_routes(routes);
        http::route health;
        health.path = "/healthz";
        health.methods = {"GET"};
        health.media_types = {};
        health.handler = [](http::http_request) -> net::awaitable<http::http_response> {
            co_return http::text_response(200, "ok\n");
        };
        routes.add(std::move(health));
    }
};

world& the_world() {
    static world w;
    return w;
}

// What the server answers before a handler runs (http_server.cpp, answer()).
std::optional<http::http_response> server_checks(const http::router& routes, const http::route* r,
                                                 const std::string& method,
                                                 std::string_view content_type, std::size_t body) {
    if (!r)
        return http::error_response(404, "not_found");
    if (!routes.allows(*r, method))
        return http::error_response(405, "method_not_allowed");
    bool has_body = method == "POST" || method == "PUT" || method == "PATCH";
    if (has_body && !r->media_types.empty()) {
        auto type = http::media_type(content_type);
        bool ok = false;
        for (const auto& m : r->media_types)
            ok = ok || m == type;
        if (!ok)
            return http::error_response(415, "unsupported_media_type");
    }
    if (body > r->max_body)
        return http::error_response(413, "body_too_large");
    return std::nullopt;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto& w = the_world();
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(8192);
    parser.body_limit(65536);
    parser.eager(true);
    boost::system::error_code ec;
    std::size_t used = parser.put(net::buffer(data, size), ec);
    fuzz::check(used <= size, "the parser used more bytes than it was given");
    if (ec || !parser.is_done())
        return 0; // refused (400/413/431) or incomplete: no request reaches a handler
    auto& msg = parser.get();
    http::http_request req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    req.path = req.target.substr(0, req.target.find('?'));
    for (const auto& f : msg)
        req.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    req.body = msg.body();
    req.remote = "127.0.0.1";

    // The media type helper: lower case, no parameters, no spaces at the ends.
    auto type = http::media_type(req.header("Content-Type"));
    for (char c : type)
        fuzz::check(!(c >= 'A' && c <= 'Z') && c != ';', "media_type kept upper case or ';'");
    fuzz::check(type.empty() || (type.front() != ' ' && type.back() != ' '),
                "media_type kept spaces");

    const http::route* r = w.routes.find(req.path);
    auto early =
        server_checks(w.routes, r, req.method, req.header("Content-Type"), req.body.size());
    http::http_response res;
    if (early) {
        res = std::move(*early);
    } else {
        bool done = false;
        std::exception_ptr error;
        net::co_spawn(w.ioc, r->handler(req), [&](std::exception_ptr e, http::http_response out) {
            error = e;
            res = std::move(out);
            done = true;
        });
        w.ioc.restart();
        while (!done && w.ioc.run_one() > 0) {
        }
        fuzz::check(done, "a handler never finished");
        fuzz::check(!error, "a handler threw on client input");
    }
    fuzz::check(res.status >= 100 && res.status <= 599, "a status outside 100..599");
    fuzz::check(!res.content_type.empty(), "an answer without a content type");
    if (res.status >= 400) {
        auto j = nlohmann::json::parse(res.body, nullptr, false);
        fuzz::check(j.is_object() && (j.contains("error") || j.contains("frames")),
                    "an error answer that is not JSON naming the error");
        fuzz::check(req.body.size() < 80 || res.body.find(req.body) == std::string::npos,
                    "an error answer quotes the request body");
    }
    if (res.status == 200 && r && (r->label == "widget_api" || r->label == "widget_poll")) {
        auto j = nlohmann::json::parse(res.body, nullptr, false);
        fuzz::check(j.is_object() && j["frames"].is_array(), "a widget answer without frames");
        for (const auto& f : j["frames"])
            fuzz::check(f.is_object() && f["type"].is_string(), "a frame without a type");
    }
    fuzz::check(bot::sanitize_utf8(res.body) == res.body ||
                    res.content_type.find("json") == std::string::npos,
                "a JSON answer that is not valid UTF-8");
    return 0;
}
