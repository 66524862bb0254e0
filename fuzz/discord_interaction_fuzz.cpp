// The Discord interaction parser: what the adapter parses once the Ed25519 signature
// checked out (the signature itself is OpenSSL's), and the rendering of an answer that
// quotes what was parsed.
#include "adapters/discord/discord_interaction.hpp"
#include "adapters/http/text_split.hpp"
#include "bot/normalizer.hpp"
#include "fuzz/fuzz_support.hpp"

#include <set>

using namespace tandem;
namespace dc = adapters::discord;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const std::set<std::string> codes = {
        "invalid_json", "not_an_object",       "missing_type",       "bad_field_type",
        "missing_user", "missing_id_or_token", "bad_application_id", "missing_data",
        "bad_command",  "bad_component",       "bad_modal"};
    std::string_view body(reinterpret_cast<const char*>(data), size);
    std::string error;
    auto ix = dc::parse_interaction(body, error);
    if (!ix) {
        fuzz::check(codes.count(error) == 1, "a rejection without a known error code");
        return 0;
    }
    fuzz::check(error.empty(), "an accepted interaction with an error code");
    for (const auto* s : {&ix->id, &ix->application_id, &ix->token, &ix->user_id, &ix->channel_id,
                          &ix->guild_id, &ix->locale, &ix->command_name, &ix->text, &ix->custom_id})
        fuzz::check(fuzz::valid_utf8(*s), "a parsed field is not valid UTF-8");
    using k = dc::interaction_kind;
    fuzz::check((ix->type == 1) == (ix->kind == k::ping), "type 1 is exactly a ping");
    if (ix->kind != k::ping) {
        // Who to answer and how: always there once parsed.
        fuzz::check(!ix->user_id.empty() && !ix->id.empty() && !ix->token.empty() &&
                        !ix->application_id.empty(),
                    "a non-ping interaction without user, id, token or application id");
        for (char c : ix->application_id)
            fuzz::check(c >= '0' && c <= '9', "an application id that is not a number");
    }
    fuzz::check((ix->type == 2) == (ix->kind == k::command), "type 2 is exactly a command");
    if (ix->kind == k::component)
        fuzz::check(!ix->custom_id.empty(), "a component without custom_id");
    if (ix->kind == k::command || ix->kind == k::component || ix->kind == k::modal_submit)
        fuzz::check(ix->type == 2 || ix->type == 3 || ix->type == 5, "kind and type disagree");

    // An answer quoting the text stays within Discord's limits.
    bot::outbound_message reply;
    reply.texts = {ix->text.empty() ? std::string("ok") : ix->text};
    reply.options = {{ix->custom_id.empty() ? "x" : ix->custom_id, ix->command_name}};
    for (bool ephemeral : {false, true}) {
        auto msgs = dc::render_reply(reply, ephemeral);
        fuzz::check(!msgs.empty(), "an answer rendered as no message");
        for (const auto& m : msgs) {
            const auto& content = m["content"].get_ref<const std::string&>();
            fuzz::check(fuzz::valid_utf8(content), "a rendered message is not valid UTF-8");
            fuzz::check(adapters::http::utf16_length(content) <= dc::max_content_units,
                        "a rendered message over 2000 units");
            if (auto comps = m.find("components"); comps != m.end()) {
                fuzz::check(comps->size() <= 5, "more than 5 rows of buttons");
                for (const auto& row : *comps) {
                    fuzz::check(row["components"].size() <= 5, "more than 5 buttons in a row");
                    for (const auto& b : row["components"])
                        fuzz::check(
                            adapters::http::utf16_length(b["custom_id"].get<std::string>()) <= 100,
                            "a custom_id over 100 characters");
                }
            }
        }
    }
    return 0;
}
