#include "adapters/widget/mailbox.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace tandem::adapters::widget {

namespace net = boost::asio;

mailbox::mailbox(net::any_io_executor ex, std::size_t capacity)
    : ex_(ex), capacity_(capacity), timer_(ex) {}

bool mailbox::push(nlohmann::json frame) {
    {
        std::lock_guard lock(mu_);
        if (closed_ || queue_.size() >= capacity_)
            return false;
        queue_.push_back(std::move(frame));
    }
    wake();
    return true;
}

void mailbox::close() {
    {
        std::lock_guard lock(mu_);
        if (closed_)
            return;
        closed_ = true;
    }
    wake();
}

bool mailbox::closed() const {
    std::lock_guard lock(mu_);
    return closed_;
}

std::size_t mailbox::size() const {
    std::lock_guard lock(mu_);
    return queue_.size();
}

// The timer is touched only on ex_ (the consumer's strand): a posted cancel cannot run
// between pop()'s check of the queue and the start of its wait, so no wake-up is lost.
void mailbox::wake() {
    net::post(ex_, [self = shared_from_this()] { self->timer_.cancel(); });
}

std::deque<nlohmann::json> mailbox::drain() {
    std::lock_guard lock(mu_);
    return std::exchange(queue_, {});
}

net::awaitable<std::optional<nlohmann::json>>
mailbox::pop(std::chrono::steady_clock::duration wait) {
    auto self = shared_from_this();
    auto deadline = std::chrono::steady_clock::now() + wait;
    for (;;) {
        {
            std::lock_guard lock(mu_);
            if (!queue_.empty()) {
                auto f = std::move(queue_.front());
                queue_.pop_front();
                co_return f;
            }
            if (closed_)
                co_return std::nullopt;
        }
        if (std::chrono::steady_clock::now() >= deadline)
            co_return std::nullopt;
        timer_.expires_at(deadline);
        co_await timer_.async_wait(net::as_tuple(net::use_awaitable));
    }
}

} // namespace tandem::adapters::widget
