// The Beast listener and session. One of only two translation units that include Beast.
#include "adapters/http/http_server.hpp"

#include "bot/log.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <atomic>
#include <mutex>
#include <set>
#include <stdexcept>

namespace tandem::adapters::http {

namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace bws = beast::websocket;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

namespace {

// What the server knows about one open connection, so stop() can close it.
struct connection_state {
    net::any_io_executor ex;             // the connection's strand
    beast::tcp_stream* stream = nullptr; // set and cleared on that strand
    std::atomic<bool> busy{false};       // a request is being read past its header or answered
};

bool is_quiet_close(const boost::system::error_code& ec) {
    return ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
           ec == net::error::eof || ec == beast::error::timeout ||
           ec == net::error::operation_aborted || ec == net::error::connection_reset ||
           ec == net::error::broken_pipe || ec == net::error::bad_descriptor ||
           ec == ssl::error::stream_truncated;
}

bool is_http_parse_error(const boost::system::error_code& ec) {
    return ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category();
}

// An accepted WebSocket over the connection's stream, for a route's websocket_route::run.
// Beast allows one read and one write at a time, and runs pings, pongs and timeouts itself.
template <class Stream> class beast_websocket final : public websocket_channel {
  public:
    explicit beast_websocket(Stream& s) : ws(s) {}

    awaitable<std::optional<std::string>> read() override {
        buffer.clear();
        auto [ec, n] = co_await ws.async_read(buffer, use_tuple);
        if (ec)
            co_return std::nullopt; // closed, timed out, or too big (Beast closed with 1009)
        if (!ws.got_text()) {
            co_await close(static_cast<std::uint16_t>(bws::close_code::unknown_data));
            co_return std::nullopt;
        }
        co_return beast::buffers_to_string(buffer.data());
    }

    awaitable<bool> write(std::string text) override {
        if (closing)
            co_return false;
        ws.text(true);
        auto [ec, n] = co_await ws.async_write(net::buffer(text), use_tuple);
        co_return !ec;
    }

    awaitable<void> close(std::uint16_t code) override {
        if (closing || !ws.is_open())
            co_return;
        closing = true;
        co_await ws.async_close(bws::close_reason(code), use_tuple);
    }

    bws::stream<Stream&> ws;
    beast::flat_buffer buffer;
    bool closing = false;
};

} // namespace

struct http_server::impl : std::enable_shared_from_this<impl> {
    net::any_io_executor ex;
    server_config cfg;
    std::shared_ptr<const router> routes;
    std::shared_ptr<metrics> stats;
    tcp::acceptor acceptor;
    std::optional<ssl::context> tls;
    std::atomic<bool> stopping{false};
    mutable std::mutex mu;
    std::set<std::shared_ptr<connection_state>> conns;

    impl(net::any_io_executor e, server_config c, std::shared_ptr<const router> r,
         std::shared_ptr<metrics> m)
        : ex(e), cfg(std::move(c)), routes(std::move(r)), stats(std::move(m)),
          acceptor(net::make_strand(e)) {}

    void count(const std::string& label, int status) {
        if (stats)
            stats->count_request(label, status);
    }

    awaitable<void> accept_loop();
    awaitable<void> run_connection(tcp::socket sock);
    template <class Stream>
    awaitable<void> serve(Stream& stream, std::shared_ptr<connection_state> st);
    template <class Stream, class Parser>
    awaitable<http_response> answer(Stream& stream, beast::flat_buffer& buffer, Parser& parser,
                                    bool& close, bool& drop, std::string& label);
    template <class Stream, class Parser>
    awaitable<void> upgrade(Stream& stream, beast::flat_buffer& buffer, Parser& parser,
                            const route& r);
};

awaitable<void> http_server::impl::accept_loop() {
    auto self = shared_from_this();
    for (;;) {
        tcp::socket sock(net::make_strand(ex));
        auto [ec] = co_await acceptor.async_accept(sock, use_tuple);
        if (ec == net::error::operation_aborted || !acceptor.is_open())
            co_return;
        if (ec) {
            // e.g. EMFILE: back off briefly instead of spinning.
            bot::log::warn("http.accept_failed", {{"error", ec.message()}});
            net::steady_timer t(acceptor.get_executor(), std::chrono::milliseconds(50));
            co_await t.async_wait(use_tuple);
            continue;
        }
        std::size_t open = 0;
        {
            std::lock_guard lock(mu);
            open = conns.size();
        }
        if (open >= cfg.max_connections) {
            bot::log::warn("http.connection_refused", {{"reason", "max_connections"}});
            sock.close(ec);
            continue;
        }
        auto cex = sock.get_executor();
        net::co_spawn(cex, run_connection(std::move(sock)), [](std::exception_ptr e) {
            if (!e)
                return;
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                bot::log::error("http.session_failed", {{"error", ex.what()}});
            }
        });
    }
}

