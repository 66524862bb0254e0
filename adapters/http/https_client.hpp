// Outbound HTTP/1.1 client for the platform APIs (Telegram Bot API, Discord REST), over
// plain HTTP or HTTPS (OpenSSL, peer and host name verified). Keeps idle keep-alive
// connections per host for reuse (a connection is dropped on any error, on
// "Connection: close", when idle longer than idle_timeout, and when the server has closed it
// while idle), puts one deadline on each exchange, and never logs URLs (Bot API URLs contain
// the token) or bodies.
// Expected failures (refused, timeout, reset, TLS errors) are returned as values in
// client_result::ec; nothing here throws for network conditions.
#pragma once

#include "adapters/http/http_message.hpp"
#include "adapters/http/net.hpp"

#include <boost/system/error_code.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace tandem::adapters::http {

struct client_request {
    std::string method = "POST";
    std::string url; // http(s)://host[:port]/path?query
    header_list headers;
    std::string body;
    std::string content_type = "application/json"; // sent when body is not empty
    std::chrono::milliseconds timeout{10000};      // connect + TLS + write + read
};

struct client_response {
    int status = 0;
    header_list headers;
    std::string body;
    std::string_view header(std::string_view name) const { return find_header(headers, name); }
};

struct client_result {
    boost::system::error_code ec; // set when no HTTP response was received
    client_response response;
    int attempts = 1; // how many requests were sent (request_with_retry)
    bool ok() const { return !ec && response.status >= 200 && response.status < 300; }
};

// How request_with_retry handles failures. 429 waits for the server's hint; 5xx and
// connection failures back off exponentially; timeouts are retried only when asked
// (a timed-out POST may have been applied, and retrying could send a message twice).
struct retry_policy {
    int max_attempts = 4;
    std::chrono::milliseconds backoff{500};    // first wait for 5xx/network errors, doubled
    std::chrono::milliseconds max_wait{60000}; // a longer 429 hint is not waited for
    bool retry_timeouts = false;
    // Reads a 429's wait hint from the body (platform specific). nullopt falls back to the
    // Retry-After header, then to one second.
    std::function<std::optional<std::chrono::milliseconds>(const client_response&)> retry_after;
};

// Parsed http(s) URL.
struct url_parts {
    bool tls = false;
    std::string host;
    std::string port;
    std::string target; // path + query, at least "/"
};
std::optional<url_parts> parse_url(const std::string& url);

// True when ec is the client's deadline expiring (client_request::timeout).
bool is_timeout(const boost::system::error_code& ec);

class http_client {
  public:
    struct options {
        // Idle connections kept per host: about as many as replies go out at once under
        // load, or the surplus is closed and reopened on every burst. (The Telegram webhook
        // answers before its reply is sent, so at 64 concurrent webhook requests on
        // loopback ~390 replies were in flight; with 64 kept, 1 reply in 3 opened a
        // connection, with 256 1 in 23.)
        std::size_t max_idle_per_host = 256;
        std::chrono::milliseconds idle_timeout{30000}; // idle connections older are dropped
        std::size_t max_response_bytes = 1 << 20;
        std::string ca_file;    // extra trust anchor (PEM), e.g. for a self-signed test server
        bool verify_tls = true; // verify the peer certificate and host name
        std::string user_agent = "tandem/0.1";
    };

    explicit http_client(net::any_io_executor ex);
    http_client(net::any_io_executor ex, options opts);
    ~http_client();
    http_client(const http_client&) = delete;
    http_client& operator=(const http_client&) = delete;

    // One exchange. An idle connection the server has closed is noticed before it is reused
    // and replaced. A reused connection that fails anyway is replaced once, transparently,
    // only when that cannot send the request twice: the request was not fully written, or
    // its method is idempotent (GET, HEAD, PUT, DELETE, OPTIONS). Safe to call concurrently
    // from several coroutines.
    awaitable<client_result> request(client_request req);
    // request() plus the retry policy above; returns the last result.
    awaitable<client_result> request_with_retry(client_request req, retry_policy policy);

    std::size_t test_connections_opened() const;

  private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

} // namespace tandem::adapters::http
