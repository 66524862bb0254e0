// The widget on tandem's one HTTP server: /widget.js, the demo page at "/", the WebSocket
// at /widget/socket and the plain-HTTP fallback (POST /widget/api for a frame, POST
// /widget/poll to wait for news). Browsers may use them only from an allowed origin
// (widget.allowed_origins, plus the server's own pages): the WebSocket handshake is
// refused with 403 otherwise, and the HTTP endpoints answer CORS for allowed origins only.
// No Beast here: the server hands over an upgraded socket as an http::websocket_channel.
#pragma once

#include "adapters/http/net.hpp"
#include "adapters/http/router.hpp"
#include "adapters/widget/widget_config.hpp"
#include "adapters/widget/widget_hub.hpp"

#include <memory>
#include <string_view>

namespace tandem::adapters::widget {

// May a page at `origin` use the widget? Yes when the request has no Origin (not a
// browser), when origin is the server's own (its host equals the Host header) or when it is
// allowed by the config.
bool origin_allowed(const widget_config& cfg, std::string_view origin, std::string_view host);

class widget_adapter {
  public:
    // service must outlive the adapter.
    widget_adapter(net::any_io_executor ex, widget_config cfg, bot::turn_service& service);
    ~widget_adapter();
    widget_adapter(const widget_adapter&) = delete;
    widget_adapter& operator=(const widget_adapter&) = delete;

    // Limits each client address (before add_routes): a "start" or "message" frame beyond
    // the limit gets 429 with Retry-After and a "slow_down" frame on /widget/api (CORS
    // headers included, so the widget shows its gentle note) and a "slow_down" frame on
    // the WebSocket; WebSocket handshakes get 429. Pages, scripts, polls, pings and
    // resumes are not limited.
    void set_source_limiter(std::shared_ptr<http::source_limiter> limiter,
                            bool trust_forwarded_for);
    void add_routes(http::router& routes);
    // Check-ins reach widget sessions through this (register it with the core).
    std::shared_ptr<bot::proactive_sink> sink() const;
    std::shared_ptr<widget_hub> hub() const;
    // Ends waiting polls and closes sockets ("going away"); stops the expiry sweep.
    void stop();
    // Sockets and polls open now.
    std::size_t connections() const;

  private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

} // namespace tandem::adapters::widget
