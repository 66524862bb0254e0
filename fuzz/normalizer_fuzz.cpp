// The normaliser against its reference implementation, and its output's invariants.
#include "bot/normalizer.hpp"
#include "bot/reflection.hpp"
#include "fuzz/fuzz_support.hpp"
#include "tests/support/normalize_reference.hpp"

using namespace tandem;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    auto out = bot::normalize(in);
    fuzz::check(out == test::reference_normalize(in), "normalize differs from the reference");
    auto clean = bot::sanitize_utf8(in);
    fuzz::check(clean == test::reference_sanitize_utf8(in),
                "sanitize_utf8 differs from the reference");
    fuzz::check(bot::sanitize_utf8(clean) == clean, "sanitize_utf8 output is not valid UTF-8");
    fuzz::check(bot::sanitize_utf8(out) == out, "normalize output is not valid UTF-8");
    fuzz::check(out.find("  ") == std::string::npos, "normalize left a double space");
    fuzz::check(out.empty() || (out.front() != ' ' && out.back() != ' '),
                "normalize left a space at an end");
    for (char c : out)
        fuzz::check(!(c >= 'A' && c <= 'Z'), "normalize left an upper-case ASCII letter");
    auto r = bot::reflect(in);
    fuzz::check(bot::sanitize_utf8(r) == r, "reflect output is not valid UTF-8");
    return 0;
}
