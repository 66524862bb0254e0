// The dialog engine: a pure function (state, input) -> (new state, reply).
// It never does I/O and never blocks; the same inputs always give the same outputs.
#pragma once

#include "bot/config.hpp"
#include "bot/content.hpp"
#include "bot/conversation_state.hpp"
#include "bot/intents.hpp"
#include "bot/message.hpp"

namespace tandem::bot {

struct turn_input {
    classification understood;       // the classified message (empty text for a button press)
    std::string text;                // the user's text, UTF-8 sanitised (never logged)
    std::string option_id;           // a pressed button, or empty
    std::int64_t now = 0;            // unix seconds
    std::string command;             // "why" or "export" (a /why or /export message), or empty
    std::int64_t expiry_seconds = 0; // idle expiry, for telling the user how long state is kept
    std::string start_dialog;        // a due check-in: start this dialog (no user message)
};

// Recognises channel commands ("/start", "/help", "/restart", "/forget", "/why",
// "/export", with an optional "@botname" suffix). Returns the command word without the
// slash, or empty.
std::string command_word(const std::string& text);

struct step_output {
    conversation_state state;
    outbound_message reply;
    bool forget = false; // delete everything stored for this conversation
};

step_output step(const content& c, const conversation_config& cfg, conversation_state state,
                 const turn_input& in);

// A fresh state for a new conversation (seeded from the conversation key).
conversation_state new_state(const std::string& key, std::int64_t now);

// Moves frames started on an older dialog version onto the current one through the
// dialog's migrations. Frames that cannot be mapped are dropped; returns false when any
// frame was dropped (the user is then told once and offered the menu).
bool migrate_state(const content& c, conversation_state& state);

} // namespace tandem::bot
