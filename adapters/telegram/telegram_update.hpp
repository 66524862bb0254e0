// Translation between Telegram Bot API JSON and tandem's values. Pure functions, no I/O.
// Only the fields tandem uses are modelled; unknown fields and update kinds are ignored,
// because Telegram keeps adding them.
#pragma once

#include "bot/message.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tandem::adapters::telegram {

enum class update_kind {
    text_message,  // a message with text: becomes a turn (or a command)
    other_message, // a sticker, photo, voice note...: answered with a short "text only" note
    callback,      // an inline-button press: answerCallbackQuery, then a turn with option_id
    ignored,       // edited messages, member updates, unknown kinds: acknowledged, no reply
};

struct parsed_update {
    std::int64_t update_id = 0;
    update_kind kind = update_kind::ignored;
    std::int64_t chat_id = 0;
    std::string chat_type; // "private", "group", "supergroup", "channel"
    std::int64_t user_id = 0;
    std::int64_t message_id = 0;
    std::int64_t date = 0;
    std::string text;          // message text (text_message)
    std::string language;      // from.language_code
    std::string callback_id;   // callback_query.id
    std::string callback_data; // callback_query.data (may be empty)
    // The message speaks to a bot: a command, a mention, or a reply to a bot's message.
    // Group chats only get an answer when this is true.
    bool addressed = false;
};

// Parses a webhook body. Returns nullopt and sets error to a short code ("invalid_json",
// "missing_update_id", "bad_message", ...) when the body is not a well-formed update.
std::optional<parsed_update> parse_update(std::string_view body, std::string& error);

// A leading bot command ("/start", "/help@my_bot extra") split into its name (lower-case,
// without "/" and "@bot") and the rest. nullopt when text is not a command.
struct bot_command {
    std::string name;
    std::string args;
};
std::optional<bot_command> parse_command(std::string_view text);

// callback_data for an option: "o:" + id. nullopt when it would exceed 64 bytes.
std::optional<std::string> option_callback_data(const std::string& option_id);
// The option id carried by callback_data ("o:" prefix removed).
std::string option_from_callback_data(std::string_view data);

struct render_settings {
    std::string parse_mode; // "" or "MarkdownV2"
    std::size_t max_units = 4096;
};

// sendMessage parameter objects for one reply, in order: the bubbles joined by blank lines
// into one message, split only at the limit; options as an inline keyboard (one button per
// row) on the last message, or as numbered text when an option id does not fit
// callback_data.
std::vector<nlohmann::json> render_reply(std::int64_t chat_id, const bot::outbound_message& reply,
                                         const render_settings& settings);

// Escapes plain text for parse_mode MarkdownV2 (every reserved character gets a '\').
std::string escape_markdown_v2(std::string_view text);

} // namespace tandem::adapters::telegram
