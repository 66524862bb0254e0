#include "bot/normalizer.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <string>

// Runs on every message, so it is written for speed (docs/performance.md): one decoding
// pass into a buffer with an ASCII fast path, then one tokenising pass that looks words up
// in a small open-addressing table without allocating. tests/support/normalize_reference.cpp
// holds the obvious three-pass version; tests and a fuzz target check both agree.

namespace tandem::bot {
namespace {

struct expansion {
    std::string_view from, to;
};

// Texting forms and contractions, keyed by the token with apostrophes removed.
constexpr expansion expansions[] = {
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
    {"aint", "is not"},
    {"imma", "i am going to"},
    {"yall", "you all"},
    {"smth", "something"},
    {"sth", "something"},
    {"bday", "birthday"},
    // Keys with an apostrophe or a slash can never equal a token with its apostrophes
    // removed; they are kept from the first version so the table reads the same.
    {"ain't", "is not"},
    {"y'all", "you all"},
    {"w/", "with"},
};

// Only the apostrophe forms of these expand ("we're" -> "we are"; "were" stays a word).
constexpr expansion apostrophe_only[] = {
    {"we're", "we are"},  {"we'll", "we will"},   {"we'd", "we would"},   {"she'll", "she will"},
    {"he'll", "he will"}, {"she'd", "she would"}, {"he'd", "he would"},   {"it'll", "it will"},
    {"i'd", "i would"},   {"i'll", "i will"},     {"who'd", "who would"}, {"that'll", "that will"},
};

// A fixed-size open-addressing table over one of the lists above.
class word_table {
  public:
    template <std::size_t N> explicit word_table(const expansion (&list)[N]) : list_(list) {
        static_assert(N * 3 < size);
        slots_.fill(-1);
        for (std::size_t i = 0; i < N; ++i) {
            max_len_ = std::max(max_len_, list[i].from.size());
            std::size_t h = hash(list[i].from) & mask;
            while (slots_[h] >= 0)
                h = (h + 1) & mask;
            slots_[h] = static_cast<std::int16_t>(i);
        }
    }
    // The expansion of word, or nullptr.
    const std::string_view* find(std::string_view word) const {
        if (word.empty() || word.size() > max_len_)
            return nullptr;
        for (std::size_t h = hash(word) & mask;; h = (h + 1) & mask) {
            int s = slots_[h];
            if (s < 0)
                return nullptr;
            if (list_[static_cast<std::size_t>(s)].from == word)
                return &list_[static_cast<std::size_t>(s)].to;
        }
    }

