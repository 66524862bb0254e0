// A connection's outgoing queue: anyone may push (from any thread, never blocking), one
// coroutine pops. It is the "one writer per socket" of the widget: the socket's writer
// loop is the only consumer. Bounded: a push beyond capacity fails, and the owner then
// drops the connection (the client resumes and loses nothing).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>

namespace tandem::adapters::widget {

class mailbox : public std::enable_shared_from_this<mailbox> {
  public:
    // ex must be the consumer's strand (or a single-threaded executor).
    mailbox(boost::asio::any_io_executor ex, std::size_t capacity);

    // False when full or closed.
    bool push(nlohmann::json frame);
    // The next frame; nullopt when closed and drained, or when wait passed with nothing.
    boost::asio::awaitable<std::optional<nlohmann::json>>
    pop(std::chrono::steady_clock::duration wait = std::chrono::hours(24 * 365));
    // Everything queued now, without waiting.
    std::deque<nlohmann::json> drain();
    // Wakes the consumer; later pushes fail. Safe from any thread, more than once.
    void close();
    bool closed() const;
    std::size_t size() const;

  private:
    void wake();
    boost::asio::any_io_executor ex_;
    std::size_t capacity_;
    mutable std::mutex mu_;
    std::deque<nlohmann::json> queue_;
    bool closed_ = false;
    boost::asio::steady_timer timer_;
};

} // namespace tandem::adapters::widget
