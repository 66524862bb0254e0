// WebSocket routes, seen without Beast. A route with a websocket_route accepts an upgrade
// on GET: the server checks the handshake with check(), accepts it with the route's limits
// and keep-alive pings, and hands run() the socket as a websocket_channel. Beast stays in
// http_server.cpp.
#pragma once

#include "adapters/http/http_message.hpp"
#include "adapters/http/net.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace tandem::adapters::http {

// An accepted WebSocket: whole text messages in and out. At most one read and one write
// may be outstanding at a time (one reader coroutine and one writer coroutine).
class websocket_channel {
  public:
    virtual ~websocket_channel() = default;
    // The next whole text message; nullopt once the socket closed, timed out, or the peer
    // sent a message over the limit (closed with 1009) or a binary one (closed with 1003).
    virtual awaitable<std::optional<std::string>> read() = 0;
    // False when the socket is gone.
    virtual awaitable<bool> write(std::string text) = 0;
    // Sends a close frame (1000 normal, 1001 going away, 1008 policy) once.
    virtual awaitable<void> close(std::uint16_t code) = 0;
};

struct websocket_route {
    std::size_t max_message = 16384;       // bytes of one message; larger closes with 1009
    std::chrono::seconds idle_timeout{60}; // silent peers are pinged at half, closed after
    // Looks at the handshake request: a response refuses it (e.g. 403 for a bad Origin),
    // nullopt accepts.
    std::function<std::optional<http_response>(const http_request&)> check;
    // Owns the socket until it returns; the server closes the connection afterwards.
    std::function<awaitable<void>(http_request, std::shared_ptr<websocket_channel>)> run;
};

} // namespace tandem::adapters::http
