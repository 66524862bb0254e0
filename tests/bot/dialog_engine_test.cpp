#include "../support/test_support.hpp"

#include "bot/dialog_engine.hpp"

#include <catch2/catch.hpp>

#include <algorithm>

using namespace tandem;

namespace {

struct session {
    std::shared_ptr<const bot::content> c = test::load_ok(test::fixture_paths());
    bot::conversation_config cfg;
    bot::conversation_state state = bot::new_state("test:1", 1000);
    std::int64_t now = 1000;
    bool forgot = false;

    bot::outbound_message say(const std::string& text) {
        bot::turn_input in;
        in.text = text;
        in.understood = c->matcher().classify(text);
        in.now = ++now;
        return run(in);
    }
    bot::outbound_message press(const std::string& id) {
        bot::turn_input in;
        in.option_id = id;
        in.now = ++now;
        return run(in);
    }
    bot::outbound_message run(const bot::turn_input& in) {
        auto out = bot::step(*c, cfg, state, in);
        state = out.state;
        forgot = out.forget;
        return out.reply;
    }
    std::string where() const {
        return state.stack.empty() ? "-"
                                   : state.stack.back().dialog + "/" + state.stack.back().node;
    }
};

std::string joined(const bot::outbound_message& m) {
    std::string s;
    for (const auto& t : m.texts)
        s += t + "\n";
    return s;
}

bool says(const bot::outbound_message& m, const std::string& needle) {
    return joined(m).find(needle) != std::string::npos;
}

} // namespace

TEST_CASE("dialog engine: first turn shows the not-therapy note once", "[dialog]") {
    session s;
    auto r = s.say("hi");
    CHECK(says(r, "NOTE:"));
    CHECK(says(r, "HELLO"));
    CHECK(says(r, "MENU:"));
    CHECK(s.where() == "menu/choose");
    CHECK(r.options.size() == 3);
    auto r2 = s.say("hi");
    CHECK_FALSE(says(r2, "NOTE:"));
}

TEST_CASE("dialog engine: options by number, label words, keyword and button", "[dialog]") {
    session s;
    s.say("hi");
    SECTION("number") {
        s.say("2");
        CHECK(s.where() == "distant/entry");
    }
    SECTION("label words") {
        s.say("far apart");
        CHECK(s.where() == "distant/entry");
    }
    SECTION("keyword") {
        s.say("some room please");
        CHECK(s.where() == "smothered/who");
    }
    SECTION("button press") {
        s.press("space");
        CHECK(s.where() == "smothered/who");
    }
    SECTION("out of range number is not understood") {
        auto r = s.say("7");
        CHECK(s.where() == "menu/choose");
        CHECK(r.options.size() == 3);
    }
}

TEST_CASE("dialog engine: capture, reflection, number slot, branch and summary", "[dialog]") {
    session s;
    s.say("i need some space");
    CHECK(s.where() == "smothered/who");
    s.say("a partner");
    CHECK(s.where() == "smothered/use");
    auto r = s.say("I would spend time with my sister.");
    CHECK(s.where() == "smothered/room");
    CHECK(says(r, "So you'd you would spend time with your sister."));
    r = s.say("maybe three?");
    CHECK(says(r, "LOW: 3 out of 10"));
    CHECK(s.where() == "smothered/more");
    CHECK(r.options.size() == 2); // the friends-only option is hidden
    r = s.say("yes");
    CHECK(says(r, "SUMMARY: about your partner"));
    CHECK(r.end);
    CHECK(s.state.stack.empty());
}

TEST_CASE("dialog engine: a number slot re-asks when no number is given", "[dialog]") {
    session s;
    s.say("i need some space");
    s.press("friend");
    s.say("read books");
    auto r = s.say("not sure");
    CHECK(s.where() == "smothered/room");
    CHECK(says(r, "how much room"));
    s.say("8");
    CHECK(s.where() == "smothered/more");
    CHECK(s.state.stack.back().slots.at("room") == "8");
}

