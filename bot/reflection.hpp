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

// Turns a sentence the user wrote *about* someone into one said *to* them, for drafts the
// user may send ("i snapped at her and she felt small" -> "I snapped at you and you felt
// small"): she/he/they -> you (with the verb agreeing), him/them -> you, her -> you or
// your, his/their -> your, a standalone "i" -> "I". Normalises first; strips trailing
// punctuation. A name stays a name.
std::string address(std::string_view text);

// Removes `phrase` (normalised, whole words) from the start of `text`, with the comma or
// colon after it: strip_lead("next time, i will ask", "next time") -> "i will ask".
std::string strip_lead(std::string_view text, std::string_view phrase);

// Applies a template's filters in order to a slot value: "reflect", "address",
// "strip:PHRASE", separated by '|' ("strip:next time|address"). Returns false, leaving the
// value as it was, when a filter is unknown. The validator uses the same function.
bool apply_filters(std::string& value, std::string_view chain);

// Trims whitespace and trailing sentence punctuation (for inserting a fragment mid-sentence).
std::string trim_fragment(std::string_view text);

} // namespace tandem::bot
