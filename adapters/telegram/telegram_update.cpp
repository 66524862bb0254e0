#include "adapters/telegram/telegram_update.hpp"

#include "adapters/http/text_split.hpp"

#include <cctype>

namespace tandem::adapters::telegram {

using nlohmann::json;

namespace {

// Integer field: absent is fine (returns fallback), present with another type is an error.
bool opt_int(const json& obj, const char* key, std::int64_t& out) {
    auto it = obj.find(key);
    if (it == obj.end())
        return true;
    if (!it->is_number_integer())
        return false;
    out = it->get<std::int64_t>();
    return true;
}

bool opt_string(const json& obj, const char* key, std::string& out) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null())
        return true;
    if (!it->is_string())
        return false;
    out = it->get<std::string>();
    return true;
}

// Whether a message speaks to a bot. Only used to decide whether to answer in a group, so
// odd shapes of these optional fields are simply "no".
bool addressed(const json& m) {
    if (auto t = m.find("text"); t != m.end() && t->is_string() &&
                                 !t->get_ref<const std::string&>().empty() &&
                                 t->get_ref<const std::string&>().front() == '/')
        return true;
    if (auto e = m.find("entities"); e != m.end() && e->is_array())
        for (const auto& ent : *e)
            if (ent.is_object() &&
                (ent.value("type", "") == "mention" || ent.value("type", "") == "text_mention"))
                return true;
    if (auto r = m.find("reply_to_message"); r != m.end() && r->is_object())
        if (auto f = r->find("from"); f != r->end() && f->is_object())
            if (auto b = f->find("is_bot"); b != f->end() && b->is_boolean() && b->get<bool>())
                return true;
    return false;
}

// Reads message.chat / message.from into u; false when their shapes are wrong.
bool read_message(const json& m, parsed_update& u) {
    if (!m.is_object())
        return false;
    auto chat = m.find("chat");
    if (chat == m.end() || !chat->is_object() || !chat->contains("id") ||
        !opt_int(*chat, "id", u.chat_id) || !opt_string(*chat, "type", u.chat_type))
        return false;
    if (!opt_int(m, "message_id", u.message_id) || !opt_int(m, "date", u.date))
        return false;
    if (auto from = m.find("from"); from != m.end()) {
        if (!from->is_object() || !opt_int(*from, "id", u.user_id) ||
            !opt_string(*from, "language_code", u.language))
            return false;
    } else {
        u.user_id = u.chat_id;
    }
    u.addressed = addressed(m);
    return true;
}

} // namespace

std::optional<parsed_update> parse_update(std::string_view body, std::string& error) {
    json j = json::parse(body.begin(), body.end(), nullptr, false);
    if (j.is_discarded()) {
        error = "invalid_json";
        return std::nullopt;
    }
    if (!j.is_object()) {
        error = "not_an_object";
        return std::nullopt;
    }
    parsed_update u;
    auto id = j.find("update_id");
    if (id == j.end() || !id->is_number_integer()) {
        error = "missing_update_id";
        return std::nullopt;
    }
    u.update_id = id->get<std::int64_t>();
    if (auto m = j.find("message"); m != j.end()) {
        if (!read_message(*m, u) || !opt_string(*m, "text", u.text)) {
            error = "bad_message";
            return std::nullopt;
        }
        u.kind = m->contains("text") ? update_kind::text_message : update_kind::other_message;
        return u;
    }
    if (auto q = j.find("callback_query"); q != j.end()) {
        if (!q->is_object()) {
            error = "bad_callback_query";
            return std::nullopt;
        }
        auto from = q->find("from");
        if (!q->contains("id") || !opt_string(*q, "id", u.callback_id) || u.callback_id.empty() ||
            from == q->end() || !from->is_object() || !from->contains("id") ||
            !opt_int(*from, "id", u.user_id) || !opt_string(*from, "language_code", u.language) ||
            !opt_string(*q, "data", u.callback_data)) {
            error = "bad_callback_query";
            return std::nullopt;
        }
        u.chat_id = u.user_id;
        u.chat_type = "private";
        // An inaccessible message (date 0) still names the chat; inline messages name none.
        if (auto m = q->find("message"); m != q->end() && m->is_object()) {
            if (auto chat = m->find("chat"); chat != m->end() && chat->is_object()) {
                if (!opt_int(*chat, "id", u.chat_id) || !opt_string(*chat, "type", u.chat_type)) {
                    error = "bad_callback_query";
                    return std::nullopt;
                }
            }
            opt_int(*m, "message_id", u.message_id);
        }
        u.kind = update_kind::callback;
        return u;
    }
    u.kind = update_kind::ignored;
    return u;
}

std::optional<bot_command> parse_command(std::string_view text) {
    if (text.empty() || text.front() != '/')
        return std::nullopt;
    std::size_t end = 1;
    while (end < text.size() && text[end] != ' ' && text[end] != '\n')
        ++end;
    std::string_view word = text.substr(1, end - 1);
    word = word.substr(0, word.find('@'));
    if (word.empty())
        return std::nullopt;
    bot_command c;
    for (char ch : word)
        c.name += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    std::string_view rest = text.substr(end);
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\n'))
        rest.remove_prefix(1);
    c.args = std::string(rest);
    return c;
}

std::optional<std::string> option_callback_data(const std::string& option_id) {
    std::string data = "o:" + option_id;
    if (option_id.empty() || data.size() > 64)
        return std::nullopt;
    return data;
}

std::string option_from_callback_data(std::string_view data) {
    if (data.substr(0, 2) == "o:")
        data.remove_prefix(2);
    return std::string(data);
}

std::string escape_markdown_v2(std::string_view text) {
    static constexpr std::string_view reserved = "_*[]()~`>#+-=|{}.!\\";
    std::string out;
    out.reserve(text.size() + text.size() / 8);
    for (char c : text) {
        if (reserved.find(c) != std::string_view::npos)
            out += '\\';
        out += c;
    }
    return out;
}

std::vector<json> render_reply(std::int64_t chat_id, const bot::outbound_message& reply,
                               const render_settings& settings) {
    json keyboard = json::array();
    bool fits = true;
    for (const auto& o : reply.options) {
        auto data = option_callback_data(o.id);
        if (!data) {
            fits = false;
            break;
        }
        keyboard.push_back(
            json::array({{{"text", http::truncate_text(o.label, 80)}, {"callback_data", *data}}}));
    }
    // One message per reply (bubbles joined), split only at the length limit, so pacing
    // never delays the rest of an answer.
    auto bubbles = reply.texts;
    if (!reply.options.empty() && !fits) {
        // The one shared fallback: options as numbered text the user can answer with.
        bubbles.push_back(bot::render_options_as_text(reply.options));
        keyboard = json::array();
    }
    auto texts = http::split_text(http::join_bubbles(bubbles), settings.max_units);
    if (texts.empty() && !keyboard.empty())
        texts.push_back(bot::render_options_as_text(reply.options));

    std::vector<json> out;
    for (std::size_t i = 0; i < texts.size(); ++i) {
        json m{{"chat_id", chat_id}};
        if (settings.parse_mode == "MarkdownV2") {
            // Limits count characters after entity parsing, so escaping after the split
            // keeps every piece within the limit.
            m["text"] = escape_markdown_v2(texts[i]);
            m["parse_mode"] = "MarkdownV2";
        } else {
            m["text"] = texts[i];
        }
        if (i + 1 == texts.size() && !keyboard.empty())
            m["reply_markup"] = {{"inline_keyboard", keyboard}};
        out.push_back(std::move(m));
    }
    return out;
}

} // namespace tandem::adapters::telegram
