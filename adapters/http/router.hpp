// Path router shared by every webhook: maps a request path to a route that says which
// methods and media types it accepts, how large a body may be, and which handler answers.
// The server (http_server.cpp) applies these checks before reading the body, so a handler
// only ever sees a request that passed them.
#pragma once

#include "adapters/http/http_message.hpp"
#include "adapters/http/net.hpp"
#include "adapters/http/rate_limit.hpp"
#include "adapters/http/websocket.hpp"

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace tandem::adapters::http {

// A handler answers one request. It may await (e.g. a Discord turn for up to ~2 s) but must
// never throw for bad client input: return a 4xx response instead. An exception is a bug; the
// server logs it once and answers 500.
using handler_fn = std::function<awaitable<http_response>(http_request)>;

struct route {
    std::string path; // exact path, or a prefix when prefix = true
    bool prefix = false;
    std::vector<std::string> methods{"POST"};                 // others get 405 with Allow
    std::vector<std::string> media_types{"application/json"}; // POST/PUT/PATCH bodies; empty = any
    std::size_t max_body = 64 * 1024; // larger bodies get 413 (capped by the server's limit)
    std::string label;                // metrics label; defaults to path
    handler_fn handler;
    // Set on a GET route that also accepts a WebSocket upgrade (the widget's socket); a
    // plain GET still goes to handler.
    std::shared_ptr<websocket_route> websocket;
    // When set, each client address gets this route's share of the limiter; beyond it the
    // server answers 429 with Retry-After (a WebSocket handshake too).
    std::shared_ptr<source_limiter> per_source;
};

// Built once at startup, then read-only (safe to share between threads).
class router {
  public:
    void add(route r);
    // Exact matches win over prefixes; the longest prefix wins. nullptr when nothing matches.
    const route* find(std::string_view path) const;
    bool allows(const route& r, std::string_view method) const;
    // "GET, POST" for the Allow header.
    static std::string allow_header(const route& r);
    const std::vector<route>& routes() const { return routes_; }

  private:
    std::vector<route> routes_;
};

} // namespace tandem::adapters::http