TEST_CASE("dialog engine: safety interrupts any dialog, even at a yes/no prompt",
          "[dialog][safety]") {
    session s;
    s.say("i need some space");
    s.press("partner");
    s.say("walks");
    s.say("3");
    REQUIRE(s.where() == "smothered/more");
    auto r = s.say("yes, i want to die");
    CHECK(says(r, "SAFETY:"));
    CHECK(s.where() == "safety/care");
    CHECK_FALSE(says(r, "SUMMARY"));
    CHECK(s.state.safety_mode.empty()); // suicide is not an abuse disclosure
}

TEST_CASE("dialog engine: after an abuse disclosure closeness work is set aside",
          "[dialog][safety]") {
    session s;
    s.say("hello");
    auto r = s.say("he hit me last night");
    CHECK(says(r, "IPV:"));
    CHECK(s.state.safety_mode == "ipv_physical");
    r = s.say("i need some space");
    CHECK(says(r, "BLOCKED:"));
    CHECK_FALSE(says(r, "SMOTHERED"));
    s.say("hi");
    r = s.press("space"); // the menu's button cannot bypass it either
    CHECK(says(r, "BLOCKED:"));
}

TEST_CASE("dialog engine: resources follow the user's region", "[dialog][safety]") {
    session s;
    s.say("hello");
    auto r = s.say("i'm in the uk");
    CHECK(s.state.region == "GB");
    CHECK(says(r, "REGION: I will show resources for the UK. Emergency: 999."));
    r = s.say("i want to die");
    CHECK(says(r, "call 999"));
    CHECK(says(r, "Samaritans: call 116 123"));
}

TEST_CASE("dialog engine: missing resource categories fall back to the directory",
          "[dialog][safety]") {
    session s;
    s.say("hello");
    auto r = s.say("she hits me");
    CHECK(says(r, "Find A Helpline: https://findahelpline.com"));
}

TEST_CASE("dialog engine: help interrupts and the dialog resumes", "[dialog]") {
    session s;
    s.say("i need some space");
    auto r = s.say("help");
    CHECK(says(r, "HELP:"));
    CHECK(says(r, "Who is this about?"));
    CHECK(s.where() == "smothered/who");
    CHECK(r.options.size() == 2);
}

TEST_CASE("dialog engine: small talk mid-dialog is answered, then the dialog resumes", "[dialog]") {
    session s;
    s.say("i need some space");
    auto r = s.say("thank you");
    CHECK(says(r, "THANKS:"));
    CHECK(s.where() == "smothered/who");
}

TEST_CASE("dialog engine: restart and goodbye leave any dialog", "[dialog]") {
    session s;
    s.say("i need some space");
    auto r = s.say("can we start over");
    CHECK(says(r, "RESTART:"));
    CHECK(s.where() == "menu/choose");
    r = s.say("bye");
    CHECK(says(r, "GOODBYE:"));
    CHECK(r.end);
    CHECK(s.state.stack.empty());
}

TEST_CASE("dialog engine: forget me deletes the state", "[dialog][privacy]") {
    session s;
    s.say("i need some space");
    s.press("partner");
    auto r = s.say("please forget me");
    CHECK(says(r, "FORGOTTEN:"));
    CHECK(s.forgot);
    CHECK(s.state.stack.empty());
    CHECK(s.state.region.empty());
}

TEST_CASE("dialog engine: a topic change mid-reflection offers to switch", "[dialog]") {
    session s;
    s.say("i need some space");
    REQUIRE(s.where() == "smothered/who");
    auto r = s.say("we are drifting apart");
    REQUIRE(r.options.size() == 2);
    CHECK(r.options[0].id == "switch");
    CHECK(s.state.pending_switch == "distant");
    SECTION("switch") {
        s.say("yes");
        CHECK(s.where() == "distant/entry");
    }
    SECTION("stay") {
        r = s.press("stay");
        CHECK(s.where() == "smothered/who");
        CHECK(says(r, "Who is this about?"));
    }
}

TEST_CASE("dialog engine: two misunderstandings lead to the menu", "[dialog]") {
    session s;
    s.say("i need some space");
    auto r = s.say("qwerty");
    CHECK(s.where() == "smothered/who");
    r = s.say("asdf");
    CHECK(s.where() == "menu/choose");
    CHECK(says(r, "MENU:"));
}

