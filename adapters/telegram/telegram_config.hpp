// The "telegram" section of config/tandem.json and the secrets it names.
#pragma once

#include "bot/config.hpp"
#include "bot/diagnostics.hpp"

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace tandem::adapters::telegram {

struct telegram_config {
    bool enabled = true;                                // false switches the channel off
    std::string path = "/webhooks/telegram";            // webhook route on `tandem serve`
    std::string token_env = "TELEGRAM_BOT_TOKEN";       // env var holding the bot token
    std::string secret_env = "TELEGRAM_WEBHOOK_SECRET"; // env var holding the webhook secret
    std::string api_base = "https://api.telegram.org";  // Bot API server
    std::string api_base_env = "TELEGRAM_API_BASE";     // env var overriding api_base
    std::string public_url;             // https URL Telegram calls; used by `telegram set-webhook`
    std::size_t max_body_bytes = 65536; // larger updates get 413
    std::size_t dedupe_window = 4096;   // recent update_ids remembered
    // The update log's SQLite file in data_dir (store kind "sqlite"), a file of its own so
    // that its commits never wait for the store's; store.max_bytes caps each of the two.
    std::string update_log = "telegram-updates.sqlite";
    std::chrono::milliseconds per_chat_interval{1000}; // pacing between messages to one chat
    std::chrono::milliseconds request_timeout{10000};  // one Bot API call
    int max_attempts = 4;                            // Bot API attempts (429, 5xx, network errors)
    std::chrono::milliseconds max_retry_wait{60000}; // longer retry_after hints give up
    std::size_t max_queued_per_chat = 20; // updates waiting per chat; more get 503 (retried)
    std::size_t max_pending = 10000;      // updates waiting in all; more get 503 (retried)
    // Chats with work in memory (a queue and its worker); a new chat beyond this gets 503
    // (Telegram retries later) while chats already in progress keep going.
    std::size_t max_live_chats = 5000;
    // A reply the Bot API refused for a passing reason (no answer, 429, 5xx) after
    // max_attempts is tried again this many more rounds, waiting 1 s, 2 s, 4 s... (at most
    // outage_backoff_max) between rounds, before it is given up. The chat's later updates
    // wait meanwhile (bounded by max_queued_per_chat and max_pending).
    int outage_retry_rounds = 8;
    std::chrono::milliseconds outage_backoff_max{30000};
    std::string parse_mode;         // "" = plain text (default) or "MarkdownV2"
    bool private_chats_only = true; // groups get a short pointer to a private chat
    std::vector<std::string> allowed_updates{"message", "callback_query"};
    // Several instances on one shared store (store.kind "redis", docs/deployment.md): an
    // update is acknowledged only once its turn is committed and its reply sent, so an
    // instance that dies mid-turn loses nothing (Telegram redelivers what got no 200); no
    // local inbox. Follows store.kind (the config may only repeat it). A claim on an update
    // lapses after claim_lease.
    bool ack_after_turn = false;
    std::chrono::seconds claim_lease{60};

    // Resolved from the environment by resolve_secrets(); never read from the file.
    std::string token;
    std::string secret;
};

// Parses cfg.sections["telegram"] (absent = defaults). Problems go to diags.
telegram_config parse_telegram_config(const bot::config& cfg, const std::string& file,
                                      bot::diagnostics& diags);

// Reads the token, secret and API base override from env. Returns an empty string when
// the channel can run, else the reason it is off (names of missing variables, a secret
// with characters Telegram does not allow). Does not log.
std::string resolve_secrets(telegram_config& tc, const bot::env_lookup& env,
                            bool need_secret = true);

// 1-256 characters of A-Z a-z 0-9 _ - (what setWebhook accepts as secret_token).
bool valid_secret_token(const std::string& s);

} // namespace tandem::adapters::telegram
