// One conversation on several channels (/link, /unlink; bot/linking.hpp): a code from one
// chat lets another chat continue the same conversation, "forget me" from either deletes
// both, and a code works once, for ten minutes, for nobody who merely guesses.
#include "../support/test_support.hpp"
#include "../support/threads.hpp"

#include "bot/conversation_state.hpp"
#include "bot/conversation_store.hpp"
#include "bot/linking.hpp"
#include "bot/turn_processor.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <regex>
#include <set>

using namespace tandem;

namespace {

struct memory_backend {
    std::shared_ptr<bot::conversation_store> store = bot::make_memory_store();
};

struct sqlite_backend {
    test::temp_dir dir;
    std::shared_ptr<bot::conversation_store> store =
        bot::make_sqlite_store((dir.path() / "tandem.sqlite").string());
};

struct chat {
    bot::turn_processor& p;
    std::string channel, id;
    std::int64_t& now;
    int next_id = 1;
    bot::turn_result say(const std::string& text) { return send(text, ""); }
    bot::turn_result press(const std::string& option) { return send("", option); }
    bot::turn_result send(const std::string& text, const std::string& option) {
        bot::inbound_message m;
        m.channel = channel;
        m.conversation_id = id;
        m.text = text;
        m.option_id = option;
        m.platform_message_id = std::to_string(next_id++);
        now += 5;
        return p.run(m, now);
    }
};

// A turn processor on the shipped content over one store, and a clock its chats share.
template <class Backend> struct world {
    Backend backend;
    bot::config cfg;
    bot::turn_processor p{test::load_ok(test::shipped_paths()), backend.store, cfg.conversation};
    std::int64_t now = 1'700'000'000;
    chat open(const std::string& channel, const std::string& id) {
        return chat{p, channel, id, now};
    }
};

std::string joined(const bot::turn_result& r) {
    std::string s;
    for (const auto& t : r.reply.texts)
        s += t + "\n";
    return s;
}

// The "ABCD-EFGH" code in a /link reply.
std::string code_in(const bot::turn_result& r) {
    std::smatch m;
    std::string text = joined(r);
    REQUIRE(std::regex_search(text, m, std::regex("[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4}")));
    return m.str();
}

std::optional<bot::conversation_state> stored(bot::conversation_store& s, const std::string& k) {
    auto v = s.load(k);
    if (!v)
        return std::nullopt;
    return bot::state_from_json(nlohmann::json::parse(*v));
}

bot::conversation_state must_load(bot::conversation_store& s, const std::string& k) {
    auto st = stored(s, k);
    REQUIRE(st.has_value());
    return *st;
}

// The key a chat's record points to ("" when it has none, or no record).
std::string linked_to(bot::conversation_store& s, const std::string& k) {
    auto st = stored(s, k);
    return st ? st->linked_to : std::string();
}

} // namespace

TEST_CASE("linking: the command is read in its forms and nothing else is", "[linking]") {
    using kind = bot::linking::command::kind;
    CHECK(bot::linking::parse("/link").what == kind::issue);
    CHECK(bot::linking::parse("  /LINK  ").what == kind::issue);
    CHECK(bot::linking::parse("/link@tandem_bot").what == kind::issue);
    CHECK(bot::linking::parse("/unlink").what == kind::unlink);
    auto r = bot::linking::parse("/link abcd-efgh");
    CHECK(r.what == kind::redeem);
    CHECK(r.code == "ABCDEFGH");
    CHECK(bot::linking::parse("/link@tandem_bot AB CD EF GH").code == "ABCDEFGH");
    // Malformed codes are still a redeem (answered "that code doesn't work"), with no code.
    for (const char* bad :
         {"/link ABCD-EFG", "/link ABCD-EFGHJ", "/link ABCD-EF0H", "/link ABCD-EFGH; DROP TABLE",
          "/link \xC3\xA9\xC3\xA9\xC3\xA9", "/link ABCD-EFG\xE2\x80\x8B"}) {
        INFO(bad);
        auto b = bot::linking::parse(bad);
        CHECK(b.what == kind::redeem);
        CHECK(b.code.empty());
    }
    for (const char* other : {"link", "/linked", "/link-me", "please /link", "/unlink now", ""})
        CHECK(bot::linking::parse(other).what == kind::none);
}

