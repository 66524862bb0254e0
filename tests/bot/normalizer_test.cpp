#include "bot/normalizer.hpp"
#include "bot/reflection.hpp"
#include "tests/support/normalize_reference.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

using tandem::bot::normalize;
using tandem::bot::reflect;

TEST_CASE("normalizer: lower-cases, expands texting forms and contractions", "[normalizer]") {
    CHECK(normalize("Im SO tired") == "i am so tired");
    CHECK(normalize("I don't know, u know?") == "i do not know, you know?");
    CHECK(normalize("dont   wont cant") == "do not will not cannot");
    CHECK(normalize("she's   my bf") == "she is my boyfriend");
    CHECK(normalize("we're fine but were we?") == "we are fine but were we?");
    CHECK(normalize("my partner's phone") == "my partners phone");
    CHECK(normalize("I've tried") == "i have tried");
    CHECK(normalize("they shouldn't") == "they should not");
}

TEST_CASE("normalizer: curly quotes, repeated letters and whitespace", "[normalizer]") {
    CHECK(normalize("I\u2019m fine") == "i am fine");
    CHECK(normalize("\u201Cno\u201D") == "\"no\"");
    CHECK(normalize("sooooo lonelyyyy") == "soo lonelyy");
    CHECK(normalize("  hi\t\nthere  ") == "hi there");
    CHECK(normalize("") == "");
}

TEST_CASE("normalizer: keeps emoji and right-to-left text, repairs invalid UTF-8", "[normalizer]") {
    CHECK(normalize("ok \xF0\x9F\x98\x8A") == "ok \xF0\x9F\x98\x8A");
    CHECK(normalize("\xD7\xA9\xD7\x9C\xD7\x95\xD7\x9D") == "\xD7\xA9\xD7\x9C\xD7\x95\xD7\x9D");
    CHECK(normalize("bad \xFF byte") == "bad \xEF\xBF\xBD byte");
    CHECK(normalize("\xC0\xAF") == "\xEF\xBF\xBD\xEF\xBF\xBD"); // overlong form
}

TEST_CASE("reflection: swaps first and second person", "[reflection]") {
    CHECK(reflect("I feel ignored by my partner.") == "you feel ignored by your partner");
    CHECK(reflect("I'm scared he will leave me") == "you are scared he will leave you");
    CHECK(reflect("you never listen to me") == "I never listen to you");
    CHECK(reflect("he told you that") == "he told me that");
    CHECK(reflect("I was wrong about myself") == "you were wrong about yourself");
    CHECK(reflect("") == "");
}

namespace {

// Random text built from the pieces the normaliser treats specially, so every rule and
// every boundary between two rules is hit often.
std::string random_text(std::mt19937_64& rng) {
    static const std::vector<std::string> pieces = {
        "a",
        "b",
        "z",
        "A",
        "Z",
        "0",
        "9",
        " ",
        "  ",
        "\t",
        "\n",
        "'",
        "''",
        "`",
        "\xC2\xB4",
        "\xE2\x80\x98",
        "\xE2\x80\x99",
        "\xCA\xBC",
        "\xE2\x80\xB2",
        "\xE2\x80\x9C",
        "\xE2\x80\x9D",
        "\xE2\x80\x9E",
        "\xC2\xAB",
        "\xC2\xBB",
        "\xE2\x80\x93",
        "\xE2\x80\x94",
        "\xE2\x88\x92",
        "\xE2\x80\xA6",
        "\xC2\xA0",
        "\xE2\x80\x89",
        "\xE2\x80\x8A",
        "\xE2\x80\xAF",
        "\xE2\x80\x8B",
        "\xEF\xBB\xBF",
        "\x01",
        "\x7F",
        "\xC2\x85",
        ".",
        ",",
        "?",
        "!",
        "/",
        "w/",
        "-",
        "\xF0\x9F\x98\x8A",
        "\xD7\xA9",
        "\xC3\xA9",
        "\xFF",
        "\xC0\xAF",
        "\xE2\x82",
        "\xED\xA0\x80",
        "\xF4\x90\x80\x80",
        "\x80",
        "im",
        "Im",
        "I'm",
        "dont",
        "don't",
        "can't",
        "won't",
        "we're",
        "were",
        "we'll",
        "she'd",
        "that'll",
        "i'll",
        "ain't",
        "y'all",
        "yall",
        "u",
        "ur",
        "r",
        "idk",
        "rn",
        "b4",
        "imma",
        "partner's",
        "'s",
        "n't",
        "'ve",
        "'re",
        "shouldn't",
        "they've",
        "you're",
        "x'n't",
        "'hello'",
        "sooo",
        "lllll",
        "aaaA",
        "Aaaa",
        "bday",
        "its",
        "it's",
        "thx",
        "shouldnt",
        "SHOULDN'T",
        "wouldnt'",
    };
    std::string s;
    auto n = rng() % 24;
    for (std::size_t i = 0; i < n; ++i)
        s += pieces[rng() % pieces.size()];
    return s;
}

} // namespace

TEST_CASE("normalizer: the fast normaliser agrees with the reference on every input",
          "[normalizer]") {
    std::mt19937_64 rng(7);
    std::size_t differ = 0;
    for (int i = 0; i < 200000; ++i) {
        std::string s = random_text(rng);
        auto fast = normalize(s);
        auto ref = tandem::test::reference_normalize(s);
        if (fast != ref && differ++ < 5) {
            INFO("input: \"" << s << "\"");
            CHECK(fast == ref);
        }
        if (tandem::bot::sanitize_utf8(s) != tandem::test::reference_sanitize_utf8(s) &&
            differ++ < 5) {
            INFO("input: \"" << s << "\"");
            CHECK(tandem::bot::sanitize_utf8(s) == tandem::test::reference_sanitize_utf8(s));
        }
    }
    CHECK(differ == 0);
    // Every byte value, alone and between letters.
    for (int b = 0; b < 256; ++b) {
        std::string one(1, static_cast<char>(b));
        CHECK(normalize(one) == tandem::test::reference_normalize(one));
        std::string mid = "ab" + one + "Cd";
        CHECK(normalize(mid) == tandem::test::reference_normalize(mid));
    }
}

TEST_CASE("normalizer: leaves no ASCII upper-case letter (the matcher's Set relies on it)",
          "[normalizer]") {
    // bot/intents.cpp compiles its RE2::Set case-sensitively for lower-case text (fold_free).
    auto upper = [](const std::string& s) {
        return std::any_of(s.begin(), s.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
    };
    std::mt19937_64 rng(9);
    for (int i = 0; i < 50000; ++i) {
        std::string s = random_text(rng);
        for (int k = 0; k < 4; ++k) // and some ASCII capitals anywhere
            s.insert(rng() % (s.size() + 1), 1, static_cast<char>('A' + rng() % 26));
        INFO("input: \"" << s << "\"");
        REQUIRE_FALSE(upper(normalize(s)));
    }
    for (int b = 0; b < 256; ++b)
        CHECK_FALSE(upper(normalize("ab" + std::string(1, static_cast<char>(b)) + "CD U R IM")));
}
