// The straightforward three-pass normaliser that bot/normalizer.cpp replaced (commit
// "Normaliser: one pass, no allocation per word"). Kept as the reference the fast one must
// agree with byte for byte: tests/bot/normalizer_test.cpp and fuzz/normalizer_fuzz.cpp.
#include "tests/support/normalize_reference.hpp"

#include <array>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace tandem::test {
namespace {

// Texting forms and contractions, keyed by the token with apostrophes removed.
const std::unordered_map<std::string, std::string>& expansions() {
    static const std::unordered_map<std::string, std::string> m = {
        {"im", "i am"},
        {"ive", "i have"},
        {"dont", "do not"},
        {"doesnt", "does not"},
        {"didnt", "did not"},
        {"cant", "cannot"},
        {"cannot", "cannot"},
        {"wont", "will not"},
        {"isnt", "is not"},
        {"arent", "are not"},
        {"wasnt", "was not"},
        {"werent", "were not"},
        {"havent", "have not"},
        {"hasnt", "has not"},
        {"hadnt", "had not"},
        {"couldnt", "could not"},
        {"shouldnt", "should not"},
        {"wouldnt", "would not"},
        {"mustnt", "must not"},
        {"youre", "you are"},
        {"youve", "you have"},
        {"youll", "you will"},
        {"youd", "you would"},
        {"theyre", "they are"},
        {"theyve", "they have"},
        {"theyll", "they will"},
        {"theyd", "they would"},
        {"weve", "we have"},
        {"hes", "he is"},
        {"shes", "she is"},
        {"thats", "that is"},
        {"whats", "what is"},
        {"its", "it is"},
        {"lets", "let us"},
        {"theres", "there is"},
        {"wheres", "where is"},
        {"whos", "who is"},
        {"hows", "how is"},
        {"u", "you"},
        {"ur", "your"},
        {"r", "are"},
        {"ppl", "people"},
        {"bf", "boyfriend"},
        {"gf", "girlfriend"},
        {"pls", "please"},
        {"plz", "please"},
        {"thx", "thanks"},
        {"ty", "thanks"},
        {"idk", "i do not know"},
        {"tbh", "to be honest"},
        {"rn", "right now"},
        {"bc", "because"},
        {"cuz", "because"},
        {"coz", "because"},
        {"cus", "because"},
        {"yr", "your"},
        {"b4", "before"},
        {"gonna", "going to"},
        {"wanna", "want to"},
        {"gotta", "got to"},
        {"ain't", "is not"},
        {"aint", "is not"},
        {"imma", "i am going to"},
        {"y'all", "you all"},
        {"yall", "you all"},
        {"smth", "something"},
        {"sth", "something"},
        {"w/", "with"},
        {"bday", "birthday"},
    };
    return m;
}

// Only the apostrophe forms of these expand ("we're" -> "we are"; "were" stays a word).
const std::unordered_map<std::string, std::string>& apostrophe_only() {
    static const std::unordered_map<std::string, std::string> m = {
        {"we're", "we are"},    {"we'll", "we will"},   {"we'd", "we would"},
        {"she'll", "she will"}, {"he'll", "he will"},   {"she'd", "she would"},
        {"he'd", "he would"},   {"it'll", "it will"},   {"i'd", "i would"},
        {"i'll", "i will"},     {"who'd", "who would"}, {"that'll", "that will"},
    };
    return m;
}

bool is_word_byte(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '\'' || c >= 0x80;
}

// Decodes one UTF-8 sequence at s[i]; returns its length, or 0 when invalid.
std::size_t utf8_len(std::string_view s, std::size_t i, std::uint32_t& cp) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t n;
    if (c < 0x80) {
        cp = c;
        return 1;
    } else if ((c & 0xE0) == 0xC0) {
        n = 2;
        cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        n = 3;
        cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (i + n > s.size())
        return 0;
    for (std::size_t k = 1; k < n; ++k) {
        auto cc = static_cast<unsigned char>(s[i + k]);
        if ((cc & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (cc & 0x3F);
    }
    // Reject overlong forms, surrogates and out-of-range code points.
    static constexpr std::array<std::uint32_t, 5> min_cp = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

} // namespace

std::string reference_sanitize_utf8(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        std::uint32_t cp;
        std::size_t n = utf8_len(text, i, cp);
        if (n == 0) {
            out += "\xEF\xBF\xBD";
            ++i;
        } else {
            out.append(text.substr(i, n));
            i += n;
        }
    }
    return out;
}

std::string reference_normalize(std::string_view raw) {
    // Pass 1: decode, map punctuation look-alikes, lower-case ASCII, fold whitespace.
    std::string s;
    s.reserve(raw.size() + 16);
    for (std::size_t i = 0; i < raw.size();) {
        std::uint32_t cp;
        std::size_t n = utf8_len(raw, i, cp);
        if (n == 0) {
            s += "\xEF\xBF\xBD";
            ++i;
            continue;
        }
        if (cp == 0x2018 || cp == 0x2019 || cp == 0x02BC || cp == 0x2032 || cp == 0x00B4 ||
            cp == 0x0060)
            s += '\'';
        else if (cp == 0x201C || cp == 0x201D || cp == 0x201E || cp == 0x00AB || cp == 0x00BB)
            s += '"';
        else if (cp == 0x2013 || cp == 0x2014 || cp == 0x2212)
            s += '-';
        else if (cp == 0x2026)
            s += "...";
        else if (cp == 0x00A0 || cp == 0x2009 || cp == 0x200A || cp == 0x202F || cp == '\t' ||
                 cp == '\n' || cp == '\r' || cp == '\f' || cp == '\v')
            s += ' ';
        else if (cp == 0x200B || cp == 0xFEFF)
            ; // zero-width: drop
        else if (cp < 0x20 || cp == 0x7F)
            s += ' ';
        else if (cp >= 'A' && cp <= 'Z')
            s += static_cast<char>(cp - 'A' + 'a');
        else
            s.append(raw.substr(i, n));
        i += n;
    }

    // Pass 2: squeeze runs of 3+ identical letters to 2.
    std::string q;
    q.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c >= 'a' && c <= 'z' && q.size() >= 2 && q[q.size() - 1] == c && q[q.size() - 2] == c)
            continue;
        q += c;
    }