TEST_CASE("linking: codes are 8 characters without look-alikes, and do not repeat", "[linking]") {
    std::set<std::string> seen;
    for (int i = 0; i < 2000; ++i) {
        auto c = bot::linking::new_code();
        REQUIRE(c.size() == 8);
        CHECK(c.find_first_of("01OIL") == std::string::npos);
        CHECK(bot::linking::parse("/link " + bot::linking::display(c)).code == c);
        seen.insert(c);
    }
    CHECK(seen.size() == 2000);
    CHECK_FALSE(bot::linking::parse_record("not json"));
    CHECK_FALSE(bot::linking::parse_record(R"({"link_code_for": 5, "expires": 1})"));
    auto rec = bot::linking::parse_record(bot::linking::record_json({"widget:a", 77}));
    REQUIRE(rec);
    CHECK(rec->target == "widget:a");
    CHECK(rec->expires == 77);
}

TEMPLATE_TEST_CASE("linking: a conversation started in the widget goes on in Telegram, and "
                   "forget from there deletes both",
                   "[linking]", memory_backend, sqlite_backend) {
    world<TestType> w;
    auto& backend = w.backend;
    auto web = w.open("widget", "w1");
    auto tg = w.open("telegram", "42");

    auto first = web.say("i feel smothered, i never get any time to myself");
    REQUIRE(first.dialog == "feeling_smothered");
    REQUIRE_FALSE(first.reply.options.empty());
    tg.say("hello"); // Telegram had a conversation of its own: linking replaces it

    auto code = code_in(web.say("/link"));
    auto done = tg.say("/link " + code);
    CHECK(done.intent == "command_link");
    CHECK(joined(done).find("Linked") != std::string::npos);
    CHECK(done.dialog == first.dialog);
    CHECK(done.node == first.node);

    // Telegram answers the widget's question: the one conversation moves on.
    auto next = tg.press(first.reply.options.front().id);
    CHECK_FALSE(next.error);
    CHECK(next.dialog == "feeling_smothered");
    auto both = stored(*backend.store, "widget:w1");
    REQUIRE(both);
    REQUIRE_FALSE(both->stack.empty());
    CHECK(both->stack.back().node == next.node);
    CHECK(both->linked == std::vector<std::string>{"telegram:42"});
    CHECK(linked_to(*backend.store, "telegram:42") == "widget:w1");
    // The same platform message id on both channels is two messages, not a repeat.
    CHECK_FALSE(web.say("it's like i can't breathe at home").replayed);
    CHECK_FALSE(tg.say("it's like i can't breathe at home").replayed);

    // "forget me" from the joined chat deletes the conversation, the link and the code.
    auto gone = tg.say("/forget");
    CHECK(gone.forgotten);
    CHECK_FALSE(backend.store->load("widget:w1"));
    CHECK_FALSE(backend.store->load("telegram:42"));
    CHECK(backend.store->size() == 0);
    // Both chats start fresh.
    CHECK(web.say("hi").dialog != "feeling_smothered");
}

TEMPLATE_TEST_CASE("linking: a code works once, for ten minutes, and never for a guess",
                   "[linking]", memory_backend, sqlite_backend) {
    world<TestType> w;
    auto& backend = w.backend;
    auto& now = w.now;
    auto console = w.open("console", "local");
    auto a = w.open("discord", "a");
    auto b = w.open("telegram", "b");

    console.say("we keep having the same fight about money");
    auto code = code_in(console.say("/link"));
    // Its own code in its own chat.
    CHECK(joined(console.say("/link " + code)).find("same conversation") != std::string::npos);
    // A guess, a malformed code: the same answer as a spent one.
    auto guess = a.say("/link ABCD-EFGH");
    auto malformed = a.say("/link 12");
    CHECK(joined(guess) == joined(malformed));
    CHECK(joined(a.say("/link " + code)).find("Linked") != std::string::npos);
    // Spent: the second chat cannot use it.
    CHECK(joined(b.say("/link " + code)) == joined(guess));
    CHECK(linked_to(*backend.store, "telegram:b").empty());

    // A new code lasts ten minutes; the one before it stops working.
    auto old_code = code_in(console.say("/link"));
    auto new_code = code_in(console.say("/link"));
    CHECK(old_code != new_code);
    CHECK(joined(b.say("/link " + old_code)) == joined(guess));
    now += bot::linking::code_life_seconds + 1;
    CHECK(joined(b.say("/link " + new_code)) == joined(guess));
    // A chat that is linked must unlink before it joins another.
    auto fresh = code_in(b.say("/link"));
    CHECK(joined(a.say("/link " + fresh)).find("/unlink") != std::string::npos);
}

