// The shipped Spanish pack (intents/es, dialogs/es): it mirrors the English dialogs it
// overrides, its patterns avoid RE2's ASCII-only \b next to accented letters, and a
// conversation can switch language, or be understood on safety, whatever its language.
#include "../support/test_support.hpp"

#include "bot/conversation_store.hpp"
#include "bot/normalizer.hpp"
#include "bot/turn_processor.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <set>

using namespace tandem;

namespace {

struct conversation {
    std::shared_ptr<const bot::content> c;
    bot::conversation_config cfg;
    std::unique_ptr<bot::turn_processor> p;
    std::int64_t now = 1'700'000'000;
    std::string id;

    conversation(std::shared_ptr<const bot::content> content, std::string conv_id)
        : c(std::move(content)), id(std::move(conv_id)) {
        p = std::make_unique<bot::turn_processor>(c, bot::make_memory_store(), cfg);
    }

    bot::turn_result say(const std::string& text, const std::string& language = "") {
        bot::inbound_message m;
        m.channel = "test";
        m.conversation_id = id;
        m.text = text;
        m.language = language;
        now += 5;
        return p->run(m, now);
    }
};

// The answer's texts, ASCII letters lower-cased.
std::string all_text(const bot::turn_result& r) {
    std::string s;
    for (const auto& t : r.reply.texts)
        s += t + "\n";
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char ch) {
        return ch < 0x80 ? static_cast<char>(std::tolower(ch)) : static_cast<char>(ch);
    });
    return s;
}

bool contains(const std::string& hay, const std::string& needle) {
    return hay.find(needle) != std::string::npos;
}

// A "\b" is an ASCII word boundary in RE2: next to "á" it never matches ("está\b" fails on
// "está mal"). Finds \b right beside a non-ASCII byte, or beside a group or class whose
// alternatives end (or start) with one.
bool bad_boundary(const std::string& re) {
    auto non_ascii = [](char ch) {
        return static_cast<unsigned char>(ch) >= 0x80;
    };
    for (std::size_t i = re.find("\\b"); i != std::string::npos; i = re.find("\\b", i + 2)) {
        if (i > 0 && re[i - 1] == '\\')
            continue;
        if (i + 2 < re.size() && non_ascii(re[i + 2]))
            return true;
        if (i + 2 < re.size() && (re[i + 2] == '(' || re[i + 2] == '[')) {
            // Any alternative of the group (or member of the class) starting with non-ASCII.
            bool cls = re[i + 2] == '[';
            std::size_t j = i + 3;
            if (!cls && re.compare(j, 2, "?:") == 0)
                j += 2;
            int depth = 0;
            bool at_start = true;
            for (; j < re.size(); ++j) {
                char ch = re[j];
                if (ch == '\\') {
                    ++j;
                    at_start = false;
                    continue;
                }
                if (cls) {
                    if (ch == ']')
                        break;
                    if (non_ascii(ch))
                        return true;
                    continue;
                }
                if (ch == '(')
                    ++depth;
                else if (ch == ')' && depth-- == 0)
                    break;
                else if (ch == '|' && depth == 0) {
                    at_start = true;
                    continue;
                } else if (at_start && depth == 0 && non_ascii(ch))
                    return true;
                at_start = false;
            }
        }
        if (i == 0)
            continue;
        if (non_ascii(re[i - 1]))
            return true;
        if (re[i - 1] == ')' || re[i - 1] == ']') {
            // Look back to the matching opener; any alternative ending in non-ASCII is bad.
            char open = re[i - 1] == ')' ? '(' : '[';
            int depth = 0;
            for (std::size_t j = i - 1; j-- > 0;) {
                if (re[j] == re[i - 1] && (j == 0 || re[j - 1] != '\\'))
                    ++depth;
                else if (re[j] == open && (j == 0 || re[j - 1] != '\\')) {
                    if (depth-- == 0)
                        break;
                } else if (depth == 0 &&
                           (re[j + 1] == '|' || re[j + 1] == ')' || (open == '[' && j + 2 == i)) &&
                           non_ascii(re[j]))
                    return true;
            }
        }
    }
    return false;
}

} // namespace