    // Pass 3: tokenise into words (letters, digits, apostrophes, non-ASCII) and the rest;
    // expand word tokens; collapse spaces.
    std::string out;
    out.reserve(q.size() + 32);
    auto emit = [&out](std::string_view piece) {
        for (char c : piece) {
            if (c == ' ') {
                if (!out.empty() && out.back() != ' ')
                    out += ' ';
            } else {
                out += c;
            }
        }
    };
    const auto& ex = expansions();
    const auto& apo = apostrophe_only();
    for (std::size_t i = 0; i < q.size();) {
        auto c = static_cast<unsigned char>(q[i]);
        if (!is_word_byte(c)) {
            emit(std::string_view(&q[i], 1));
            ++i;
            continue;
        }
        std::size_t j = i;
        while (j < q.size() && is_word_byte(static_cast<unsigned char>(q[j])))
            ++j;
        std::string tok = q.substr(i, j - i);
        // Trim leading/trailing apostrophes (quotes around a word).
        std::size_t a = 0, b = tok.size();
        while (a < b && tok[a] == '\'')
            ++a;
        while (b > a && tok[b - 1] == '\'')
            --b;
        std::string core = tok.substr(a, b - a);
        if (auto it = apo.find(core); it != apo.end()) {
            emit(it->second);
        } else {
            std::string bare;
            bare.reserve(core.size());
            for (char ch : core)
                if (ch != '\'')
                    bare += ch;
            if (auto it2 = ex.find(bare); it2 != ex.end())
                emit(it2->second);
            else if (core.size() > 2 && core.compare(core.size() - 2, 2, "'s") == 0)
                emit(bare); // possessive: partner's -> partners
            else if (core.size() > 3 && core.compare(core.size() - 3, 3, "n't") == 0)
                emit(core.substr(0, core.size() - 3) + " not");
            else if (core.size() > 3 && core.compare(core.size() - 3, 3, "'ve") == 0)
                emit(core.substr(0, core.size() - 3) + " have");
            else if (core.size() > 3 && core.compare(core.size() - 3, 3, "'re") == 0)
                emit(core.substr(0, core.size() - 3) + " are");
            else
                emit(bare);
        }
        i = j;
    }
    while (!out.empty() && out.back() == ' ')
        out.pop_back();
    return out;
}

} // namespace tandem::test