awaitable<void> http_server::impl::run_connection(tcp::socket sock) {
    auto self = shared_from_this();
    auto st = std::make_shared<connection_state>();
    st->ex = sock.get_executor();
    {
        std::lock_guard lock(mu);
        conns.insert(st);
    }
    struct unregister {
        impl* s;
        std::shared_ptr<connection_state> st;
        ~unregister() {
            st->stream = nullptr;
            std::lock_guard lock(s->mu);
            s->conns.erase(st);
        }
    } guard{this, st};

    boost::system::error_code ec;
    sock.set_option(tcp::no_delay(true), ec);
    if (tls) {
        beast::ssl_stream<beast::tcp_stream> stream(std::move(sock), *tls);
        st->stream = &beast::get_lowest_layer(stream);
        beast::get_lowest_layer(stream).expires_after(cfg.read_timeout);
        auto [hec] = co_await stream.async_handshake(ssl::stream_base::server, use_tuple);
        if (hec) {
            bot::log::debug("http.tls_handshake_failed", {{"error", hec.message()}});
            co_return;
        }
        co_await serve(stream, st);
        beast::get_lowest_layer(stream).expires_after(cfg.write_timeout);
        co_await stream.async_shutdown(use_tuple); // errors here are expected and ignored
    } else {
        beast::tcp_stream stream(std::move(sock));
        st->stream = &stream;
        co_await serve(stream, st);
        stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    }
}

template <class Stream>
awaitable<void> http_server::impl::serve(Stream& stream, std::shared_ptr<connection_state> st) {
    beast::flat_buffer buffer;
    for (;;) {
        st->busy = false;
        if (stopping)
            co_return;
        // One deadline covers the keep-alive wait and the whole request, so a client that
        // trickles bytes is cut off as surely as an idle one.
        beast::get_lowest_layer(stream).expires_after(cfg.read_timeout);
        bhttp::request_parser<bhttp::string_body> parser; // fresh per request
        parser.header_limit(static_cast<std::uint32_t>(cfg.header_limit));
        parser.body_limit(cfg.body_limit);
        auto [ec, n] = co_await bhttp::async_read_header(stream, buffer, parser, use_tuple);
        http_response res;
        bool close = false;
        std::string label = "unmatched";
        if (ec) {
            if (is_quiet_close(ec)) {
                if (ec == beast::error::timeout)
                    bot::log::debug("http.read_timeout", {});
                co_return;
            }
            st->busy = true;
            close = true;
            if (ec == bhttp::error::header_limit)
                res = error_response(431, "headers_too_large");
            else if (ec == bhttp::error::body_limit)
                res = error_response(413, "body_too_large");
            else if (is_http_parse_error(ec))
                res = error_response(400, "malformed_request");
            else
                throw boost::system::system_error(ec);
        } else {
            st->busy = true;
            if (bws::is_upgrade(parser.get())) {
                std::string target(parser.get().target());
                const route* r = routes->find(target.substr(0, target.find('?')));
                if (r && r->websocket) {
                    // The connection becomes the route's WebSocket until it closes.
                    co_await upgrade(stream, buffer, parser, *r);
                    co_return;
                }
            }
            bool drop = false;
            res = co_await answer(stream, buffer, parser, close, drop, label);
            if (drop)
                co_return;
        }
        if (!parser.is_header_done() || !parser.get().keep_alive() || stopping)
            close = true;

        bhttp::response<bhttp::string_body> msg{static_cast<bhttp::status>(res.status), 11};
        msg.set(bhttp::field::server, "tandem");
        msg.set(bhttp::field::content_type, res.content_type);
        for (const auto& [k, v] : res.headers)
            msg.set(k, v);
        msg.body() = std::move(res.body);
        msg.keep_alive(!close);
        msg.prepare_payload();
        count(label, res.status);
        beast::get_lowest_layer(stream).expires_after(cfg.write_timeout);
        auto [wec, wn] = co_await bhttp::async_write(stream, msg, use_tuple);
        if (res.on_sent)
            res.on_sent(!wec);
        if (wec) {
            if (!is_quiet_close(wec))
                bot::log::warn("http.write_failed", {{"error", wec.message()}});
            co_return;
        }
        if (close)
            co_return;
    }
}

