// The console channel: talk to tandem in a terminal, or script a conversation through
// stdin with one JSON answer per line.
#pragma once

#include "bot/turn_service.hpp"

#include <functional>
#include <iosfwd>
#include <string>

namespace tandem::adapters::console {

struct console_options {
    bool json = false;        // one JSON object per user line
    bool interactive = false; // prompts and line editing (stdin is a terminal)
    std::string conversation_id = "local";
    std::string record_file; // write a golden transcript of the session here
    std::string language;    // the "channel" language (like a browser's), e.g. "es"; may be empty
    // Called before each turn (e.g. to reload content that changed on disk); may print.
    std::function<void(std::ostream&)> before_turn;
};

// Reads user lines until EOF or "/quit". A line "[id]" presses the option with that id.
// Returns 0, or 1 when the transcript could not be written.
int run_console(bot::turn_service& service, std::istream& in, std::ostream& out,
                const console_options& opts);

// The JSON shape of one answer (also used by tests):
// {"intent","topic","dialog","node","texts","options":[{"id","label"}],"end"}.
std::string answer_json(const bot::turn_result& r);

} // namespace tandem::adapters::console
