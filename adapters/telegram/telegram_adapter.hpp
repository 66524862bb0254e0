// The Telegram webhook adapter: authenticates, parses and acknowledges updates at once,
// then runs the turn and sends the reply through the Bot API in the background.
//
// Per chat, work is done strictly in arrival order by one worker coroutine, which also
// paces outgoing messages (per_chat_interval). Redelivered update_ids (Telegram retries
// non-2xx answers) are recorded in an update_dedupe (SQLite in `tandem serve`, so it holds
// across restarts) and never answered twice. Slash commands (/start, /help, /forget...)
// are passed to the core as text; the core gives them the same meaning on every channel.
// Answers: 401 missing secret header, 403 wrong secret, 400 malformed update, 200 for
// everything accepted or deliberately ignored, 503 (Telegram retries later) while shutting
// down, when the chat's queue or all queues are full, or when the update log cannot be
// reached. A 503'd update is not recorded as seen, so its redelivery is answered.
//
// With cfg.ack_after_turn (several instances on one Redis, docs/deployment.md) an update is
// claimed in the shared log and acknowledged only once its turn is committed and its reply
// sent; a failure on the way (store, Bot API) releases the claim and answers 503, and an
// instance that dies holding a claim loses nothing: the claim lapses and the redelivery is
// answered elsewhere, with the stored reply when the turn had already been committed.
#pragma once

#include "adapters/http/metrics.hpp"
#include "adapters/http/router.hpp"
#include "adapters/telegram/telegram_client.hpp"
#include "adapters/telegram/telegram_config.hpp"
#include "adapters/telegram/telegram_update.hpp"
#include "adapters/telegram/update_dedupe.hpp"
#include "bot/checkins.hpp"
#include "bot/turn_service.hpp"

#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

namespace tandem::adapters::telegram {

class telegram_adapter : public std::enable_shared_from_this<telegram_adapter> {
  public:
    // service and client must outlive the adapter and its background work. dedupe may be
    // null (then the last cfg.dedupe_window ids are remembered in memory); stats may be null.
    telegram_adapter(net::any_io_executor ex, telegram_config cfg, bot::turn_service& service,
                     http::http_client& client, std::shared_ptr<http::metrics> stats,
                     std::shared_ptr<update_dedupe> dedupe = nullptr);

    static constexpr const char* channel = "telegram";

    // The webhook route (cfg.path), bound to this adapter.
    http::route route();
    awaitable<http::http_response> handle(http::http_request req);

    // Sends an unprompted message (a check-in) to the chat ref.conversation_id, queued
    // behind that chat's pending replies and paced like them. True when Telegram accepted
    // every part; false when the adapter is stopping, the chat's queue is full, the send
    // failed, or it did not finish in time. May be awaited from any executor.
    awaitable<bool> deliver(bot::conversation_ref ref, bot::outbound_message msg);
    // A proactive_sink for bot_service::set_proactive_sink; it holds the adapter weakly.
    std::shared_ptr<bot::proactive_sink> proactive_sink();

    // Refuse new updates (503) and check-ins from now on; queued work still finishes.
    void stop() { stopping_ = true; }
    // Updates and check-ins accepted but not yet fully answered.
    std::size_t pending() const;

  private:
    struct delivery;
    struct job {
        parsed_update update;                      // an update to answer, or...
        std::optional<bot::outbound_message> push; // ...a check-in to send
        std::shared_ptr<delivery> done;            // told the check-in's outcome
        bool ack_after_turn = false; // done is told once the turn is committed, reply sent
    };
    struct chat_queue {
        std::deque<job> jobs;
        bool running = false;
    };
    using time_point = std::chrono::steady_clock::time_point;

    // Nothing when the update log cannot be reached (the webhook answers 503).
    std::optional<bool> first_time(const parsed_update& u);
    bool has_room(std::int64_t chat_id) const;
    bool enqueue(std::int64_t chat_id, job j);
    awaitable<void> drain(std::int64_t chat_id);
    awaitable<bool> process(const job& j, time_point& last);
    awaitable<bool> answer_update(const parsed_update& u, bool ack_after_turn, time_point& last);
    awaitable<http::http_response> handle_after_turn(parsed_update u);
    void release_update(const parsed_update& u);
    awaitable<bool> send_note(std::int64_t chat_id, std::string text, time_point& last);
    awaitable<bool> send_all(std::int64_t chat_id, std::vector<nlohmann::json> messages,
                             time_point& last);
    void count(const char* event);

    net::any_io_executor ex_;
    telegram_config cfg_;
    bot::turn_service& service_;
    bot_api api_;
    std::shared_ptr<http::metrics> stats_;
    std::shared_ptr<update_dedupe> dedupe_;
    std::atomic<bool> stopping_{false};

    mutable std::mutex mu_;
    std::map<std::int64_t, chat_queue> chats_;
    std::size_t pending_ = 0;
};

} // namespace tandem::adapters::telegram
