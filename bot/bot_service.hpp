// The asynchronous core: runs turns on a thread pool, one serial queue per conversation.
#pragma once

#include "bot/config.hpp"
#include "bot/turn_service.hpp"

#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <memory>
#include <vector>

namespace tandem::bot {

class content;
class conversation_store;
class turn_processor;
class checkin_store;
class proactive_sink;

class bot_service final : public turn_service {
  public:
    // threads/strands come from cfg.core. The store must outlive the service.
    // checkins may be null (then check-ins are never sent).
    bot_service(std::shared_ptr<const content> content, std::shared_ptr<conversation_store> store,
                const config& cfg, std::shared_ptr<checkin_store> checkins = nullptr);
    ~bot_service() override;

    boost::asio::awaitable<turn_result> handle(inbound_message msg) override;
    boost::asio::awaitable<bool> forget(conversation_ref ref) override;

    // Swaps the content for later turns (validated content only). Thread-safe.
    void set_content(std::shared_ptr<const content> content);
    // Registers how a channel reaches users unprompted (for check-ins). Thread-safe.
    void set_proactive_sink(const std::string& channel, std::shared_ptr<proactive_sink> sink);
    // Sends the check-ins due at `now` through their channels' sinks; returns how many were
    // delivered. Runs by itself every core.checkin_poll_seconds; public for tests.
    boost::asio::awaitable<std::size_t> send_due_checkins(std::int64_t now);
    // Deletes conversations idle longer than the configured expiry; returns how many.
    std::size_t sweep_expired();
    // Stops accepting turns and waits for the running ones.
    void stop();

    std::uint64_t turns_handled() const { return turns_.load(); }

  private:
    static boost::asio::awaitable<void> checkin_loop(bot_service* self);
    // Tells each chat's channel (its proactive sink) that the chat's conversation went.
    void tell_forgotten(const std::vector<conversation_ref>& refs);
    struct impl;
    std::unique_ptr<impl> impl_;
    std::atomic<std::uint64_t> turns_{0};
};

} // namespace tandem::bot
