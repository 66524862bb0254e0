// The reference normaliser: slow, obvious, and the specification the fast one in
// bot/normalizer.cpp is checked against (tests and the normaliser fuzz target).
#pragma once

#include <string>
#include <string_view>

namespace tandem::test {

std::string reference_normalize(std::string_view text);
std::string reference_sanitize_utf8(std::string_view text);

} // namespace tandem::test
