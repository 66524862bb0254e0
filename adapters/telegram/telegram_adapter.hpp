// The Telegram webhook adapter: authenticates, parses and acknowledges updates at once,
// then runs the turn and sends the reply through the Bot API in the background.
//
// Per chat, work is done strictly in arrival order by one worker coroutine, which also
// paces outgoing messages (per_chat_interval). An update is acknowledged only once it is
// recorded, with its payload, in the update log (SQLite in `tandem serve`: a durable
// inbox); it is marked answered once its reply was sent. Updates acknowledged but not
// answered when the process died are answered after a restart (resume()); the core's
// turns are idempotent by update id, so a replayed update whose turn was already committed
// sends that turn's reply instead of running a second turn. Redelivered update_ids
// (Telegram retries non-2xx answers) that were answered are never answered twice.
// Slash commands (/start, /help, /forget...) are passed to the core as text; the core
// gives them the same meaning on every channel.
// Answers: 401 missing secret header, 403 wrong secret, 400 malformed update, 200 for
// everything accepted or deliberately ignored, 503 (Telegram retries later) while shutting
// down, when the chat's queue or all queues are full, or when the update log cannot be
// written (disk full): a 503'd update is not lost, its redelivery is answered.
//
// With cfg.ack_after_turn (several instances on one Redis: `tandem serve` sets it for
// store.kind "redis", docs/deployment.md) there is no inbox: an update is claimed in the
// shared log and acknowledged only once its turn is committed and its reply sent; a failure
// on the way (store, Bot API) releases the claim and answers 503, and an instance that dies
// holding a claim loses nothing: the claim lapses and the redelivery is answered elsewhere,
// with the stored reply when the turn had already been committed (idempotent turns).
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
#include <set>

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
    // The chat's conversation was deleted from another chat linked to it (/link): its
    // answered update ids go too, as after "forget me" typed here.
    void forgotten_elsewhere(const std::string& conversation_id);
    // A proactive_sink for bot_service::set_proactive_sink; it holds the adapter weakly.
    std::shared_ptr<bot::proactive_sink> proactive_sink();

    // Queues every update the log holds as accepted but not answered (left by a crash or a
    // kill), oldest first; returns how many. Call once at start, before serving. Throws
    // bot::store_error when the log cannot be read.
    std::size_t resume();
    // True while the update log cannot be written (the last write failed); the next
    // successful write clears it. `tandem serve` reports not ready meanwhile.
    bool store_failing() const { return store_failing_; }
    // While failing: tries a write like an update's and clears the failure when it works.
    // Returns store_failing() afterwards. Blocking (a short SQLite write).
    bool recheck_store();

    // Refuse new updates (503) and check-ins from now on; queued work still finishes.
    void stop() { stopping_ = true; }
    // Updates and check-ins accepted but not yet fully answered.
    std::size_t pending() const;

  private:
    struct delivery;
    struct job {
        parsed_update update;                       // an update to answer, or...
        std::optional<bot::outbound_message> push;  // ...a check-in to send
        std::shared_ptr<delivery> done;             // told the check-in's outcome
        std::optional<bot::outbound_message> reply; // the turn's reply, once it ran
        std::size_t sent = 0;                       // messages of the reply already sent
        bool callback_answered = false;
        bool ack_after_turn = false; // done is told once the turn is committed, reply sent
        bool forgotten = false;      // the turn forgot the conversation ("forget me")
    };
    // One attempt at a job: done (or deliberately not sent), failed for a passing reason
    // (worth another round), or failed for good.
    enum class outcome { done, retry, failed };
    struct chat_queue {
        std::deque<job> jobs;
        bool running = false;
    };
    using time_point = std::chrono::steady_clock::time_point;

    bool has_room(std::int64_t chat_id) const;
    bool queued(std::int64_t update_id) const;
    bool enqueue(std::int64_t chat_id, job j, bool force = false);
    awaitable<void> drain(std::int64_t chat_id);
    awaitable<outcome> process(job& j, time_point& last);
    awaitable<outcome> answer_update(job& j, time_point& last);
    awaitable<outcome> send_note(job& j, std::string text, time_point& last);
    awaitable<outcome> send_all(job& j, std::vector<nlohmann::json> messages, time_point& last);
    awaitable<http::http_response> handle_after_turn(parsed_update u);
    awaitable<void> finish_update(const job& j, outcome result);
    void mark_answered(std::int64_t update_id);
    awaitable<void> mark_answered_async(std::int64_t update_id);
    void forget_updates(std::int64_t chat_id);
    void store_result(const char* what, const char* error);
    void count(const char* event);

    net::any_io_executor ex_;
    telegram_config cfg_;
    bot::turn_service& service_;
    bot_api api_;
    std::shared_ptr<http::metrics> stats_;
    std::shared_ptr<update_dedupe> dedupe_;
    std::atomic<bool> stopping_{false};
    std::atomic<bool> store_failing_{false};

    mutable std::mutex mu_;
    std::map<std::int64_t, chat_queue> chats_;
    std::set<std::int64_t> queued_; // update ids queued or being answered
    std::size_t pending_ = 0;
};

} // namespace tandem::adapters::telegram
