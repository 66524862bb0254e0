// The outbound client. One of only two translation units that include Beast.
#include "adapters/http/https_client.hpp"

#include "bot/log.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <sys/socket.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <map>
#include <mutex>
#include <vector>

namespace tandem::adapters::http {

namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using namespace net::experimental::awaitable_operators;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

std::optional<url_parts> parse_url(const std::string& url) {
    url_parts out;
    std::string_view rest(url);
    if (rest.substr(0, 8) == "https://") {
        out.tls = true;
        rest.remove_prefix(8);
    } else if (rest.substr(0, 7) == "http://") {
        rest.remove_prefix(7);
    } else {
        return std::nullopt;
    }
    auto slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    out.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
    if (authority.empty() || authority.find('@') != std::string_view::npos)
        return std::nullopt;
    std::string_view host = authority, port;
    if (authority.front() == '[') {
        auto close = authority.find(']');
        if (close == std::string_view::npos)
            return std::nullopt;
        host = authority.substr(1, close - 1);
        if (close + 1 < authority.size()) {
            if (authority[close + 1] != ':')
                return std::nullopt;
            port = authority.substr(close + 2);
        }
    } else if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
        host = authority.substr(0, colon);
        port = authority.substr(colon + 1);
    }
    if (host.empty())
        return std::nullopt;
    out.host = std::string(host);
    out.port = port.empty() ? (out.tls ? "443" : "80") : std::string(port);
    unsigned p = 0;
    auto [end, ec] = std::from_chars(out.port.data(), out.port.data() + out.port.size(), p);
    if (ec != std::errc() || end != out.port.data() + out.port.size() || p == 0 || p > 65535)
        return std::nullopt;
    return out;
}

bool is_timeout(const boost::system::error_code& ec) {
    return ec == beast::error::timeout;
}

namespace {

struct connection {
    std::unique_ptr<beast::tcp_stream> plain;
    std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls;
    beast::flat_buffer buffer;
    std::chrono::steady_clock::time_point last_used;

    beast::tcp_stream& lowest() { return tls ? beast::get_lowest_layer(*tls) : *plain; }
};

// Whether an idle pooled connection still looks usable: nothing buffered, and the socket
// has neither data nor end-of-stream waiting (a server that closed it while idle, or sent
// anything unasked, makes it unusable). A non-blocking peek; never waits.
bool idle_connection_alive(connection& c) {
    if (c.buffer.size() != 0)
        return false;
    auto& sock = c.lowest().socket();
    if (!sock.is_open())
        return false;
    char byte = 0;
    ssize_t n = ::recv(sock.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

// Methods a client may send again without changing the outcome (RFC 9110 §9.2.2).
bool is_idempotent(std::string_view method) {
    return method == "GET" || method == "HEAD" || method == "PUT" || method == "DELETE" ||
           method == "OPTIONS";
}

bool is_stale_connection_error(const boost::system::error_code& ec) {
    return ec == bhttp::error::end_of_stream || ec == net::error::eof ||
           ec == net::error::connection_reset || ec == net::error::broken_pipe ||
           ec == bhttp::error::partial_message || ec == ssl::error::stream_truncated;
}

std::optional<std::chrono::milliseconds> header_retry_after(const client_response& r) {
    auto v = r.header("Retry-After");
    double secs = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), secs);
    if (v.empty() || ec != std::errc() || secs < 0 || !std::isfinite(secs))
        return std::nullopt;
    return std::chrono::milliseconds(static_cast<std::int64_t>(std::ceil(secs * 1000)));
}

} // namespace

struct http_client::impl : std::enable_shared_from_this<impl> {
    net::any_io_executor ex;
    options opts;
    ssl::context tls_ctx{ssl::context::tls_client};
    std::mutex mu;
    std::map<std::string, std::vector<std::unique_ptr<connection>>> idle;
    std::size_t opened = 0;

