#include "adapters/http/text_split.hpp"

#include <catch2/catch.hpp>

using namespace tandem::adapters::http;

TEST_CASE("text_split: UTF-16 length counts astral characters twice", "[http]") {
    CHECK(utf16_length("abc") == 3);
    CHECK(utf16_length("\xC3\xA9") == 1);         // é
    CHECK(utf16_length("\xF0\x9F\x93\xA6") == 2); // 📦
}

TEST_CASE("text_split: short text is one piece, empty text none", "[http]") {
    CHECK(split_text("hello", 4096) == std::vector<std::string>{"hello"});
    CHECK(split_text("", 4096).empty());
    CHECK(split_text("  \n ", 4096).empty());
}

TEST_CASE("text_split: long text splits at the limit on paragraph, line or space", "[http]") {
    std::string para(3000, 'a');
    auto text = para + "\n\n" + para;
    auto pieces = split_text(text, 4096);
    REQUIRE(pieces.size() == 2);
    CHECK(pieces[0] == para);
    CHECK(pieces[1] == para);

    std::string words;
    while (words.size() < 10000)
        words += "word ";
    for (const auto& p : split_text(words, 2000)) {
        CHECK(utf16_length(p) <= 2000);
        CHECK(p.front() != ' ');
        CHECK(p.back() == 'd');
    }
}

TEST_CASE("text_split: never cuts inside a UTF-8 sequence or over the limit", "[http]") {
    std::string emoji;
    for (int i = 0; i < 3000; ++i)
        emoji += "\xF0\x9F\x92\x9B"; // 💛, 2 UTF-16 units each
    auto pieces = split_text(emoji, 4096);
    std::string joined;
    for (const auto& p : pieces) {
        CHECK(utf16_length(p) <= 4096);
        CHECK(p.size() % 4 == 0);
        joined += p;
    }
    CHECK(joined == emoji);
}

TEST_CASE("text_split: truncate_text adds an ellipsis within the limit", "[http]") {
    CHECK(truncate_text("short", 80) == "short");
    auto t = truncate_text(std::string(100, 'x'), 80);
    CHECK(utf16_length(t) == 80);
    CHECK(t.substr(t.size() - 3) == "\xE2\x80\xA6");
}

TEST_CASE("text_split: secret_equals", "[http]") {
    CHECK(secret_equals("abc", "abc"));
    CHECK(!secret_equals("abc", "abd"));
    CHECK(!secret_equals("abc", "abcd"));
    CHECK(!secret_equals("", "a"));
}
