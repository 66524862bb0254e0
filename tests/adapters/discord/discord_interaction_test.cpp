// Parsing interactions and rendering replies: pure functions over the fixtures.
#include "adapters/discord/discord_interaction.hpp"
#include "adapters/http/text_split.hpp"
#include "test_support.hpp"

#include <catch2/catch.hpp>

#include <set>

using namespace tandem::adapters::discord;
using nlohmann::json;

namespace {
std::string fixture(const std::string& name) {
    return tandem::test::read_file(std::string(TANDEM_TEST_DATA) + "/discord/" + name);
}
} // namespace

TEST_CASE("discord_interaction: slash command in a guild and in a DM", "[discord]") {
    std::string err;
    auto g = parse_interaction(fixture("slash_reflect_guild.json"), err);
    REQUIRE(g);
    CHECK(g->kind == interaction_kind::command);
    CHECK(g->command_name == "reflect");
    CHECK(g->text == "We keep arguing about money");
    CHECK(g->user_id == "1160000000000000042"); // member.user
    CHECK(g->application_id == "1180000000000000000");
    CHECK(g->guild_id == "1170000000000000000");
    auto d = parse_interaction(fixture("slash_reflect_dm.json"), err);
    REQUIRE(d);
    CHECK(d->user_id == "1160000000000000042"); // user
    CHECK(d->text.empty());
}

TEST_CASE("discord_interaction: ping, button, modal (both shapes)", "[discord]") {
    std::string err;
    CHECK(parse_interaction(fixture("ping.json"), err)->kind == interaction_kind::ping);
    auto b = parse_interaction(fixture("button_click.json"), err);
    CHECK(b->kind == interaction_kind::component);
    CHECK(b->custom_id == "o:talk");
    auto m = parse_interaction(fixture("modal_submit.json"), err);
    CHECK(m->kind == interaction_kind::modal_submit);
    CHECK(m->custom_id == "m:answer");
    CHECK(m->text == "I felt unheard when plans changed");
    CHECK(parse_interaction(fixture("modal_submit_action_row.json"), err)->text == "older shape");
}

TEST_CASE("discord_interaction: malformed bodies are rejected with a code", "[discord]") {
    std::string err;
    CHECK(!parse_interaction("nope", err));
    CHECK(err == "invalid_json");
    CHECK(!parse_interaction("[]", err));
    CHECK(!parse_interaction(R"({"type":"1"})", err));
    CHECK(err == "missing_type");
    CHECK(!parse_interaction(R"({"type":2,"id":"1","token":"t","application_id":"1"})", err));
    CHECK(err == "missing_user");
    auto j = json::parse(fixture("slash_reflect_dm.json"));
    j["data"]["options"] = json::array({{{"name", "text"}, {"value", 5}}});
    CHECK(!parse_interaction(j.dump(), err));
    j = json::parse(fixture("slash_reflect_dm.json"));
    j["application_id"] = "../../evil";
    CHECK(!parse_interaction(j.dump(), err));
    CHECK(err == "bad_application_id");
}

TEST_CASE("discord_interaction: replies split at 2000, ephemeral, buttons on the last part",
          "[discord]") {
    tandem::bot::outbound_message m;
    m.texts = {std::string(1500, 'a') + "\n" + std::string(1500, 'b')};
    m.options = {{"talk", "Talk it through"}, {"pause", "Take a pause"}};
    auto msgs = render_reply(m, true);
    REQUIRE(msgs.size() == 2);
    for (const auto& j : msgs) {
        CHECK(j["flags"] == 64);
        CHECK(j["allowed_mentions"]["parse"].empty());
        CHECK(tandem::adapters::http::utf16_length(j["content"].get<std::string>()) <= 2000);
    }
    CHECK(!msgs[0].contains("components"));
    auto rows = msgs[1]["components"];
    REQUIRE(rows.size() == 1);
    auto buttons = rows[0]["components"];
    REQUIRE(buttons.size() == 3);
    CHECK(buttons[0]["custom_id"] == "o:talk");
    CHECK(buttons[0]["style"] == 1);
    CHECK(buttons[2]["custom_id"] == "t:answer");
    CHECK(!render_reply(m, false)[0].contains("flags"));
}

TEST_CASE("discord_interaction: at most 5 buttons per row and 5 rows", "[discord]") {
    tandem::bot::outbound_message m;
    m.texts = {"Pick"};
    for (int i = 0; i < 24; ++i)
        m.options.push_back({"opt" + std::to_string(i), "Option " + std::to_string(i)});
    auto rows = render_reply(m, true).back()["components"];
    REQUIRE(rows.size() == 5);
    std::size_t total = 0;
    for (const auto& r : rows) {
        CHECK(r["type"] == 1);
        CHECK(r["components"].size() <= 5);
        total += r["components"].size();
        for (const auto& b : r["components"]) {
            CHECK(b["custom_id"].get<std::string>().size() <= 100);
            CHECK(tandem::adapters::http::utf16_length(b["label"].get<std::string>()) <= 80);
        }
    }
    CHECK(total == 25);

    m.options.push_back({"opt24", "One too many"});
    auto fallback = render_reply(m, true);
    auto last = fallback.back();
    REQUIRE(last["components"].size() == 1);
    CHECK(last["components"][0]["components"][0]["custom_id"] == "t:answer");
    CHECK(last["content"] == "Pick\n\n" + tandem::bot::render_options_as_text(m.options));
}

TEST_CASE("discord_interaction: custom_id stays within 100 characters", "[discord]") {
    CHECK(*option_custom_id("talk") == "o:talk");
    CHECK(option_custom_id(std::string(98, 'x'))->size() == 100);
    CHECK(!option_custom_id(std::string(99, 'x')));
    tandem::bot::outbound_message m;
    m.texts = {"Pick"};
    m.options = {{std::string(120, 'x'), "Long id"}};
    auto last = render_reply(m, true).back();
    CHECK(last["components"][0]["components"].size() == 1); // only "Type an answer"
}

TEST_CASE("discord_interaction: the free-text modal and the command definitions", "[discord]") {
    auto modal = answer_modal();
    CHECK(modal["type"] == 9);
    CHECK(modal["data"]["custom_id"] == "m:answer");
    CHECK(modal["data"]["title"].get<std::string>().size() <= 45);
    CHECK(modal["data"]["components"][0]["component"]["custom_id"] == "text");
    auto defs = command_definitions("reflect");
    REQUIRE(defs.is_array());
    CHECK(defs[0]["name"] == "reflect");
    CHECK(defs[0]["options"][0]["name"] == "text");
    CHECK(defs[0]["options"][0]["type"] == 3);
    std::set<std::string> names;
    for (const auto& d : defs) {
        auto name = d["name"].get<std::string>();
        names.insert(name);
        CHECK(name.size() <= 32);
        CHECK(d["description"].get<std::string>().size() <= 100);
        CHECK(d["type"] == 1);
    }
    CHECK(names == std::set<std::string>{"reflect", "help", "menu", "restart", "forget", "why",
                                         "export", "link", "unlink"});
    for (const auto& d : defs)
        if (d["name"] == "link") {
            CHECK(d["options"][0]["name"] == "code");
            CHECK(d["options"][0]["required"] == false);
            CHECK(d["options"][0]["description"].get<std::string>().size() <= 100);
        }
}
