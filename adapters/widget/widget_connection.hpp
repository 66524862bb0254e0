// One client connection, whatever carries it: a WebSocket for its whole life, or a single
// HTTP request of the fallback. It turns client frames into hub calls and queues every
// frame meant for the client in its mailbox, which the transport's one writer drains.
#pragma once

#include "adapters/widget/mailbox.hpp"
#include "adapters/widget/widget_hub.hpp"
#include "adapters/widget/widget_protocol.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace tandem::adapters::widget {

class widget_connection final : public subscriber,
                                public std::enable_shared_from_this<widget_connection> {
  public:
    // ex: the transport's strand; the mailbox wakes its reader there.
    widget_connection(std::shared_ptr<widget_hub> hub, boost::asio::any_io_executor ex);
    ~widget_connection() override;

    // Parses and handles one raw frame; a bad frame gets an error frame, never an exception.
    boost::asio::awaitable<void> handle(std::string_view raw);
    boost::asio::awaitable<void> handle(client_frame f);

    // Frames for the client, in order. Closed when the connection fell behind (its
    // transport should then close, so the client resumes) or after close().
    mailbox& outbox() { return *outbox_; }
    std::shared_ptr<mailbox> outbox_ptr() { return outbox_; }
    // The session this connection listens to (empty when none).
    std::string session() const;
    // Stops listening and closes the mailbox.
    void close();

    bool push(const nlohmann::json& frame) override;
    void detached(const std::string& session_id) override;

  private:
    void send(nlohmann::json frame);
    bool bind(const std::string& session_id, std::uint64_t last_seq, bool announce);
    void unbind();

    std::shared_ptr<widget_hub> hub_;
    std::shared_ptr<mailbox> outbox_;
    frame_limits limits_;
    mutable std::mutex mu_;
    std::string session_;
};

} // namespace tandem::adapters::widget
