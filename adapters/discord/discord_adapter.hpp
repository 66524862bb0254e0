// The Discord HTTP-interactions adapter (no gateway).
//
// Every request is authenticated first: the Ed25519 signature over timestamp + raw body
// (401 when missing or invalid) and the timestamp's freshness (401 when stale). Then:
//   PING -> PONG;
//   /reflect [text], a button press, or the free-text modal -> one turn. When the turn
//     finishes within inline_wait the reply is the HTTP answer (type 4); otherwise the
//     answer is a deferral (type 5) and the reply follows as PATCH @original once the
//     deferral was sent. Extra bubbles go out as follow-up messages;
//   "Type an answer" -> the modal (type 9), no turn;
//   /help, /menu, /restart, /forget, /why, /export -> a turn with that slash command as
//     text; the core gives them the same meaning on every channel.
// Replies are ephemeral (flag 64) by default. Conversations are keyed by Discord user id.
//
// Unprompted messages (check-ins): Discord lets an HTTP-only app speak only inside an
// interaction's 15-minute token window, or, with a bot token, in a DM channel the bot opens
// (the user must share a server with the bot or allow DMs from it). deliver() uses the
// user's latest interaction token while it is fresh (under 14 minutes), else a DM when
// DISCORD_BOT_TOKEN is set, else reports failure.
//
// The inbox (optional; `tandem serve` with store.kind "sqlite": discord.inbox in the data
// folder): a deferral is recorded durably (interaction id, application id, token, the user,
// the message as the turn needs it, when it arrived) before the type 5 answer is sent, and
// marked answered (its text dropped) once the PATCH @original was delivered or Discord
// refused it for good (4xx). resume() at start-up finishes what a crash left: records under
// 14 minutes old are replayed (the core's turns are idempotent by interaction id, so a turn
// committed before the crash is not applied again; its stored reply is sent), older ones are
// dropped. "Forget me" deletes the user's records.
#pragma once

#include "adapters/discord/discord_client.hpp"
#include "adapters/discord/discord_config.hpp"
#include "adapters/discord/discord_interaction.hpp"
#include "adapters/discord/ed25519.hpp"
#include "adapters/http/metrics.hpp"
#include "adapters/http/router.hpp"
#include "bot/checkins.hpp"
#include "bot/message_log.hpp"
#include "bot/turn_service.hpp"

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>

namespace tandem::adapters::discord {

class discord_adapter : public std::enable_shared_from_this<discord_adapter> {
  public:
    // service, client and stats must outlive the adapter and its background work.
    // inbox may be null (no inbox: a deferral in flight when the process dies is lost).
    discord_adapter(net::any_io_executor ex, discord_config cfg, ed25519_verifier verifier,
                    bot::turn_service& service, http::http_client& client,
                    std::shared_ptr<http::metrics> stats,
                    std::shared_ptr<bot::message_log> inbox = nullptr);

    static constexpr const char* channel = "discord";

    http::route route();
    awaitable<http::http_response> handle(http::http_request req);

    // Sends an unprompted message to the user ref.conversation_id (see above). True when
    // Discord accepted every part. May be awaited from any executor.
    awaitable<bool> deliver(bot::conversation_ref ref, bot::outbound_message msg);
    // A proactive_sink for bot_service::set_proactive_sink; it holds the adapter weakly.
    std::shared_ptr<bot::proactive_sink> proactive_sink();

    // At start-up: finishes the deferrals the inbox still holds (see above); now is unix
    // seconds. Returns how many are being replayed (in the background, counted in
    // pending()). Never throws: an unreadable inbox is logged and skipped.
    std::size_t resume(std::int64_t now);
    // The user's conversation was deleted from a chat linked to it: drops their records.
    void forgotten_elsewhere(const std::string& user_id);

    void stop() { stopping_ = true; }
    // Turns and follow-ups still running in the background.
    std::size_t pending() const { return pending_.load(); }

  private:
    struct pending_turn;

    awaitable<http::http_response> start_turn(interaction ix, bot::inbound_message in);
    awaitable<void> run_turn(std::shared_ptr<pending_turn> st, bot::inbound_message in);
    awaitable<void> deliver(std::shared_ptr<pending_turn> st, std::vector<nlohmann::json> msgs,
                            bool edit_first);
    void remember_token(const interaction& ix);
    // Starts a background coroutine counted in pending(); logs its exception once.
    void spawn(std::function<awaitable<void>()> work, const char* what);
    void on_deferral_sent(std::shared_ptr<pending_turn> st);
    awaitable<void> record_deferral(std::shared_ptr<pending_turn> st,
                                    const bot::inbound_message& in);
    awaitable<void> replay(std::vector<std::shared_ptr<pending_turn>> turns,
                           std::vector<bot::inbound_message> messages);
    awaitable<void> inbox_answered(std::shared_ptr<pending_turn> st);
    // Deletes the user's records but keep_id's (a deferral still to be finished).
    void forget_records(const std::string& user_id, std::int64_t keep_id);
    void inbox_result(const char* during, const char* error);

    net::any_io_executor ex_;
    discord_config cfg_;
    ed25519_verifier verifier_;
    bot::turn_service& service_;
    discord_api api_;
    std::shared_ptr<http::metrics> stats_;
    std::shared_ptr<bot::message_log> inbox_;
    std::atomic<bool> inbox_failing_{false};
    std::atomic<bool> stopping_{false};
    std::atomic<std::size_t> pending_{0};

    // The latest interaction token per user, for check-ins within its lifetime.
    struct token_entry {
        std::string application_id;
        std::string token;
        std::chrono::steady_clock::time_point received;
    };
    std::mutex tokens_mu_;
    std::map<std::string, token_entry> tokens_;
};

// The inbox's SQLite file (owner-only, in a folder of its own when missing): a
// "discord_inbox" table. Records older than 15 minutes (a token's life) are pruned whenever
// a deferral is recorded (and at start-up by resume()). max_bytes > 0 caps the file as
// store.max_bytes does. Throws bot::store_error when the file cannot be opened.
std::shared_ptr<bot::message_log> make_sqlite_inbox(const std::string& path,
                                                    std::int64_t max_bytes = 0);

} // namespace tandem::adapters::discord