TEST_CASE("languages: the shipped Spanish pack mirrors the English dialogs it overrides",
          "[locale][shipped]") {
    auto c = test::load_ok(test::shipped_paths());
    REQUIRE(c->locales().count("es") == 1);
    const auto& es = c->for_locale("es");
    REQUIRE(&es != c.get());
    std::size_t overridden = 0;
    for (const auto& [id, d] : es.dialogs()) {
        if (d.file.find("/es/") == std::string::npos)
            continue;
        ++overridden;
        const auto* en = c->dialog(id);
        INFO("dialog " << id);
        REQUIRE(en != nullptr);
        // Same version, triggers, slots, nodes and option ids: a conversation can switch
        // language in the middle of a dialog and carry on at the same node.
        CHECK(d.version == en->version);
        CHECK(d.triggers == en->triggers);
        CHECK(d.closeness_work == en->closeness_work);
        CHECK(d.safety_kind == en->safety_kind);
        CHECK(d.start == en->start);
        std::set<std::string> es_slots, en_slots, es_nodes, en_nodes;
        for (const auto& [s, _] : d.slots)
            es_slots.insert(s);
        for (const auto& [s, _] : en->slots)
            en_slots.insert(s);
        CHECK(es_slots == en_slots);
        for (const auto& [n, _] : d.nodes)
            es_nodes.insert(n);
        for (const auto& [n, _] : en->nodes)
            en_nodes.insert(n);
        CHECK(es_nodes == en_nodes);
        for (const auto& [nid, n] : d.nodes) {
            const auto* m = en->node(nid);
            if (!m)
                continue;
            INFO("node " << nid);
            std::vector<std::string> a, b;
            for (const auto& o : n.options)
                a.push_back(o.id + ">" + o.next + o.start + (o.end ? "!" : "") + o.intent);
            for (const auto& o : m->options)
                b.push_back(o.id + ">" + o.next + o.start + (o.end ? "!" : "") + o.intent);
            CHECK(a == b);
            CHECK(n.next == m->next);
            CHECK(n.start == m->start);
            CHECK(n.end == m->end);
            CHECK(n.expect == m->expect);
            CHECK(n.capture.has_value() == m->capture.has_value());
            CHECK(n.branch.size() == m->branch.size());
            CHECK(n.fallback == m->fallback);
            CHECK(n.say.size() == m->say.size());
        }
    }
    // The safety layer, the core topics and the conversation dialogs are all in Spanish.
    for (const auto* id : {"welcome",
                           "greeting",
                           "help",
                           "menu",
                           "system",
                           "fallback",
                           "goodbye",
                           "thanks",
                           "restart",
                           "forget_me",
                           "about_bot",
                           "set_language",
                           "safety",
                           "safety_check",
                           "safety_suicide",
                           "safety_suicide_urgent",
                           "safety_emergency",
                           "safety_abuse",
                           "safety_control",
                           "safety_sexual",
                           "safety_minor",
                           "safety_using_harm",
                           "safety_third_party",
                           "safety_mode_block",
                           "feeling_smothered",
                           "feeling_distant",
                           "wanting_to_apologize",
                           "conflict"}) {
        INFO(id);
        REQUIRE(es.dialog(id) != nullptr);
        CHECK(contains(es.dialog(id)->file, "/es/"));
    }
    CHECK(overridden >= 28);
}

TEST_CASE("languages: the Spanish safety intents carry the same ids and kinds as English",
          "[locale][shipped][safety]") {
    auto c = test::load_ok(test::shipped_paths());
    const auto& es = c->for_locale("es");
    for (const auto& en : c->matcher().intents()) {
        if (en.topic != "safety")
            continue;
        INFO(en.id);
        const auto* d = es.matcher().find(en.id);
        REQUIRE(d != nullptr);
        CHECK(contains(d->file, "/es/"));
        REQUIRE(d->safety.has_value());
        CHECK(d->safety->kind == en.safety->kind);
        CHECK(d->safety->tier == en.safety->tier);
        CHECK(d->priority == en.priority);
    }
}

TEST_CASE("languages: pack patterns never put a word boundary beside an accented letter",
          "[locale][shipped]") {
    CHECK(bad_boundary("est[aá]\\b"));
    CHECK(bad_boundary("\\b(?:él|ella)"));
    CHECK(bad_boundary("(?:mamá|mama)\\b"));
    CHECK_FALSE(bad_boundary("\\bdiscusi[oó]n\\b"));
    CHECK_FALSE(bad_boundary("\\b(?:novio|novia)\\b"));
    auto c = test::load_ok(test::shipped_paths());
    const auto& es = c->for_locale("es");
    for (const auto& i : es.matcher().intents()) {
        if (!contains(i.file, "/es/"))
            continue;
        for (const auto& p : i.patterns) {
            INFO(i.id << ": " << p.source);
            CHECK_FALSE(bad_boundary(p.source));
        }
        for (const auto* list : {&i.excludes, &i.message_excludes})
            for (const auto& x : *list) {
                INFO(i.id << " exclude: " << x);
                CHECK_FALSE(bad_boundary(x));
            }
    }
}

