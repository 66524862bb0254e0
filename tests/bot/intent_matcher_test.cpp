#include "../support/test_support.hpp"

#include <catch2/catch.hpp>
#include <re2/re2.h>

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

TEST_CASE("intent matcher: a Set entry spread over its first characters keeps its language",
          "[intent]") {
    using bot::detail::spread_set_entry;
    using V = std::vector<std::string>;
    // A leading group is distributed and its alternatives grouped by first character.
    CHECK(spread_set_entry("\\b(can|could|would) you\\b") ==
          V{"\\bc(?:an|ould) you\\b", "\\bwould you\\b"});
    CHECK(spread_set_entry("^(?P<who>he|she) left") == V{"^he left", "^she left"});
    CHECK(spread_set_entry("\\b(i|we) (x|y)|\\bz") == V{"\\bi (x|y)", "\\bwe (x|y)", "\\bz"});
    CHECK(spread_set_entry("\\b((a|b)c|d)e") == V{"\\bace", "\\bbce", "\\bde"});
    CHECK(spread_set_entry("(él|ella|x)") == V{"él", "ella", "x"});
    CHECK(spread_set_entry("(ab|a)") == V{"a(?:b|)"});
    CHECK(spread_set_entry("\\b(s?he|they)") == V{"\\bs?he", "\\bthey"});
    // Not spread: a quantified or flagged group, a quantified first character, what the
    // reader does not know, a group name used twice.
    for (const char* keep :
         {"\\b(a|b)?c", "(?i:a|b)c", "(?i)(a|b)", "(a|b", "(?P<x>a)|(?P<x>b)", "\\bplain words"})
        CHECK(spread_set_entry(keep) == V{keep});
    // The union of the parts matches exactly where the pattern does.
    const char* patterns[] = {"\\b(can|could|would|will) (you|u)\\b",
                              "^(new topic|new chat|start fresh)\\b",
                              "\\b(?P<who>he|she|they)\\b.{0,10}\\b(hit|hits)\\b",
                              "\\b((my|our) (data|chat)|everything)\\b",
                              "(ab|a|)c",
                              "\\b(él|ella|ellos) (me|te)\\b",
                              "(x|xy|[0-9]y)z"};
    std::mt19937 rng(5);
    const std::vector<std::string> vocab = {
        "can",   "could",      "would", "will", "you",  "u",   "new",  "topic", "chat",
        "start", "fresh",      "he",    "she",  "they", "hit", "hits", "my",    "our",
        "data",  "everything", "ab",    "a",    "c",    "él",  "ella", "ellos", "me",
        "te",    "x",          "xy",    "1y",   "z",    "abc", "xyz",  "."};
    re2::RE2::Options o;
    o.set_case_sensitive(false);
    for (const char* p : patterns) {
        auto parts = spread_set_entry(p);
        CHECK(parts.size() > 1);
        std::string joined;
        for (const auto& part : parts)
            joined += (joined.empty() ? "(?:" : "|(?:") + part + ")";
        re2::RE2 whole(p, o), spread(joined, o);
        REQUIRE(whole.ok());
        REQUIRE(spread.ok());
        for (int t = 0; t < 2000; ++t) {
            std::string text;
            auto n = rng() % 6;
            for (unsigned w = 0; w < n; ++w)
                text += (w ? (rng() % 4 ? " " : "") : "") + vocab[rng() % vocab.size()];
            INFO(p << " on \"" << text << "\"");
            REQUIRE(re2::RE2::PartialMatch(text, whole) == re2::RE2::PartialMatch(text, spread));
        }
    }
}

TEST_CASE("intent matcher: spread patterns keep weights, excludes, captures and pieces",
          "[intent]") {
    // Patterns whose leading groups are spread into several Set entries: a hit of any part
    // counts the pattern once (its weight once), excludes still drop the intent, captures
    // come from the whole pattern, and a wide pattern's spread piece is counted once.
    std::vector<bot::intent_def> defs;
    const char* heads[] = {"(he|she|they)", "(can|could|cannot)", "(my|our|mine)", "(a|an|and)"};
    for (int i = 0; i < 24; ++i) {
        bot::intent_def d;
        d.id = "s" + std::to_string(i);
        d.topic = "conflict";
        d.priority = 10 + i % 3;
        std::string h = heads[i % 4], g = heads[(i / 4) % 4];
        d.patterns.push_back({"\\b" + h + " " + g + "\\b", 1 + i % 4, nullptr});
        d.patterns.push_back({"\\b" + g + "\\b[^.]{0,30}\\b" + h + "\\b", 2, nullptr});
        if (i % 3 == 2)
            d.patterns.push_back({"\\b(?P<who>he|she|they) (?P<verb>can|could)\\b", 3, nullptr});
        if (i % 5 == 0)
            d.excludes.push_back("\\b(cannot|mine) " + h);
        defs.push_back(std::move(d));
    }
    REQUIRE(bot::detail::spread_set_entry("\\b(he|she|they) (can|could|cannot)\\b").size() == 3);
    bot::diagnostics diags;
    bot::intent_matcher m(std::move(defs), diags);
    INFO(diags.to_string());
    REQUIRE(diags.empty());
    std::mt19937 rng(17);
    const std::vector<std::string> vocab = {"he", "she", "they", "can", "could", "cannot",
                                            "my", "our", "mine", "a",   "an",    "and",
                                            ".",  "x",   "hey",  "ca"};
    int matched = 0, captured = 0;
    for (int t = 0; t < 3000; ++t) {
        std::string text;
        auto n = 1 + rng() % 10;
        for (unsigned w = 0; w < n; ++w)
            text += (w ? " " : "") + vocab[rng() % vocab.size()];
        auto a = m.classify(text);
        auto b = m.test_classify_one_by_one(text);
        matched += a.matched();
        captured += !a.captures.empty();
        INFO("text: " << text);
        REQUIRE(a.intent == b.intent);
        REQUIRE(a.ranked.size() == b.ranked.size());
        for (std::size_t k = 0; k < a.ranked.size(); ++k) {
            REQUIRE(a.ranked[k].intent == b.ranked[k].intent);
            REQUIRE(a.ranked[k].score == b.ranked[k].score);
        }
        REQUIRE(a.captures == b.captures);
    }
    CHECK(matched > 1000);
    CHECK(captured > 50);
}

