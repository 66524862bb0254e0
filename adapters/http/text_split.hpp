// Splitting long replies for platforms with a per-message length limit (Telegram 4096,
// Discord 2000). Lengths are counted in UTF-16 code units, which is never fewer than the
// platforms' own character counts, so a piece that fits here fits there.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace tandem::adapters::http {

// UTF-16 code units needed for a UTF-8 string (invalid bytes count as one unit each).
std::size_t utf16_length(std::string_view utf8);

// Splits text into pieces of at most max_units UTF-16 units, preferring paragraph breaks,
// then line breaks, then spaces, and never cutting inside a UTF-8 sequence. Break
// characters at a cut are dropped; empty input gives no pieces.
std::vector<std::string> split_text(std::string_view text, std::size_t max_units);

// Joins a reply's bubbles into one message, separated by a blank line (empty ones skipped).
std::string join_bubbles(const std::vector<std::string>& bubbles);

// Cuts text to at most max_units UTF-16 units on a code point boundary, adding "…" when cut.
std::string truncate_text(std::string_view text, std::size_t max_units);

// Constant-time equality for secrets (lengths are compared first; that leaks only length).
bool secret_equals(std::string_view a, std::string_view b);

} // namespace tandem::adapters::http