TEST_CASE("languages: the Spanish pack reads accents and texting forms either way",
          "[locale][shipped]") {
    auto c = test::load_ok(test::shipped_paths());
    const auto& es = c->for_locale("es");
    auto topic = [&](const std::string& s) {
        return es.matcher().classify(s).topic;
    };
    CHECK(topic("me siento agobiada, necesito mi espacio") == "feeling_smothered");
    CHECK(topic("ME SIENTO AGOBIADA, NECESITO MI ESPACIO") == "feeling_smothered");
    CHECK(topic("quiero pedirle perdón") == "wanting_to_apologize");
    CHECK(topic("quiero pedirle perdon") == "wanting_to_apologize");
    CHECK(topic("todos estarían mejor sin mí") == "safety");
    CHECK(topic("todos estarian mejor sin mi") == "safety");
    CHECK(topic("q sentido tiene seguir viviendo") == "safety");
    CHECK(topic("discutimos x todo") == "conflict");
    // Hyperbole stays out of the safety layer.
    CHECK(topic("me muero de ganas de verla") != "safety");
    CHECK(topic("esta pelea me está matando") != "safety");
    CHECK(topic("lo mato si se olvida otra vez de nuestro aniversario") != "safety");
}

TEST_CASE("languages: the channel's language picks the pack for a new conversation",
          "[locale][shipped]") {
    conversation conv(test::load_ok(test::shipped_paths()), "channel");
    auto r = conv.say("hola", "es-MX");
    CHECK(r.intent == "greeting");
    CHECK(contains(all_text(r), "no soy terapeuta"));
    // A language without a pack stays in English.
    conversation fr(conv.c, "fr");
    CHECK(contains(all_text(fr.say("hi", "fr-FR")), "not a therapist"));
}

TEST_CASE("languages: a Spanish message in a new conversation switches to Spanish",
          "[locale][shipped]") {
    conversation conv(test::load_ok(test::shipped_paths()), "auto");
    auto r = conv.say("me siento agobiada, mi pareja quiere estar conmigo todo el tiempo");
    CHECK(r.topic == "feeling_smothered");
    CHECK(r.dialog == "feeling_smothered");
    CHECK(contains(all_text(r), "no soy terapeuta"));
}

TEST_CASE("languages: safety is understood whatever language the conversation is in",
          "[locale][shipped][safety]") {
    auto c = test::load_ok(test::shipped_paths());
    SECTION("Spanish in an English conversation") {
        conversation conv(c, "en-es");
        conv.say("hi");
        // The English deny intent would read "no ..." as a no; the Spanish safety layer wins.
        auto r = conv.say("no quiero vivir más");
        CHECK(r.topic == "safety");
        CHECK(r.dialog == "safety_suicide");
        CHECK(contains(all_text(r), "¿")); // asked in Spanish
    }
    SECTION("English in a Spanish conversation") {
        conversation conv(c, "es-en");
        conv.say("hola", "es");
        auto r = conv.say("he hit me last night");
        CHECK(r.topic == "safety");
        CHECK(r.intent == "safety_ipv_physical");
        CHECK(contains(all_text(r), "not your fault"));
    }
    SECTION("a Spanish conversation answers Spanish safety in Spanish") {
        conversation conv(c, "es-es");
        conv.say("hola", "es");
        auto r = conv.say("mi novio me pegó anoche");
        CHECK(r.intent == "safety_ipv_physical");
        CHECK(contains(all_text(r), "no es culpa tuya"));
    }
}

TEST_CASE("languages: asking for another language switches mid-dialog, even at a free-text "
          "question, and the question is asked again",
          "[locale][shipped]") {
    conversation conv(test::load_ok(test::shipped_paths()), "switch");
    auto r = conv.say("i feel smothered, she wants to be with me all the time");
    CHECK(r.dialog == "feeling_smothered");
    r = conv.say("[partner]");
    CHECK(r.node == "space_q");
    r = conv.say("en español por favor");
    CHECK(r.intent == "set_language");
    CHECK(r.dialog == "feeling_smothered");
    CHECK(r.node == "space_q");
    CHECK(contains(all_text(r), "español"));
    CHECK(contains(all_text(r), "espacio")); // the question again, now in Spanish
    r = conv.say("in English please");
    CHECK(r.node == "space_q");
    CHECK(contains(all_text(r), "english"));
}

TEST_CASE("languages: helpline lines render in the conversation's language",
          "[locale][shipped][safety]") {
    auto c = test::load_ok(test::shipped_paths());
    const auto& es = c->for_locale("es");
    CHECK(contains(c->resources().render("suicide_crisis", "US"), "call 988"));
    CHECK(contains(es.resources().render("suicide_crisis", "US"), "llama al 988"));
    CHECK(contains(es.resources().render("emergency", "INTL"), "número de emergencias"));
    CHECK(es.resources().emergency("US") == "911"); // numbers stay as they are
    CHECK(es.resources().region("GB")->name == "Reino Unido");
    CHECK(c->resources().region("GB")->name == "United Kingdom");
    CHECK(c->resources().region_for("estoy en españa") == "EU");
    auto r = es.matcher().classify("vivo en estados unidos");
    REQUIRE(r.intent == "set_region");
    CHECK(c->resources().region_for(bot::normalize(r.captures.at("region"))) == "US");
}