TEST_CASE("intent matcher: spread patterns are still reported too broad or not compiling",
          "[intent]") {
    auto make = [](std::string re) {
        bot::intent_def d;
        d.id = "x";
        d.topic = "conflict";
        d.file = "f.json";
        d.pointer = "/intents/0";
        d.patterns.push_back({"\\bplain\\b", 1, nullptr});
        d.patterns.push_back({std::move(re), 1, nullptr});
        std::vector<bot::intent_def> defs;
        defs.push_back(std::move(d));
        return defs;
    };
    auto codes = [](const bot::diagnostics& diags) {
        std::vector<std::string> c;
        for (const auto& d : diags.items())
            c.push_back(d.code);
        return c;
    };
    {
        bot::diagnostics diags; // one spread part matches the empty text
        bot::intent_matcher m(make("(hello|)"), diags);
        CHECK(codes(diags) == std::vector<std::string>{"pattern.too_broad"});
        CHECK(m.classify("plain").ranked.at(0).score == 1); // the broad one is ignored
    }
    for (const char* bad : {"\\b(ab|c[)", "(ab|c)(?P<bad name>d)", "(ab|c\\8)"}) {
        bot::diagnostics diags;
        bot::intent_matcher m(make(bad), diags);
        INFO(bad);
        CHECK(codes(diags) == std::vector<std::string>{"pattern.compile"});
        CHECK(m.classify("plain").intent == "x");
        CHECK(m.classify("ab").intent == "fallback");
    }
}

TEST_CASE("intent matcher: the case-sensitive Set entry matches like the case-insensitive one",
          "[intent]") {
    using bot::detail::fold_free_set_entry;
    CHECK(fold_free_set_entry("\\bHe (?P<Verb>hits?)\\b[^.?!]{0,20}") ==
          "\\bhe (?P<Verb>hit(?i:s)?)\\b[^.?!]{0,20}");
    CHECK(fold_free_set_entry("\\b(él|K)\\w+[a-z]\\d\\.") ==
          "\\b((?i:é)l|(?i:k))(?i:\\w)+(?i:[a-z])\\d\\.");
    CHECK(fold_free_set_entry("(?i)abc") == "(?i:(?i)abc)");
    CHECK(fold_free_set_entry("a(?-i:B)") == "(?i:a(?-i:B))");
    CHECK(fold_free_set_entry("\\Qa.b\\E") == "(?i:\\Qa.b\\E)");
    CHECK(fold_free_set_entry("\\012x") == "(?i:\\012x)");
    // On text without ASCII upper-case letters, both match the same texts, including the
    // non-ASCII letters RE2 folds with ASCII ones (KELVIN SIGN, LONG S) and accented capitals.
    const char* patterns[] = {"\\bkiss(es)?\\b", "\\bSHE\\b.{0,5}\\bASKS\\b",
                              "[a-z]+ é",        "\\bcafé\\b",
                              "[^a-c]x",         "\\w\\W\\w",
                              "\\pL{2}s",        "\\x{212A}o",
                              "[[:alpha:]]k",    "(?P<n>[KS])\\b",
                              "[-k]s",           "ÉL|ñ"};
    const std::vector<std::string> pieces = {"k",
                                             "s",
                                             "kiss",
                                             "es",
                                             "she",
                                             "asks",
                                             " ",
                                             ".",
                                             "é",
                                             "É",
                                             "café",
                                             "cafÉ",
                                             "x",
                                             "a",
                                             "d",
                                             "\xE2\x84\xAA" /* KELVIN SIGN */,
                                             "\xC5\xBF" /* LONG S */,
                                             "ñ",
                                             "Ñ",
                                             "él",
                                             "-",
                                             "1"};
    re2::RE2::Options ci, cs;
    ci.set_case_sensitive(false);
    cs.set_case_sensitive(true);
    std::mt19937 rng(3);
    for (const char* p : patterns) {
        re2::RE2 a(p, ci), b(fold_free_set_entry(p), cs);
        REQUIRE(a.ok());
        REQUIRE(b.ok());
        for (int t = 0; t < 3000; ++t) {
            std::string text;
            auto n = rng() % 7;
            for (unsigned w = 0; w < n; ++w)
                text += pieces[rng() % pieces.size()];
            INFO(p << " -> " << fold_free_set_entry(p) << " on \"" << text << "\"");
            REQUIRE(re2::RE2::PartialMatch(text, a) == re2::RE2::PartialMatch(text, b));
        }
    }
}

