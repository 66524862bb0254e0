// Text normalisation: applied once to every message (and to every content example)
// before intent matching. The rules are documented in docs/content-format.md §1.
#pragma once

#include <string>
#include <string_view>

namespace tandem::bot {

// Lower-cases ASCII, maps curly quotes and dashes, expands texting forms and
// contractions ("im" -> "i am", "dont" -> "do not", "u" -> "you"), drops other
// apostrophes, squeezes letters repeated 3+ times to 2, collapses whitespace.
// Invalid UTF-8 bytes are replaced with U+FFFD; other non-ASCII text is kept.
std::string normalize(std::string_view text);

// Replaces invalid UTF-8 sequences with U+FFFD. Valid input is returned unchanged.
std::string sanitize_utf8(std::string_view text);

} // namespace tandem::bot