    impl(net::any_io_executor e, options o) : ex(e), opts(std::move(o)) {
        tls_ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                            ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                            ssl::context::no_tlsv1_1);
        tls_ctx.set_default_verify_paths();
        if (!opts.ca_file.empty())
            tls_ctx.load_verify_file(opts.ca_file);
        tls_ctx.set_verify_mode(opts.verify_tls ? ssl::verify_peer : ssl::verify_none);
    }

    std::unique_ptr<connection> take_idle(const std::string& key) {
        std::lock_guard lock(mu);
        auto& v = idle[key];
        auto now = std::chrono::steady_clock::now();
        while (!v.empty()) { // newest first; the rest stay for the next request
            auto c = std::move(v.back());
            v.pop_back();
            if (now - c->last_used < opts.idle_timeout && idle_connection_alive(*c))
                return c;
        }
        return nullptr;
    }

    void put_idle(const std::string& key, std::unique_ptr<connection> c) {
        auto now = std::chrono::steady_clock::now();
        c->last_used = now;
        std::lock_guard lock(mu);
        auto& v = idle[key];
        // Oldest first: close those idle too long, so they do not linger until a next request.
        std::size_t expired = 0;
        while (expired < v.size() && now - v[expired]->last_used >= opts.idle_timeout)
            ++expired;
        v.erase(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(expired));
        if (v.size() < opts.max_idle_per_host)
            v.push_back(std::move(c));
    }

    awaitable<std::pair<boost::system::error_code, std::unique_ptr<connection>>>
    connect(const url_parts& u, std::chrono::steady_clock::time_point deadline) {
        tcp::resolver resolver(ex);
        net::steady_timer timer(ex, deadline);
        auto res = co_await (resolver.async_resolve(u.host, u.port, use_tuple) ||
                             timer.async_wait(use_tuple));
        if (res.index() == 1)
            co_return std::make_pair(make_error_code(beast::error::timeout), nullptr);
        auto [rec, endpoints] = std::get<0>(res);
        if (rec)
            co_return std::make_pair(rec, nullptr);
        auto c = std::make_unique<connection>();
        if (u.tls)
            c->tls = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(ex, tls_ctx);
        else
            c->plain = std::make_unique<beast::tcp_stream>(ex);
        auto& low = c->lowest();
        low.expires_at(deadline);
        auto [cec, ep] = co_await low.async_connect(endpoints, use_tuple);
        if (cec)
            co_return std::make_pair(cec, nullptr);
        boost::system::error_code ignored;
        low.socket().set_option(tcp::no_delay(true), ignored);
        if (u.tls) {
            if (!SSL_set_tlsext_host_name(c->tls->native_handle(), u.host.c_str()))
                co_return std::make_pair(
                    boost::system::error_code(static_cast<int>(::ERR_get_error()),
                                              net::error::get_ssl_category()),
                    nullptr);
            if (opts.verify_tls)
                c->tls->set_verify_callback(ssl::host_name_verification(u.host));
            auto [hec] = co_await c->tls->async_handshake(ssl::stream_base::client, use_tuple);
            if (hec)
                co_return std::make_pair(hec, nullptr);
        }
        {
            std::lock_guard lock(mu);
            ++opened;
        }
        co_return std::make_pair(boost::system::error_code{}, std::move(c));
    }

    template <class Stream>
    awaitable<boost::system::error_code> exchange(Stream& s, connection& c,
                                                  bhttp::request<bhttp::string_body>& req,
                                                  client_response& out, bool& keep, bool& written) {
        auto [wec, wn] = co_await bhttp::async_write(s, req, use_tuple);
        if (wec)
            co_return wec;
        written = true;
        bhttp::response_parser<bhttp::string_body> parser;
        parser.body_limit(opts.max_response_bytes);
        auto [rec, rn] = co_await bhttp::async_read(s, c.buffer, parser, use_tuple);
        if (rec)
            co_return rec;
        auto& res = parser.get();
        out.status = static_cast<int>(res.result_int());
        for (const auto& f : res)
            out.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
        out.body = std::move(res.body());
        keep = res.keep_alive() && !res.need_eof();
        co_return boost::system::error_code{};
    }

    awaitable<client_result> request(client_request r) {
        auto self = shared_from_this();
        client_result result;
        auto u = parse_url(r.url);
        if (!u) {
            result.ec = make_error_code(boost::system::errc::invalid_argument);
            co_return result;
        }
        std::string key = (u->tls ? "https://" : "http://") + u->host + ":" + u->port;
        bhttp::request<bhttp::string_body> req;
        req.method_string(r.method);
        req.target(u->target);
        req.version(11);
        req.set(bhttp::field::host, u->host);
        req.set(bhttp::field::user_agent, opts.user_agent);
        for (const auto& [k, v] : r.headers)
            req.set(k, v);
        if (!r.body.empty() || r.method == "POST" || r.method == "PUT" || r.method == "PATCH")
            req.set(bhttp::field::content_type, r.content_type);
        req.body() = std::move(r.body);
        req.keep_alive(true);
        req.prepare_payload();
        auto deadline = std::chrono::steady_clock::now() + r.timeout;

        for (int round = 0; round < 2; ++round) {
            auto conn = take_idle(key);
            bool reused = conn != nullptr;
            if (!conn) {
                auto [cec, fresh] = co_await connect(*u, deadline);
                if (cec) {
                    result.ec = cec;
                    co_return result;
                }
                conn = std::move(fresh);
            }
            conn->lowest().expires_at(deadline);
            client_response out;
            bool keep = false, written = false;
            auto ec = conn->tls ? co_await exchange(*conn->tls, *conn, req, out, keep, written)
                                : co_await exchange(*conn->plain, *conn, req, out, keep, written);
            if (!ec) {
                conn->lowest().expires_never();
                if (keep)
                    put_idle(key, std::move(conn));
                result.response = std::move(out);
                co_return result;
            }
            // A pooled connection the server closed meanwhile: try once more on a new one, if
            // that cannot apply the request twice (it was not fully sent, or sending it again
            // changes nothing). Otherwise the caller's retry policy decides.
            if (reused && is_stale_connection_error(ec) && (!written || is_idempotent(r.method)) &&
                std::chrono::steady_clock::now() < deadline)
                continue;
            result.ec = ec;
            co_return result;
        }
        result.ec = make_error_code(net::error::connection_reset);
        co_return result;
    }
};