template <class Stream, class Parser>
awaitable<http_response> http_server::impl::answer(Stream& stream, beast::flat_buffer& buffer,
                                                   Parser& parser, bool& close, bool& drop,
                                                   std::string& label) {
    auto& hdr = parser.get();
    std::string target(hdr.target());
    std::string path = target.substr(0, target.find('?'));
    std::string method(hdr.method_string());
    const route* r = routes->find(path);
    // Rejections before the body is read leave it unread, so the connection must close.
    if (!r) {
        close = true;
        co_return error_response(404, "not_found");
    }
    label = r->label;
    if (r->per_source) {
        boost::system::error_code rec;
        auto ep = beast::get_lowest_layer(stream).socket().remote_endpoint(rec);
        auto source =
            client_source(rec ? std::string() : ep.address().to_string(),
                          std::string_view(hdr["X-Forwarded-For"]), cfg.trust_forwarded_for);
        if (auto d = r->per_source->take(source); !d.allowed) {
            close = true;
            auto res = error_response(429, "too_many_requests");
            res.headers.emplace_back("Retry-After", std::to_string(d.retry_after_seconds));
            co_return res;
        }
    }
    if (!routes->allows(*r, method)) {
        close = true;
        auto res = error_response(405, "method_not_allowed");
        res.headers.emplace_back("Allow", router::allow_header(*r));
        co_return res;
    }
    bool has_body = method == "POST" || method == "PUT" || method == "PATCH";
    if (has_body && !r->media_types.empty()) {
        auto type = media_type(std::string(hdr[bhttp::field::content_type]));
        bool ok = false;
        for (const auto& m : r->media_types)
            ok = ok || m == type;
        if (!ok) {
            close = true;
            co_return error_response(415, "unsupported_media_type");
        }
    }
    if (auto len = parser.content_length(); len && *len > r->max_body) {
        close = true;
        co_return error_response(413, "body_too_large");
    }
    if (beast::iequals(hdr[bhttp::field::expect], "100-continue")) {
        bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, 11};
        auto [cec, cn] = co_await bhttp::async_write(stream, cont, use_tuple);
        if (cec) {
            close = true;
            co_return error_response(400, "malformed_request");
        }
    }
    auto [ec, n] = co_await bhttp::async_read(stream, buffer, parser, use_tuple);
    if (ec) {
        close = true;
        if (ec == bhttp::error::body_limit)
            co_return error_response(413, "body_too_large");
        if (is_http_parse_error(ec) && ec != bhttp::error::partial_message &&
            ec != bhttp::error::end_of_stream)
            co_return error_response(400, "malformed_request");
        if (is_quiet_close(ec)) {
            drop = true; // the peer went away or was too slow: nobody to answer
            co_return http_response{};
        }
        throw boost::system::system_error(ec);
    }
    if (parser.get().body().size() > r->max_body) {
        close = true;
        co_return error_response(413, "body_too_large");
    }
    http_request req;
    req.method = std::move(method);
    req.target = std::move(target);
    req.path = std::move(path);
    for (const auto& f : parser.get())
        req.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    req.body = std::move(parser.get().body());
    {
        boost::system::error_code rec;
        auto ep = beast::get_lowest_layer(stream).socket().remote_endpoint(rec);
        if (!rec)
            req.remote = ep.address().to_string();
    }
    std::string what;
    try {
        co_return co_await r->handler(std::move(req));
    } catch (const std::exception& e) {
        what = e.what();
    }
    bot::log::error("http.handler_failed", {{"route", r->label}, {"error", what}});
    co_return error_response(500, "internal_error");
}

