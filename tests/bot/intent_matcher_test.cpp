#include "../support/test_support.hpp"

#include <catch2/catch.hpp>

#include <random>

using namespace tandem;

namespace {
std::shared_ptr<const bot::content> fixture() {
    static auto c = test::load_ok(test::fixture_paths());
    return c;
}
} // namespace

TEST_CASE("intent matcher: higher priority wins over more matches", "[intent]") {
    const auto& m = fixture()->matcher();
    auto r = m.classify("hi, I feel smothered and I want to die");
    CHECK(r.intent == "safety_suicide_ideation");
    CHECK(r.topic == "safety");
    REQUIRE(r.safety);
    CHECK(r.safety->kind == "suicide_ideation");
    CHECK(r.has("feeling_smothered"));
    CHECK(r.has("greeting"));
    CHECK(r.ranked.front().intent == "safety_suicide_ideation");
}

TEST_CASE("intent matcher: score is the sum of pattern weights", "[intent]") {
    const auto& m = fixture()->matcher();
    auto r = m.classify("I feel smothered, I need my own space");
    CHECK(r.intent == "feeling_smothered");
    REQUIRE(!r.ranked.empty());
    CHECK(r.ranked.front().score == 4); // smother (1) + need space (2) + i feel (1)
    CHECK(r.confidence == Approx(1.0));
}

TEST_CASE("intent matcher: exclude patterns drop an intent (negation)", "[intent]") {
    const auto& m = fixture()->matcher();
    auto r = m.classify("I don't feel smothered, I just miss him");
    CHECK(r.intent == "feeling_distant");
    CHECK_FALSE(r.has("feeling_smothered"));
}

TEST_CASE("intent matcher: traps excluded from safety", "[intent][safety]") {
    const auto& m = fixture()->matcher();
    CHECK(m.classify("I'm dying to see her").topic != "safety");
    CHECK(m.classify("he hit me with the news").topic != "safety");
    CHECK(m.classify("He hit me again").intent == "safety_ipv_physical");
}

TEST_CASE("intent matcher: nothing matched gives fallback / out_of_scope", "[intent]") {
    const auto& m = fixture()->matcher();
    auto r = m.classify("zzz qqq");
    CHECK(r.intent == "fallback");
    CHECK(r.topic == "out_of_scope");
    CHECK(r.confidence == 0);
    CHECK(r.ranked.empty());
    CHECK_FALSE(r.matched());
    CHECK(m.classify("").intent == "fallback");
}

TEST_CASE("intent matcher: named captures of the winner", "[intent]") {
    const auto& m = fixture()->matcher();
    auto r = m.classify("I'm in the UK");
    CHECK(r.intent == "set_region");
    CHECK(r.captures.at("region") == "uk");
    auto s = m.classify("i feel so boxed in");
    CHECK(s.intent == "feeling_smothered");
    CHECK(s.captures.at("feeling") == "so boxed in");
}

TEST_CASE("intent matcher: texting forms are normalised before matching", "[intent]") {
    const auto& m = fixture()->matcher();
    CHECK(m.classify("HELLOOOO").normalized == "helloo");
    CHECK(m.classify("Hi!!").intent == "greeting");
    CHECK(m.classify("i dont want to restart").intent != "restart");
    CHECK(m.classify("can we restart").intent == "restart");
}

TEST_CASE("intent matcher: the set and the one-by-one baseline agree", "[intent]") {
    const auto& m = fixture()->matcher();
    for (const char* text :
         {"hi", "I feel smothered", "he hit me", "we are drifting apart", "thanks, bye", "help",
          "nothing at all", "i am in the usa", "\xF0\x9F\x98\x8A", "bad \xFF utf8"}) {
        auto a = m.classify(text);
        auto b = m.test_classify_one_by_one(text);
        INFO(text);
        CHECK(a.intent == b.intent);
        CHECK(a.ranked.size() == b.ranked.size());
        CHECK(a.captures == b.captures);
    }
}

TEST_CASE("intent matcher: huge and hostile input stays linear and safe", "[intent]") {
    const auto& m = fixture()->matcher();
    std::string big(100 * 1024, 'a');
    big += " i want to die";
    CHECK(m.classify(big).topic == "safety");
    std::string nested(50000, '(');
    CHECK(m.classify(nested).intent == "fallback");
}

TEST_CASE("intent matcher: shipped intents pass their own examples", "[intent][shipped]") {
    bot::diagnostics diags;
    auto c = bot::content::load(test::shipped_paths(), diags);
    bot::diagnostics self;
    c->matcher().self_test(self);
    INFO(self.to_string());
    CHECK(self.empty());
}

