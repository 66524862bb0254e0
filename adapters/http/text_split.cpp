#include "adapters/http/text_split.hpp"

#include <openssl/crypto.h>

namespace tandem::adapters::http {

namespace {

// Length in bytes of the UTF-8 sequence starting with lead byte c (1 for invalid bytes).
std::size_t seq_len(unsigned char c) {
    if (c < 0x80)
        return 1;
    if ((c >> 5) == 0x6)
        return 2;
    if ((c >> 4) == 0xE)
        return 3;
    if ((c >> 3) == 0x1E)
        return 4;
    return 1;
}

// Byte length of the longest prefix of text that fits in max_units UTF-16 units.
std::size_t fitting_prefix(std::string_view text, std::size_t max_units) {
    std::size_t units = 0, i = 0;
    while (i < text.size()) {
        std::size_t n = seq_len(static_cast<unsigned char>(text[i]));
        if (i + n > text.size())
            n = 1;
        std::size_t u = n == 4 ? 2 : 1;
        if (units + u > max_units)
            break;
        units += u;
        i += n;
    }
    return i;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == '\n' || s.front() == ' ' || s.front() == '\r'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r'))
        s.remove_suffix(1);
    return s;
}

} // namespace

std::size_t utf16_length(std::string_view utf8) {
    std::size_t units = 0, i = 0;
    while (i < utf8.size()) {
        std::size_t n = seq_len(static_cast<unsigned char>(utf8[i]));
        if (i + n > utf8.size())
            n = 1;
        units += n == 4 ? 2 : 1;
        i += n;
    }
    return units;
}

std::vector<std::string> split_text(std::string_view text, std::size_t max_units) {
    std::vector<std::string> out;
    if (max_units == 0)
        return out;
    text = trim(text);
    while (!text.empty()) {
        std::size_t fit = fitting_prefix(text, max_units);
        if (fit >= text.size()) {
            out.emplace_back(text);
            break;
        }
        std::string_view head = text.substr(0, fit);
        std::size_t cut = std::string_view::npos;
        // Prefer a break in the second half, so pieces do not get tiny.
        for (std::string_view sep : {"\n\n", "\n", " "}) {
            auto pos = head.rfind(sep);
            if (pos != std::string_view::npos && pos >= fit / 2) {
                cut = pos;
                break;
            }
        }
        if (cut == std::string_view::npos || cut == 0)
            cut = fit;
        auto piece = trim(text.substr(0, cut));
        if (!piece.empty())
            out.emplace_back(piece);
        text = trim(text.substr(cut));
    }
    return out;
}

std::string join_bubbles(const std::vector<std::string>& bubbles) {
    std::string out;
    for (const auto& b : bubbles) {
        auto t = trim(b);
        if (t.empty())
            continue;
        if (!out.empty())
            out += "\n\n";
        out += t;
    }
    return out;
}

std::string truncate_text(std::string_view text, std::size_t max_units) {
    if (utf16_length(text) <= max_units)
        return std::string(text);
    if (max_units == 0)
        return {};
    std::string out(text.substr(0, fitting_prefix(text, max_units - 1)));
    out += "\xE2\x80\xA6"; // …
    return out;
}

bool secret_equals(std::string_view a, std::string_view b) {
    if (a.size() != b.size())
        return false;
    return a.empty() || CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

} // namespace tandem::adapters::http
