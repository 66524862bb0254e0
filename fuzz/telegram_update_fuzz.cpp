// The Telegram update parser (what reaches it after the webhook's secret check), and the
// rendering of an answer that quotes what was parsed.
#include "adapters/http/text_split.hpp"
#include "adapters/telegram/telegram_update.hpp"
#include "bot/normalizer.hpp"
#include "fuzz/fuzz_support.hpp"

#include <set>

using namespace tandem;
namespace tg = adapters::telegram;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const std::set<std::string> codes = {
        "invalid_json", "not_an_object", "missing_update_id", "bad_message", "bad_callback_query"};
    std::string_view body(reinterpret_cast<const char*>(data), size);
    std::string error;
    auto u = tg::parse_update(body, error);
    if (!u) {
        // Every rejection has one of the documented codes (it becomes the 400's body).
        fuzz::check(codes.count(error) == 1, "a rejection without a known error code");
        return 0;
    }
    fuzz::check(error.empty(), "an accepted update with an error code");
    // Every string that came out is valid UTF-8 (the JSON parser checked it).
    for (const auto* s :
         {&u->text, &u->chat_type, &u->language, &u->callback_id, &u->callback_data})
        fuzz::check(fuzz::valid_utf8(*s), "a parsed field is not valid UTF-8");
    switch (u->kind) {
    case tg::update_kind::text_message:
    case tg::update_kind::other_message:
        break;
    case tg::update_kind::callback:
        fuzz::check(!u->callback_id.empty(), "a callback without its id");
        break;
    case tg::update_kind::ignored:
        fuzz::check(u->text.empty() && u->callback_id.empty(), "an ignored update with content");
        break;
    }
    if (auto cmd = tg::parse_command(u->text)) {
        fuzz::check(!cmd->name.empty(), "an empty command name");
        for (char c : cmd->name)
            fuzz::check(c != ' ' && c != '\n' && c != '@' && !(c >= 'A' && c <= 'Z'),
                        "a command name with a space, '@' or upper case");
    }
    auto option = tg::option_from_callback_data(u->callback_data);
    fuzz::check(option.size() <= u->callback_data.size(), "an option id longer than its data");

    // Answers that quote the text (reflections do) stay within Telegram's limits, in valid
    // UTF-8, with and without MarkdownV2.
    bot::outbound_message reply;
    reply.texts = {"ok"};
    if (!u->text.empty())
        reply.texts.push_back(u->text);
    reply.options = {{option.empty() ? "x" : option, u->text.substr(0, 100)}};
    for (const char* mode : {"", "MarkdownV2"}) {
        auto msgs = tg::render_reply(u->chat_id, reply, {mode, 4096});
        fuzz::check(!msgs.empty(), "an answer rendered as no message");
        for (const auto& m : msgs) {
            const auto& text = m["text"].get_ref<const std::string&>();
            fuzz::check(!text.empty(), "an empty message");
            fuzz::check(fuzz::valid_utf8(text), "a rendered message is not valid UTF-8");
            auto units = adapters::http::utf16_length(text);
            fuzz::check(*mode ? units <= 2 * 4096 : units <= 4096,
                        "a rendered message over Telegram's limit");
        }
    }
    return 0;
}
