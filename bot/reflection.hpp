// ELIZA-style reflection: turns the user's words around so they can be said back
// ("i feel ignored by my partner" -> "you feel ignored by your partner").
#pragma once

#include <string>
#include <string_view>

namespace tandem::bot {

// Reflects normalised or raw text: normalises it, swaps first and second person on whole
// words (i/me -> you, my -> your, i am -> you are, you -> I/me, your -> my, ...), capitalises
// a standalone "I", and strips trailing punctuation. Empty input gives "".
std::string reflect(std::string_view text);

// Trims whitespace and trailing sentence punctuation (for inserting a fragment mid-sentence).
std::string trim_fragment(std::string_view text);

} // namespace tandem::bot
