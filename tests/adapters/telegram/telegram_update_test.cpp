// Parsing Telegram updates and rendering replies: pure functions over the fixtures.
#include "adapters/http/text_split.hpp"
#include "adapters/telegram/telegram_update.hpp"
#include "test_support.hpp"

#include <catch2/catch.hpp>

using namespace tandem::adapters::telegram;
using tandem::test::read_file;

namespace {
std::string fixture(const std::string& name) {
    return read_file(std::string(TANDEM_TEST_DATA) + "/telegram/" + name);
}
} // namespace

TEST_CASE("telegram_update: a private text message", "[telegram]") {
    std::string err;
    auto u = parse_update(fixture("message_text.json"), err);
    REQUIRE(u);
    CHECK(u->kind == update_kind::text_message);
    CHECK(u->update_id == 918273640);
    CHECK(u->chat_id == 521983746);
    CHECK(u->user_id == 521983746);
    CHECK(u->chat_type == "private");
    CHECK(u->language == "pt-br");
    CHECK(u->text == "We had a fight about chores again");
}

TEST_CASE("telegram_update: update kinds from the fixtures", "[telegram]") {
    std::string err;
    CHECK(parse_update(fixture("callback_query.json"), err)->kind == update_kind::callback);
    CHECK(parse_update(fixture("edited_message.json"), err)->kind == update_kind::ignored);
    CHECK(parse_update(fixture("sticker.json"), err)->kind == update_kind::other_message);
    auto group = parse_update(fixture("group_message.json"), err);
    CHECK(group->chat_type == "supergroup");
    CHECK(group->chat_id == -1001987654321LL);
    CHECK(group->addressed); // a mention
    CHECK(parse_update(fixture("start_command.json"), err)->addressed);
    CHECK_FALSE(parse_update(fixture("message_text.json"), err)->addressed);
    auto cb = parse_update(fixture("callback_query.json"), err);
    CHECK(cb->callback_id == "2241987650123456789");
    CHECK(cb->callback_data == "o:hurt");
    CHECK(cb->chat_id == 521983746);
}

TEST_CASE("telegram_update: malformed bodies are rejected with a code", "[telegram]") {
    std::string err;
    CHECK(!parse_update("not json", err));
    CHECK(err == "invalid_json");
    CHECK(!parse_update("[1,2]", err));
    CHECK(err == "not_an_object");
    CHECK(!parse_update(R"({"message":{}})", err));
    CHECK(err == "missing_update_id");
    CHECK(!parse_update(R"({"update_id":"7"})", err));
    CHECK(!parse_update(fixture("wrong_types.json"), err));
    CHECK(err == "bad_message");
    CHECK(!parse_update(R"({"update_id":1,"message":{"chat":{"id":1},"text":5}})", err));
    CHECK(!parse_update(R"({"update_id":1,"callback_query":{"id":"x","from":{"id":"1"}}})", err));
    CHECK(err == "bad_callback_query");
}

TEST_CASE("telegram_update: bot commands", "[telegram]") {
    auto c = parse_command("/start c3VwcG9ydA");
    REQUIRE(c);
    CHECK(c->name == "start");
    CHECK(c->args == "c3VwcG9ydA");
    CHECK(parse_command("/Help@tandem_bot")->name == "help");
    CHECK(!parse_command("hello /start"));
    CHECK(!parse_command("/"));
}

TEST_CASE("telegram_update: callback_data stays within 64 bytes", "[telegram]") {
    CHECK(*option_callback_data("hurt") == "o:hurt");
    CHECK(option_callback_data(std::string(62, 'a'))->size() == 64);
    CHECK(!option_callback_data(std::string(63, 'a')));
    CHECK(option_from_callback_data("o:hurt") == "hurt");
}

TEST_CASE("telegram_update: replies split at 4096 with the keyboard on the last part",
          "[telegram]") {
    tandem::bot::outbound_message m;
    m.texts = {std::string(5000, 'a'), "second bubble"};
    m.options = {{"yes", "Yes"}, {"no", "No"}};
    auto msgs = render_reply(42, m, {});
    REQUIRE(msgs.size() == 2); // the bubbles share messages; only the limit splits
    for (const auto& j : msgs) {
        CHECK(j["chat_id"] == 42);
        CHECK(tandem::adapters::http::utf16_length(j["text"].get<std::string>()) <= 4096);
        CHECK(!j.contains("parse_mode"));
    }
    CHECK(!msgs[0].contains("reply_markup"));
    CHECK(msgs[0]["text"] == std::string(4096, 'a'));
    CHECK(msgs[1]["text"] == std::string(904, 'a') + "\n\nsecond bubble");
    const auto& kb = msgs[1]["reply_markup"]["inline_keyboard"];
    REQUIRE(kb.size() == 2);
    CHECK(kb[0][0]["callback_data"] == "o:yes");
    CHECK(kb[1][0]["text"] == "No");
    for (const auto& row : kb)
        for (const auto& b : row)
            CHECK(b["callback_data"].get<std::string>().size() <= 64);
}

TEST_CASE("telegram_update: options whose ids do not fit become numbered text", "[telegram]") {
    tandem::bot::outbound_message m;
    m.texts = {"Pick one"};
    m.options = {{std::string(70, 'x'), "Long"}, {"short", "Short"}};
    auto msgs = render_reply(1, m, {});
    REQUIRE(!msgs.empty());
    for (const auto& j : msgs)
        CHECK(!j.contains("reply_markup"));
    auto last = msgs.back()["text"].get<std::string>();
    CHECK(last == "Pick one\n\n" + tandem::bot::render_options_as_text(m.options));
}

TEST_CASE("telegram_update: MarkdownV2 escaping", "[telegram]") {
    CHECK(escape_markdown_v2("Price: 5.00 (incl. VAT) - see #faq! C:\\tmp_a") ==
          "Price: 5\\.00 \\(incl\\. VAT\\) \\- see \\#faq\\! C:\\\\tmp\\_a");
    tandem::bot::outbound_message m;
    m.texts = {"Hi. (really)"};
    auto msgs = render_reply(1, m, {"MarkdownV2", 4096});
    CHECK(msgs[0]["parse_mode"] == "MarkdownV2");
    CHECK(msgs[0]["text"] == "Hi\\. \\(really\\)");
}