template <class Stream, class Parser>
awaitable<void> http_server::impl::upgrade(Stream& stream, beast::flat_buffer& buffer,
                                           Parser& parser, const route& r) {
    auto [ec, n] = co_await bhttp::async_read(stream, buffer, parser, use_tuple);
    if (ec)
        co_return;
    const auto& msg = parser.get();
    http_request req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    req.path = req.target.substr(0, req.target.find('?'));
    for (const auto& f : msg)
        req.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    {
        boost::system::error_code rec;
        auto ep = beast::get_lowest_layer(stream).socket().remote_endpoint(rec);
        if (!rec)
            req.remote = ep.address().to_string();
    }
    const auto& wr = *r.websocket;
    if (stopping || !routes->allows(r, req.method)) {
        count(r.label, stopping ? 503 : 405);
        co_return;
    }
    std::optional<http_response> limited;
    if (r.per_source) {
        auto d = r.per_source->take(
            client_source(req.remote, req.header("X-Forwarded-For"), cfg.trust_forwarded_for));
        if (!d.allowed) {
            limited = error_response(429, "too_many_requests");
            limited->headers.emplace_back("Retry-After", std::to_string(d.retry_after_seconds));
        }
    }
    if (limited || wr.check) {
        if (auto refusal = limited ? limited : wr.check(req)) {
            bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(refusal->status),
                                                    11};
            res.set(bhttp::field::server, "tandem");
            res.set(bhttp::field::content_type, refusal->content_type);
            for (const auto& [k, v] : refusal->headers)
                res.set(k, v);
            res.body() = std::move(refusal->body);
            res.keep_alive(false);
            res.prepare_payload();
            count(r.label, refusal->status);
            beast::get_lowest_layer(stream).expires_after(cfg.write_timeout);
            co_await bhttp::async_write(stream, res, use_tuple);
            co_return;
        }
    }
    // From here on the WebSocket's own timeouts apply: a handshake deadline, then pings to
    // silent peers at half the idle timeout and a close after it.
    beast::get_lowest_layer(stream).expires_never();
    auto ws = std::make_shared<beast_websocket<Stream>>(stream);
    bws::stream_base::timeout t{};
    t.handshake_timeout = std::chrono::seconds(10);
    t.idle_timeout = wr.idle_timeout;
    t.keep_alive_pings = true;
    ws->ws.set_option(t);
    ws->ws.read_message_max(wr.max_message);
    ws->ws.set_option(bws::stream_base::decorator(
        [](bws::response_type& res) { res.set(bhttp::field::server, "tandem"); }));
    auto [aec] = co_await ws->ws.async_accept(msg, use_tuple);
    if (aec) {
        count(r.label, 400);
        co_return;
    }
    count(r.label, 101);
    try {
        co_await wr.run(std::move(req), ws);
    } catch (const std::exception& e) {
        bot::log::error("http.websocket_failed", {{"route", r.label}, {"error", e.what()}});
    }
}

http_server::http_server(net::any_io_executor ex, server_config cfg,
                         std::shared_ptr<const router> routes, std::shared_ptr<metrics> stats)
    : impl_(std::make_shared<impl>(ex, std::move(cfg), std::move(routes), std::move(stats))) {}

http_server::~http_server() {
    stop();
    close_all();
}

std::uint16_t http_server::start() {
    auto& s = *impl_;
    if (!s.cfg.tls_cert_file.empty()) {
        s.tls.emplace(ssl::context::tls_server);
        s.tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                           ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                           ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
        s.tls->use_certificate_chain_file(s.cfg.tls_cert_file);
        s.tls->use_private_key_file(s.cfg.tls_key_file, ssl::context::pem);
    }
    auto addr = net::ip::make_address(s.cfg.host);
    tcp::endpoint ep(addr, s.cfg.port);
    s.acceptor.open(ep.protocol());
    s.acceptor.set_option(net::socket_base::reuse_address(true));
    s.acceptor.bind(ep);
    s.acceptor.listen(net::socket_base::max_listen_connections);
    auto bound = s.acceptor.local_endpoint();
    bot::log::info("http.listening", {{"host", bound.address().to_string()},
                                      {"port", bound.port()},
                                      {"tls", s.tls.has_value()}});
    net::co_spawn(s.acceptor.get_executor(), s.accept_loop(), [](std::exception_ptr e) {
        if (!e)
            return;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& ex) {
            bot::log::error("http.accept_loop_failed", {{"error", ex.what()}});
        }
    });
    return bound.port();
}

void http_server::stop() {
    auto s = impl_;
    if (s->stopping.exchange(true))
        return;
    net::post(s->acceptor.get_executor(), [s] {
        boost::system::error_code ec;
        s->acceptor.close(ec);
    });
    std::lock_guard lock(s->mu);
    for (const auto& c : s->conns) {
        if (c->busy)
            continue; // finishes its response, then closes (stopping is set)
        net::post(c->ex, [c] {
            if (c->stream && !c->busy)
                c->stream->cancel();
        });
    }
}

void http_server::close_all() {
    auto s = impl_;
    std::lock_guard lock(s->mu);
    for (const auto& c : s->conns)
        net::post(c->ex, [c] {
            if (c->stream) {
                boost::system::error_code ec;
                c->stream->socket().close(ec);
            }
        });
}

std::size_t http_server::connections() const {
    std::lock_guard lock(impl_->mu);
    return impl_->conns.size();
}

bool http_server::stopping() const {
    return impl_->stopping;
}

} // namespace tandem::adapters::http
