#include "bot/normalizer.hpp"
#include "bot/reflection.hpp"

#include <catch2/catch.hpp>

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
