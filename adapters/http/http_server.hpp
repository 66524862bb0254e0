// tandem's one HTTP/1.1 server (Boost.Beast, C++20 coroutines). Every webhook is a route
// on it. Each connection runs on its own strand; every read has a deadline, headers and
// bodies have explicit limits, and a fresh parser is used per request. Keep-alive works.
// Status codes the server itself produces: 400 malformed request, 404 unknown path,
// 405 wrong method (with Allow), 413 body too large, 415 wrong media type, 431 headers too
// large, 500 only when a handler throws (a bug, logged once).
#pragma once

#include "adapters/http/metrics.hpp"
#include "adapters/http/net.hpp"
#include "adapters/http/router.hpp"
#include "adapters/http/server_config.hpp"

#include <cstdint>
#include <memory>

namespace tandem::adapters::http {

class http_server {
  public:
    // routes and (optional) stats must outlive the server.
    http_server(net::any_io_executor ex, server_config cfg, std::shared_ptr<const router> routes,
                std::shared_ptr<metrics> stats = nullptr);
    ~http_server();
    http_server(const http_server&) = delete;
    http_server& operator=(const http_server&) = delete;

    // Loads TLS material (when configured), binds, listens and starts accepting. Returns the
    // bound port (useful with port 0) and logs "http.listening" with it. Throws
    // std::runtime_error / boost::system::system_error on failure (startup only).
    std::uint16_t start();

    // Stops accepting, closes idle connections and lets busy ones finish their current
    // response (sent with Connection: close). Safe to call from any thread, more than once.
    void stop();
    // Closes every connection at once (after the grace period).
    void close_all();
    // Connections currently open.
    std::size_t connections() const;
    bool stopping() const;

  private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

} // namespace tandem::adapters::http
