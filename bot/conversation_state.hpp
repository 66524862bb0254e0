// What tandem keeps about one conversation between turns. Serialised as JSON by the
// stores. It holds dialog positions, slots the user filled, and flags; never a log of
// messages.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tandem::bot {

struct dialog_frame {
    std::string dialog;
    int version = 1;                          // the dialog's version when this frame started
    std::string node;                         // where the dialog waits
    std::map<std::string, std::string> slots; // values as text (numbers in decimal)
};

struct conversation_state {
    static constexpr int schema = 1;
    std::vector<dialog_frame> stack; // top = back(); empty = idle
    std::string region;              // resource region chosen by the user ("" = default)
    std::string locale;              // language of the conversation ("" = the default)
    std::string safety_mode;         // safety kind that suspended closeness work ("" = none)
    std::string pending_switch;      // dialog offered by a "switch topic?" question
    int fallbacks = 0;               // consecutive turns not understood
    bool welcomed = false;           // the not-therapy note was shown
    std::uint64_t turns = 0;
    std::uint64_t seed = 0;       // for choosing reply variants
    std::int64_t created = 0;     // unix seconds
    std::int64_t last_active = 0; // unix seconds
    std::string last_intent;      // what the last message was understood as (for /why)
    std::string last_topic;
    std::map<std::string, int> last_variant; // "dialog/node/line" -> variant index
    // Self-ratings the user chose to record (e.g. the closeness-and-space check), by
    // series; kept until keep_until even when the conversation is idle.
    struct record_entry {
        std::int64_t at = 0;
        std::map<std::string, std::string> values;
    };
    std::map<std::string, std::vector<record_entry>> records;
    std::int64_t keep_until = 0; // unix seconds; 0 = only the idle expiry applies
    std::string checkin_dialog;  // a check-in the user asked for ("" = none)
    std::int64_t checkin_due = 0;
    // Idempotent turns: the platform ids of the last few messages answered (oldest first)
    // and the reply to the newest, committed with the turn. A message delivered again
    // (a webhook retried, an inbox replayed after a crash) gets that reply back instead of
    // a second turn; the next turn replaces it.
    std::vector<std::string> answered_ids;
    nlohmann::json last_reply; // {"texts", "options", "end"}, or null
    static constexpr std::size_t answered_kept = 16;
    // The per-conversation rate limit's token bucket, and whether the user was told.
    double rate_tokens = -1; // < 0: full
    std::int64_t rate_at = 0;
    bool rate_noticed = false;
    // One conversation on several channels (/link, bot/linking.hpp). A chat that joined
    // another's conversation keeps only linked_to (that conversation's key); the
    // conversation itself lists the chats that joined it, and its pending link code.
    std::string linked_to;
    std::vector<std::string> linked;
    std::string link_code;
    std::int64_t link_code_expires = 0;

    bool idle() const { return stack.empty(); }
};

nlohmann::json to_json(const conversation_state& s);
// Throws std::runtime_error on a malformed document.
conversation_state state_from_json(const nlohmann::json& j);

} // namespace tandem::bot