TEST_CASE("intent matcher: text with upper-case letters given as normalised still matches",
          "[intent]") {
    // classify_normalized may be given text normalize() would have lower-cased; the Set is
    // built for lower-case text, so such text is matched one by one, case-insensitively.
    const auto& m = fixture()->matcher();
    for (const char* text : {"I FEEL SMOTHERED", "He Hit Me", "THANKS, BYE", "Help"}) {
        auto a = m.classify_normalized(text);
        auto b = m.classify(text);
        INFO(text);
        CHECK(a.matched());
        CHECK(a.intent == b.intent);
        CHECK(a.ranked.size() == b.ranked.size());
        CHECK(a.normalized == text);
    }
}

TEST_CASE("intent matcher: clauses end at sentence marks and before clause words", "[intent]") {
    using bot::detail::split_clauses;
    const std::vector<std::string> words = {"but", "even though", "pero"};
    using v = std::vector<std::string_view>;
    CHECK(split_clauses("the cat scratched me. the bruises are from him", words) ==
          v{"the cat scratched me", "the bruises are from him"});
    CHECK(split_clauses("the cat scratched me but the bruises are from him", words) ==
          v{"the cat scratched me", "but the bruises are from him"});
    CHECK(split_clauses("is it ok? i mean it; really!", {}) ==
          v{"is it ok", "i mean it", "really"});
    // Whole words only ("butter", "rebut"), at the start too; empty clauses dropped.
    CHECK(split_clauses("pass the butter. rebut it", words) == v{"pass the butter", "rebut it"});
    CHECK(split_clauses("but why... ok", words) == v{"but why", "ok"});
    CHECK(split_clauses("i stayed even though he yelled", words) ==
          v{"i stayed", "even though he yelled"});
    // Accented letters are part of a word: "peroné" is not "pero".
    CHECK(split_clauses("me duele el peroné pero sigo", words) ==
          v{"me duele el peroné", "pero sigo"});
    CHECK(split_clauses("", words).empty());
    CHECK(split_clauses(" . ! ", words).empty());
}

TEST_CASE("intent matcher: an exclude silences its intent only in the clause it matches in",
          "[intent][safety]") {
    auto make = [](std::vector<std::string> clause_words) {
        std::vector<bot::intent_def> defs;
        bot::intent_def hurt;
        hurt.id = "hurt";
        hurt.topic = "safety";
        hurt.priority = 100;
        hurt.patterns.push_back({"\\b(bruises|blood)\\b", 1, nullptr});
        hurt.excludes.push_back("\\b(cat|dog) (scratched|bit) me\\b");
        hurt.excludes.push_back("\\bnosebleed\\b[^!]{0,40}\\bblood\\b"); // spans sentences
        hurt.message_excludes.push_back("\\bpaintball\\b");
        defs.push_back(std::move(hurt));
        bot::intent_def chat;
        chat.id = "chat";
        chat.topic = "conflict";
        chat.priority = 10;
        chat.patterns.push_back({"\\b(cat|dog)\\b", 1, nullptr});
        defs.push_back(std::move(chat));
        bot::diagnostics diags;
        auto m =
            std::make_unique<bot::intent_matcher>(std::move(defs), diags, std::move(clause_words));
        INFO(diags.to_string());
        REQUIRE(diags.empty());
        return m;
    };
    auto with_but = make({"but"});
    auto without = make({});
    auto check = [](const bot::intent_matcher& m, const std::string& text, bool hurt) {
        INFO(text);
        auto a = m.classify(text);
        auto b = m.test_classify_one_by_one(text);
        CHECK(a.has("hurt") == hurt);
        CHECK(b.has("hurt") == hurt); // the Set and one by one agree
        CHECK(a.intent == b.intent);
    };
    // In the exclude's own clause: silenced, as before.
    check(*with_but, "the cat scratched me and left bruises", false);
    check(*with_but, "bruises? the dog bit me, that is all", true); // different clauses
    // Another clause says more than the idiom explains.
    check(*with_but, "the cat scratched me. the bruises are from him", true);
    check(*with_but, "the cat scratched me but the bruises are from him", true);
    check(*without, "the cat scratched me but the bruises are from him", false);
    // A message exclude holds for every clause; so does an exclude that matched only across
    // clauses.
    check(*with_but, "we played paintball. bruises everywhere", false);
    check(*with_but, "i had a nosebleed. there is blood on the sofa", false);
    check(*with_but, "i had a nosebleed! there is blood on the sofa", true);
    // Nothing excluded: unchanged.
    check(*with_but, "bruises again", true);
    check(*with_but, "the dog bit me", false);
}