TEMPLATE_TEST_CASE("linking: /unlink separates a chat, or every chat from the conversation",
                   "[linking]", memory_backend, sqlite_backend) {
    world<TestType> w;
    auto& backend = w.backend;
    auto home = w.open("widget", "home");
    auto x = w.open("telegram", "x");
    auto y = w.open("discord", "y");

    CHECK(joined(x.say("/unlink")).find("isn't linked") != std::string::npos);
    home.say("i want to apologise to my sister");
    x.say("/link " + code_in(home.say("/link")));
    y.say("/link " + code_in(home.say("/link")));
    CHECK(must_load(*backend.store, "widget:home").linked.size() == 2);

    // One chat leaves: it starts fresh, the other stays linked.
    CHECK(joined(x.say("/unlink")).find("on its own") != std::string::npos);
    CHECK_FALSE(backend.store->load("telegram:x"));
    CHECK(must_load(*backend.store, "widget:home").linked == std::vector<std::string>{"discord:y"});
    x.say("hello");
    CHECK(linked_to(*backend.store, "telegram:x").empty());

    // The conversation's own chat unlinks everyone.
    CHECK(joined(home.say("/unlink")).find("unlinked") != std::string::npos);
    CHECK_FALSE(backend.store->load("discord:y"));
    CHECK(must_load(*backend.store, "widget:home").linked.empty());

    // Forget deletes only chats still linked: x left and has its own conversation now.
    y.say("/link " + code_in(home.say("/link")));
    home.say("/forget");
    CHECK(backend.store->load("telegram:x"));
    CHECK_FALSE(backend.store->load("discord:y"));
    CHECK_FALSE(backend.store->load("widget:home"));
}

TEST_CASE("linking: a chat whose conversation was forgotten elsewhere starts fresh", "[linking]") {
    world<memory_backend> w;
    auto& store = w.backend.store;
    auto& p = w.p;
    auto a = w.open("widget", "a");
    auto b = w.open("telegram", "b");
    a.say("i feel so distant from my husband");
    b.say("/link " + code_in(a.say("/link")));
    // The conversation expires (or is deleted by another process) under the link.
    REQUIRE(store->erase("widget:a"));
    auto r = b.say("hello");
    CHECK_FALSE(r.error);
    CHECK(linked_to(*store, "telegram:b").empty());
    // forget() from the platform side (e.g. the user blocked the bot) follows the link too.
    a.say("hello again");
    b.say("/link " + code_in(a.say("/link")));
    CHECK(p.forget("telegram", "b"));
    CHECK(store->size() == 0);
}

TEMPLATE_TEST_CASE("linking: two chats sending one code at once: exactly one joins",
                   "[linking][concurrency]", memory_backend, sqlite_backend) {
    world<TestType> w;
    auto& backend = w.backend;
    auto& p = w.p;
    auto& now = w.now;
    auto home = w.open("widget", "home");
    home.say("hello");
    for (int round = 0; round < 20; ++round) {
        auto code = code_in(home.say("/link"));
        std::atomic<int> linked{0};
        test::on_threads(4, [&](int t) {
            bot::inbound_message m;
            m.channel = "telegram";
            m.conversation_id = "r" + std::to_string(round) + "t" + std::to_string(t);
            m.text = "/link " + code;
            auto r = p.run(m, now + 10);
            if (!r.error && joined(r).find("Linked") != std::string::npos)
                ++linked;
        });
        CHECK(linked == 1);
    }
    CHECK(must_load(*backend.store, "widget:home").linked.size() == 20);
}

TEST_CASE("linking: guessing codes is rate-limited like any message", "[linking]") {
    auto content = test::load_ok(test::shipped_paths());
    auto store = bot::make_memory_store();
    bot::config cfg;
    cfg.conversation.rate_per_minute = 6;
    cfg.conversation.rate_burst = 3;
    bot::turn_processor p(content, store, cfg.conversation);
    int limited = 0;
    for (int i = 0; i < 10; ++i) {
        bot::inbound_message m;
        m.channel = "telegram";
        m.conversation_id = "guesser";
        m.text = "/link " + bot::linking::display(bot::linking::new_code());
        if (p.run(m, 1'700'000'000).rate_limited)
            ++limited;
    }
    CHECK(limited == 7); // a burst of 3, then nothing until the bucket refills
}