  private:
    static constexpr std::size_t size = 256; // > 3x the entries: short probe chains
    static constexpr std::size_t mask = size - 1;
    // Looked up for every word of every message, so it reads only the length and three
    // bytes (the first two and the last); a collision only costs a probe, and every key
    // with its hash is still compared in full.
    static std::size_t hash(std::string_view w) {
        const auto n = w.size();
        const auto b = [&](std::size_t i) {
            return static_cast<std::uint32_t>(static_cast<unsigned char>(w[i]));
        };
        std::uint32_t h = static_cast<std::uint32_t>(n) * 0x9E3779B1u;
        h ^= b(0) * 0x85EBCA77u ^ b(n - 1) * 0xC2B2AE3Du ^ b(n > 1 ? 1 : 0) * 0x27D4EB2Fu;
        return h ^ (h >> 13) ^ (h >> 21);
    }
    std::array<std::int16_t, size> slots_{};
    const expansion* list_;
    std::size_t max_len_ = 0;
};

const word_table& expansion_table() {
    static const word_table t(expansions);
    return t;
}
const word_table& apostrophe_table() {
    static const word_table t(apostrophe_only);
    return t;
}

// The most a word grows when expanded (to / from, rounded up), over both lists.
std::size_t max_growth() {
    static const std::size_t g = [] {
        std::size_t m = 1;
        for (const auto& e : expansions)
            m = std::max(m, (e.to.size() + e.from.size() - 1) /
                                std::max<std::size_t>(1, e.from.size()));
        for (const auto& e : apostrophe_only)
            m = std::max(m, (e.to.size() + e.from.size() - 1) /
                                std::max<std::size_t>(1, e.from.size()));
        return m;
    }();
    return g;
}

// Letters, digits, apostrophes and every byte of non-ASCII text form words.
constexpr std::array<bool, 256> word_bytes = [] {
    std::array<bool, 256> t{};
    for (int c = 0; c < 256; ++c)
        t[static_cast<std::size_t>(c)] =
            (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '\'' || c >= 0x80;
    return t;
}();

inline bool is_word_byte(unsigned char c) {
    return word_bytes[c];
}

// The same, for the tokenising loop: 0 for bytes outside words, 2 for the apostrophe, 1 for
// the other word bytes (so a word's classes or-ed together say whether it has one).
constexpr std::array<unsigned char, 256> word_class = [] {
    std::array<unsigned char, 256> t{};
    for (std::size_t c = 0; c < 256; ++c)
        t[c] = c == '\'' ? 2 : word_bytes[c] ? 1 : 0;
    return t;
}();

// Slack kept after the text in both scratch buffers: a non-word sentinel byte ends the
// last word, and words of up to 16 bytes are copied as 16 bytes (no memcpy call per word).
constexpr std::size_t slack = 32;

// Decodes one UTF-8 sequence at s[i]; returns its length, or 0 when invalid.
inline std::size_t utf8_len(const unsigned char* s, std::size_t size, std::size_t i,
                            std::uint32_t& cp) {
    unsigned char c = s[i];
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
    if (n > size - i)
        return 0;
    for (std::size_t k = 1; k < n; ++k) {
        unsigned char cc = s[i + k];
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

constexpr char replacement[] = "\xEF\xBF\xBD";

// ASCII byte -> what pass 1 writes: itself, lower-cased, or a space for control bytes.
constexpr std::array<char, 128> ascii_map = [] {
    std::array<char, 128> t{};
    for (int c = 0; c < 128; ++c) {
        char out = static_cast<char>(c);
        if (c >= 'A' && c <= 'Z')
            out = static_cast<char>(c - 'A' + 'a');
        else if (c == '`')
            out = '\'';
        else if (c < 0x20 || c == 0x7F)
            out = ' ';
        t[static_cast<std::size_t>(c)] = out;
    }
    return t;
}();

// Pass 1 and 2: decode, map punctuation look-alikes, lower-case ASCII, turn control
// characters into spaces, and squeeze runs of 3+ identical letters to 2. Writes into buf
// (at least 3 bytes per input byte) and returns the length written. The two bytes before
// buf must be readable and not letters (the squeeze looks back two bytes).
std::size_t decode(std::string_view raw, char* buf) {
    const auto* s = reinterpret_cast<const unsigned char*>(raw.data());
    const std::size_t size = raw.size();
    char* w = buf;
    auto put = [&](char c) {
        // Squeeze: a letter that would be the third of a run is dropped.
        if (w[-1] == c && w[-2] == c && c >= 'a' && c <= 'z')
            return;
        *w++ = c;
    };
    for (std::size_t i = 0; i < size;) {
        // Eight ASCII bytes at a time (little-endian: byte k of the text is bits 8k..8k+7):
        // mapped into one word, written at once unless some byte would be the third of a run
        // of equal bytes (then byte by byte, through put()).
        if (std::endian::native == std::endian::little && i + 8 <= size) {
            std::uint64_t x;
            std::memcpy(&x, s + i, 8);
            if ((x & 0x8080808080808080ull) == 0) {
                std::uint64_t v = 0;
                for (int k = 0; k < 8; ++k)
                    v |= std::uint64_t{static_cast<unsigned char>(ascii_map[(x >> (8 * k)) & 0x7F])}
                         << (8 * k);
                const std::uint64_t b1 = static_cast<unsigned char>(w[-1]),
                                    b2 = static_cast<unsigned char>(w[-2]);
                // Byte k of v against the byte before it and the one before that.
                const std::uint64_t t = (v ^ ((v << 8) | b1)) | (v ^ ((v << 16) | (b1 << 8) | b2));
                if (((t - 0x0101010101010101ull) & ~t & 0x8080808080808080ull) == 0) {
                    std::memcpy(w, &v, 8);
                    w += 8;
                } else {
                    for (std::size_t k = 0; k < 8; ++k)
                        put(ascii_map[s[i + k]]);
                }
                i += 8;
                continue;
            }
        }
        unsigned char c = s[i];
        if (c < 0x80) {
            put(ascii_map[c]);
            ++i;
            continue;
        }
        std::uint32_t cp;
        std::size_t n = utf8_len(s, size, i, cp);
        if (n == 0) {
            std::memcpy(w, replacement, 3);
            w += 3;
            ++i;
            continue;
        }
        switch (cp) {
        case 0x2018:
        case 0x2019:
        case 0x02BC:
        case 0x2032:
        case 0x00B4:
            *w++ = '\'';
            break;
        case 0x201C:
        case 0x201D:
        case 0x201E:
        case 0x00AB:
        case 0x00BB:
            *w++ = '"';
            break;
        case 0x2013:
        case 0x2014:
        case 0x2212:
            *w++ = '-';
            break;
        case 0x2026:
            std::memcpy(w, "...", 3);
            w += 3;
            break;
        case 0x00A0:
        case 0x2009:
        case 0x200A:
        case 0x202F:
            *w++ = ' ';
            break;
        case 0x200B:
        case 0xFEFF:
            break; // zero-width: drop
        default:
            std::memcpy(w, s + i, n); // other text, C1 controls included, as it is
            w += n;
        }
        i += n;
    }
    return static_cast<std::size_t>(w - buf);
}

inline bool ends_with(std::string_view s, std::string_view tail) {
    return s.size() > tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

} // namespace

std::string sanitize_utf8(std::string_view text) {
    const auto* s = reinterpret_cast<const unsigned char*>(text.data());
    std::size_t i = 0;
    // Fast path: valid text is returned unchanged.
    for (std::uint32_t cp; i < text.size();) {
        if (s[i] < 0x80) {
            ++i;
            continue;
        }
        std::size_t n = utf8_len(s, text.size(), i, cp);
        if (n == 0)
            break;
        i += n;
    }
    if (i == text.size())
        return std::string(text);
    std::string out;
    out.reserve(text.size() + 8);
    out.append(text.substr(0, i));
    while (i < text.size()) {
        std::uint32_t cp;
        std::size_t n = utf8_len(s, text.size(), i, cp);
        if (n == 0) {
            out += replacement;
            ++i;
        } else {
            out.append(text.substr(i, n));
            i += n;
        }
    }
    return out;
}

std::string normalize(std::string_view raw) {
    // Pass 1+2 into a per-thread scratch buffer (3 bytes per input byte is the worst case:
    // an invalid byte becomes U+FFFD), after two guard bytes for the squeeze's look-back.
    // Longer texts (rare: turns are cut to 4 KB first) get a buffer of their own, so a
    // thread never keeps a huge one.
    thread_local std::string scratch;
    std::string big;
    std::string& buf = raw.size() <= 8192 ? scratch : big;
    if (buf.size() < raw.size() * 3 + 2 + slack)
        buf.resize(raw.size() * 3 + 2 + slack);
    buf[0] = buf[1] = '\0';
    std::string_view q(buf.data() + 2, decode(raw, buf.data() + 2));
    buf[2 + q.size()] = '\0'; // the sentinel: not a word byte

    // Pass 3: tokenise into words (letters, digits, apostrophes, non-ASCII) and the rest;
    // expand word tokens; collapse spaces.
    // Written into a per-thread buffer through a plain pointer (no capacity checks per
    // byte): a word grows at most max_growth() times (plus " have"), so q.size() times
    // (max_growth + 5) bytes always suffice.
    thread_local std::string out_scratch;
    std::string out_big;
    std::string& ob = q.size() <= 8192 ? out_scratch : out_big;
    const std::size_t bound = q.size() * (max_growth() + 5) + 16 + slack;
    if (ob.size() < bound)
        ob.resize(bound);
    char* const o0 = ob.data();
    char* w = o0;
    auto put = [&w](std::string_view v) {
        std::memcpy(w, v.data(), v.size());
        w += v.size();
    };
    const auto& ex = expansion_table();
    const auto& apo = apostrophe_table();
    const char* p = q.data();
    const std::size_t size = q.size();
    for (std::size_t i = 0; i < size;) {
        auto c = static_cast<unsigned char>(p[i]);
        if (!is_word_byte(c)) {
            if (c != ' ')
                *w++ = static_cast<char>(c);
            else if (w != o0 && w[-1] != ' ')
                *w++ = ' ';
            ++i;
            continue;
        }
        std::size_t j = i + 1;
        unsigned classes = word_class[c];
        for (unsigned k; (k = word_class[static_cast<unsigned char>(p[j])]) != 0; ++j)
            classes |= k; // (stops at the sentinel at the latest)
        std::string_view core(p + i, j - i);
        i = j;
        if ((classes & 2) == 0) {
            if (const auto* e = ex.find(core)) {
                put(*e);
            } else if (core.size() <= 16) {
                std::memcpy(w, core.data(), 16); // within the slack of both buffers
                w += core.size();
            } else {
                put(core);
            }
            continue;
        }
        auto apostrophes = static_cast<std::size_t>(std::count(core.begin(), core.end(), '\''));
        // Trim leading/trailing apostrophes (quotes around a word).
        while (!core.empty() && core.front() == '\'') {
            core.remove_prefix(1);
            --apostrophes;
        }
        while (!core.empty() && core.back() == '\'') {
            core.remove_suffix(1);
            --apostrophes;
        }
        if (apostrophes == 0) {
            if (const auto* e = ex.find(core))
                put(*e);
            else
                put(core);
            continue;
        }
        if (const auto* e = apo.find(core)) {
            put(*e);
            continue;
        }
        // The word without its apostrophes, for the table and as the default.
        const std::size_t bare_len = core.size() - apostrophes;
        char small[16];
        if (bare_len <= sizeof small) {
            std::size_t k = 0;
            for (char ch : core)
                if (ch != '\'')
                    small[k++] = ch;
            if (const auto* e = ex.find(std::string_view(small, k))) {
                put(*e);
                continue;
            }
        }
        auto emit_bare = [&] {
            for (char ch : core)
                if (ch != '\'')
                    *w++ = ch;
        };
        if (ends_with(core, "'s")) {
            emit_bare(); // possessive: partner's -> partners
        } else if (core.size() > 3 && ends_with(core, "n't")) {
            put(core.substr(0, core.size() - 3));
            put(" not");
        } else if (core.size() > 3 && ends_with(core, "'ve")) {
            put(core.substr(0, core.size() - 3));
            put(" have");
        } else if (core.size() > 3 && ends_with(core, "'re")) {
            put(core.substr(0, core.size() - 3));
            put(" are");
        } else {
            emit_bare();
        }
    }
    while (w != o0 && w[-1] == ' ')
        --w;
    return std::string(o0, static_cast<std::size_t>(w - o0));
}

} // namespace tandem::bot
