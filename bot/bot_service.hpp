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

class bot_service final : public turn_service {
  public:
    // threads/strands come from cfg.core. The store must outlive the service.
    bot_service(std::shared_ptr<const content> content, std::shared_ptr<conversation_store> store,
                const config& cfg);
    ~bot_service() override;

    boost::asio::awaitable<turn_result> handle(inbound_message msg) override;
    boost::asio::awaitable<bool> forget(conversation_ref ref) override;

    // Swaps the content for later turns (validated content only). Thread-safe.
    void set_content(std::shared_ptr<const content> content);
    // Deletes conversations idle longer than the configured expiry; returns how many.
    std::size_t sweep_expired();
    // Stops accepting turns and waits for the running ones.
    void stop();

    std::uint64_t turns_handled() const { return turns_.load(); }

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
    std::atomic<std::uint64_t> turns_{0};
};

} // namespace tandem::bot
