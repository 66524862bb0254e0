// Value types that cross the boundary between the core and the adapters.
// They are plain, copyable and JSON-serialisable; platform JSON never reaches bot/.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tandem::bot {

// One user turn, as an adapter hands it to the core.
struct inbound_message {
    std::string channel;         // "console", "telegram", "discord", "widget", ...
    std::string conversation_id; // unique within the channel; the core keys state by channel + id
    std::string user_id;         // platform user id (may equal conversation_id)
    std::string text;            // what the user typed (UTF-8); empty when option_id is set
    std::string option_id;       // a pressed button's option id, or empty
    std::string platform_message_id; // for logs and dedupe only
    std::string language;            // BCP 47 hint from the channel, may be empty
    std::int64_t timestamp = 0;      // unix seconds; 0 = now
};

// A quick-reply choice the user may pick.
struct reply_option {
    std::string id;    // stable within the node; sent back as inbound_message::option_id
    std::string label; // <= 80 characters
};

// The core's whole answer to one inbound message.
struct outbound_message {
    std::vector<std::string> texts;    // separate chat bubbles, in order
    std::vector<reply_option> options; // may be empty
    bool end = false;                  // the dialog ended with this answer
};

// Enough to reach the user later (proactive messages).
struct conversation_ref {
    std::string channel;
    std::string conversation_id;
    std::string user_id;
};

// A turn's result: the answer plus what the core understood (never the user's text).
struct turn_result {
    outbound_message reply;
    std::string intent; // winning intent id ("fallback" when nothing matched)
    std::string topic;  // its core topic
    double confidence = 0;
    std::string dialog;     // active dialog after the turn (empty when none)
    std::string node;       // active node after the turn
    bool forgotten = false; // the conversation's state was deleted this turn
    // With forgotten: the other chats (/link) whose records went too; bot_service tells
    // their channels, so a widget session or a Telegram update log of theirs goes as well.
    std::vector<conversation_ref> also_forgotten;
    bool error = false; // the turn failed; reply holds a kind apology
    // The message (same channel, conversation and platform_message_id) was answered before:
    // no new turn ran. reply is that earlier reply when it was the conversation's latest,
    // and empty when later turns followed (then it was long delivered).
    bool replayed = false;
    // The conversation sent more than its rate limit allows: no turn ran. reply holds the
    // polite notice the first time in a limited stretch and nothing after that.
    bool rate_limited = false;
};

// Renders options as numbered text lines ("1. label"), the one text fallback for
// channels that cannot show buttons.
std::string render_options_as_text(const std::vector<reply_option>& options);

} // namespace tandem::bot
