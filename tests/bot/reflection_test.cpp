#include "bot/reflection.hpp"

#include <catch2/catch.hpp>

using namespace tandem::bot;

TEST_CASE("reflection: the user's words said back to them", "[reflection]") {
    CHECK(reflect("I feel ignored by my partner.") == "you feel ignored by your partner");
    CHECK(reflect("i'm tired of being the one who plans") ==
          "you are tired of being the one who plans");
    CHECK(reflect("") == "");
}

TEST_CASE("reflection: the fillers and asides a message opens with are not said back",
          "[reflection]") {
    CHECK(reflect("sorry, I yelled at her yesterday") == "you yelled at her yesterday");
    CHECK(reflect("um well, i guess i go quiet") == "you guess you go quiet");
    CHECK(reflect("Honestly, umm, I just leave the room") == "you just leave the room");
    // Words that carry meaning stay when no comma marks them as an aside.
    CHECK(reflect("sorry is the hardest word for me") == "sorry is the hardest word for you");
    CHECK(reflect("so much silence between us") == "so much silence between us");
    CHECK(reflect("no one listens to me") == "no one listens to you");
    // A message made only of fillers is said back as it is.
    CHECK(reflect("um, ok") == "ok");
    CHECK(reflect("hmm") == "hmm");
}

TEST_CASE("reflection: address turns a sentence about someone into one said to them",
          "[reflection][builder]") {
    CHECK(address("I snapped at her and called her controlling") ==
          "I snapped at you and called you controlling");
    CHECK(address("she probably felt small and pushed away.") ==
          "you probably felt small and pushed away");
    CHECK(address("i hurt her feelings and ignored his texts") ==
          "I hurt your feelings and ignored your texts");
    CHECK(address("he was upset and he has every right") ==
          "you were upset and you have every right");
    CHECK(address("she feels i never listen") == "you feel I never listen");
    CHECK(address("make her dinner and listen properly") == "make you dinner and listen properly");
    CHECK(address("they cried by themselves") == "you cried by yourself");
    // Names keep their capitals; the second person stays as it is.
    CHECK(address("I told Sam you were wrong") == "I told Sam you were wrong");
}

TEST_CASE("reflection: filters chain in order, an unknown one is refused", "[reflection]") {
    std::string v = "Next time, i will ask her first";
    REQUIRE(apply_filters(v, "strip:next time|address"));
    CHECK(v == "I will ask you first");
    std::string w = "unchanged";
    CHECK_FALSE(apply_filters(w, "shout"));
    CHECK(w == "unchanged");
    CHECK_FALSE(apply_filters(w, "strip:"));
    std::string x = "i will call more";
    REQUIRE(apply_filters(x, "strip:next time"));
    CHECK(x == "i will call more");
}