TEST_CASE("intent matcher: a question form takes its topic from the content it asks about",
          "[intent]") {
    const auto& m = fixture()->matcher();
    auto r = m.classify("is it normal that I need my own space?");
    CHECK(r.intent == "is_normal");
    CHECK(r.topic == "feeling_smothered");
    auto alone = m.classify("is this normal?");
    CHECK(alone.intent == "is_normal");
    CHECK(alone.topic == "feeling_distant");
    // Safety still outranks the question form, and keeps its own topic.
    auto risk = m.classify("is it normal that he hit me last night?");
    CHECK(risk.intent == "safety_ipv_physical");
    CHECK(risk.topic == "safety");
}

TEST_CASE("intent matcher: many counted repeats take the prefiltered path and agree one by one",
          "[intent]") {
    // More than a few patterns with wide counted repeats ("{0,30}") are cut at their gaps:
    // their pieces join the combined set and a pattern is confirmed alone once all its
    // pieces are found (bot/intents.cpp). Build such a list: 40 intents, each with a
    // counted gap (narrow or wide), a plain pattern, an exclude with a wide gap, a pattern
    // with a wide alternative next to a plain one, one the cutter does not read ((?i)
    // flags) and one whose pieces all match the empty text (both run on every message), then
    // compare with trying each alone.
    std::vector<bot::intent_def> defs;
    const char* words[] = {"apple", "banana", "cherry", "damson", "elder", "fig", "grape", "hazel"};
    for (int i = 0; i < 40; ++i) {
        bot::intent_def d;
        d.id = "i" + std::to_string(i);
        d.topic = "conflict";
        d.priority = 10 + i % 7;
        std::string a = words[i % 8], b = words[(i / 8 + 3) % 8];
        d.patterns.push_back(
            {"\\b" + a + "\\b[^.?!]{0," + std::to_string(15 + i % 30) + "}\\b" + b + "\\b",
             1 + i % 3, nullptr});
        d.patterns.push_back({"\\b" + b + "s? and " + a + "\\b", 1, nullptr});
        if (i % 5 == 0)
            d.patterns.push_back({"^(y|k|n)\\b.{0,3}$", 1, nullptr}); // no atom of 3+ letters
        if (i % 4 == 0)
            d.excludes.push_back("\\bno\\b.{0,30}\\b" + a + "\\b");
        if (i % 6 == 0)
            d.patterns.push_back(
                {"\\b" + b + " " + a + "\\b|\\b" + a + "\\b[^!]{0,40}\\bbig\\b", 1, nullptr});
        if (i % 7 == 0)
            d.patterns.push_back({"(?i)\\b" + b + "\\b[^.?!]{0,25}\\bthe\\b", 1, nullptr});
        if (i % 11 == 0)
            d.patterns.push_back({"^[a-z ]{0,40}\\b" + a + "$", 1, nullptr});
        if (i % 13 == 0) // its pieces ("^\s*", "$") match anything
            d.patterns.push_back({"^\\s*[a-z]{5,30}$", 1, nullptr});
        if (i % 9 == 0)
            d.patterns.push_back({"\\bwant (?P<thing>[a-z]{3,12}) " + a + "\\b", 2, nullptr});
        defs.push_back(std::move(d));
    }
    bot::diagnostics diags;
    bot::intent_matcher m(std::move(defs), diags);
    INFO(diags.to_string());
    REQUIRE(diags.empty());
    std::mt19937 rng(11);
    std::vector<std::string> vocab = {"apple", "banana",  "cherry", "damson", "elder", "fig",
                                      "grape", "hazel",   "no",     "and",    "want",  "big",
                                      "y",     "k",       "n",      "the",    ".",     "!",
                                      "s",     "bananas", "x"};
    int matched = 0;
    for (int t = 0; t < 3000; ++t) {
        std::string text;
        auto n = 1 + rng() % 12;
        for (unsigned w = 0; w < n; ++w)
            text += (w ? " " : "") + vocab[rng() % vocab.size()];
        auto a = m.classify(text);
        auto b = m.test_classify_one_by_one(text);
        matched += a.matched();
        INFO("text: " << text);
        REQUIRE(a.intent == b.intent);
        REQUIRE(a.ranked.size() == b.ranked.size());
        for (std::size_t k = 0; k < a.ranked.size(); ++k)
            REQUIRE(a.ranked[k].score == b.ranked[k].score);
        REQUIRE(a.captures == b.captures);
    }
    CHECK(matched > 500); // the texts do exercise the patterns
}