http_client::http_client(net::any_io_executor ex) : http_client(ex, options{}) {}

http_client::http_client(net::any_io_executor ex, options opts)
    : impl_(std::make_shared<impl>(ex, std::move(opts))) {}

http_client::~http_client() = default;

awaitable<client_result> http_client::request(client_request req) {
    return impl_->request(std::move(req));
}

awaitable<client_result> http_client::request_with_retry(client_request req, retry_policy policy) {
    auto self = impl_;
    client_result last;
    auto backoff = policy.backoff;
    for (int attempt = 1; attempt <= std::max(1, policy.max_attempts); ++attempt) {
        last = co_await self->request(req);
        last.attempts = attempt;
        std::optional<std::chrono::milliseconds> wait;
        if (last.ec) {
            bool timeout = last.ec == beast::error::timeout;
            if (timeout && !policy.retry_timeouts)
                co_return last;
            wait = backoff;
            backoff *= 2;
        } else if (last.response.status == 429) {
            if (policy.retry_after)
                wait = policy.retry_after(last.response);
            if (!wait)
                wait = header_retry_after(last.response);
            if (!wait)
                wait = std::chrono::milliseconds(1000);
            if (*wait > policy.max_wait) {
                bot::log::warn("http_client.retry_after_too_long", {{"wait_ms", wait->count()}});
                co_return last;
            }
        } else if (last.response.status >= 500) {
            wait = backoff;
            backoff *= 2;
        } else {
            co_return last; // 2xx or a 4xx the caller has to handle
        }
        if (attempt == policy.max_attempts)
            break;
        bot::log::info("http_client.retry", {{"attempt", attempt},
                                             {"status", last.response.status},
                                             {"error", last.ec ? last.ec.message() : ""},
                                             {"wait_ms", wait->count()}});
        net::steady_timer t(self->ex, *wait);
        co_await t.async_wait(use_tuple);
    }
    co_return last;
}

std::size_t http_client::test_connections_opened() const {
    std::lock_guard lock(impl_->mu);
    return impl_->opened;
}

} // namespace tandem::adapters::http