TEST_CASE("dialog engine: unmatched text when idle gets the fallback dialog", "[dialog]") {
    session s;
    s.say("hello");
    s.press("nothing");
    auto r = s.say("qwerty");
    CHECK(says(r, "FALLBACK:"));
    r = s.say("asdf");
    CHECK(says(r, "MENU:"));
}

TEST_CASE("dialog engine: a stale button is explained and the question repeated", "[dialog]") {
    session s;
    s.say("i need some space");
    s.press("partner");
    auto r = s.press("partner");
    CHECK(s.where() == "smothered/use");
    CHECK(r.texts.size() == 2);
}

TEST_CASE("dialog engine: reply variants never repeat back to back", "[dialog]") {
    session s;
    std::string last;
    for (int i = 0; i < 30; ++i) {
        auto r = s.say("hi");
        std::string hello;
        for (const auto& t : r.texts)
            if (t.rfind("HELLO", 0) == 0)
                hello = t;
        REQUIRE(!hello.empty());
        CHECK(hello != last);
        last = hello;
    }
}

TEST_CASE("dialog engine: the same input gives the same output (pure)", "[dialog]") {
    session a, b;
    for (const char* t : {"hi", "1", "a partner", "go for walks", "4", "no"}) {
        auto ra = a.say(t);
        auto rb = b.say(t);
        CHECK(ra.texts == rb.texts);
    }
    CHECK(bot::to_json(a.state) == bot::to_json(b.state));
}

TEST_CASE("dialog engine: state moves to a new dialog version through its migration", "[dialog]") {
    session s;
    s.say("i need some space");
    SECTION("mapped node") {
        s.state.stack.back().version = 1;
        s.state.stack.back().node = "old_who";
        s.press("partner");
        CHECK(s.where() == "smothered/use");
        CHECK(s.state.stack.back().version == 2);
    }
    SECTION("unmappable frame is dropped and the user told") {
        s.state.stack.back().version = 0;
        auto r = s.say("a partner");
        CHECK(r.texts.size() >= 1);
        CHECK((s.state.stack.empty() || s.state.stack.back().dialog != "smothered"));
    }
}

TEST_CASE("dialog engine: state survives a JSON round trip", "[dialog]") {
    session s;
    s.say("i need some space");
    s.press("friend");
    auto j = bot::to_json(s.state);
    auto back = bot::state_from_json(nlohmann::json::parse(j.dump()));
    CHECK(bot::to_json(back) == j);
    CHECK_THROWS(bot::state_from_json(nlohmann::json::parse(R"({"schema": 99})")));
    CHECK_THROWS(bot::state_from_json(nlohmann::json::parse(R"({"schema": 1, "stack": 3})")));
}

TEST_CASE("dialog engine: a dialog that ends on a button still answers", "[dialog]") {
    // Found by the turn fuzzer: the safety dialog's "I'm safe right now" option ends the
    // dialog with nothing to say, and the turn answered with no text at all.
    session s;
    s.say("hi");
    s.say("honestly i want to die");
    REQUIRE(s.where() == "safety/care");
    auto r = s.press("safe");
    CHECK(s.state.stack.empty());
    REQUIRE(r.texts.size() == 1);
    CHECK(r.texts[0].rfind("ENDED:", 0) == 0); // the system dialog's "ended" node
    // A turn that says something of its own does not add it.
    auto r2 = s.say("i need some space");
    for (const auto& t : r2.texts)
        CHECK(t.rfind("ENDED:", 0) != 0);
}

TEST_CASE("dialog engine: the low-priority safety net asks when nothing else understood, "
          "but never swallows an answer to a free-text question",
          "[dialog][safety]") {
    session s;
    s.say("hi");
    auto r = s.say("i am scared");
    CHECK(s.state.last_intent == "safety_soft_net");
    CHECK(s.where().rfind("safety", 0) == 0);
    session t;
    t.say("i need some space");
    t.say("a partner");
    REQUIRE(t.where() == "smothered/use");
    r = t.say("go out without feeling scared of missing his call");
    CHECK(t.where() == "smothered/room");
    CHECK(says(r, "scared of missing his call"));
    CHECK(t.state.safety_mode.empty());
}
