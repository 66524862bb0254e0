#include "adapters/discord/discord_interaction.hpp"

#include "adapters/http/text_split.hpp"

namespace tandem::adapters::discord {

using nlohmann::json;

namespace {

bool opt_string(const json& obj, const char* key, std::string& out) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null())
        return true;
    if (!it->is_string())
        return false;
    out = it->get<std::string>();
    return true;
}

// Finds the text input's value in a modal submit; accepts both the Label (type 18) shape
// and the older Action Row (type 1) shape.
bool find_modal_text(const json& components, std::string& out) {
    if (!components.is_array())
        return false;
    for (const auto& c : components) {
        if (!c.is_object())
            return false;
        std::vector<const json*> inputs;
        if (auto inner = c.find("component"); inner != c.end() && inner->is_object())
            inputs.push_back(&*inner);
        if (auto list = c.find("components"); list != c.end() && list->is_array())
            for (const auto& x : *list)
                inputs.push_back(&x);
        for (const json* in : inputs) {
            if (!in->is_object())
                return false;
            std::string id, value;
            if (!opt_string(*in, "custom_id", id) || !opt_string(*in, "value", value))
                return false;
            if (id == answer_input_id) {
                out = value;
                return true;
            }
        }
    }
    return true; // no text input: empty text
}

} // namespace

std::optional<interaction> parse_interaction(std::string_view body, std::string& error) {
    json j = json::parse(body.begin(), body.end(), nullptr, false);
    if (j.is_discarded()) {
        error = "invalid_json";
        return std::nullopt;
    }
    if (!j.is_object()) {
        error = "not_an_object";
        return std::nullopt;
    }
    interaction ix;
    auto type = j.find("type");
    if (type == j.end() || !type->is_number_integer()) {
        error = "missing_type";
        return std::nullopt;
    }
    ix.type = type->get<int>();
    if (!opt_string(j, "id", ix.id) || !opt_string(j, "application_id", ix.application_id) ||
        !opt_string(j, "token", ix.token) || !opt_string(j, "channel_id", ix.channel_id) ||
        !opt_string(j, "guild_id", ix.guild_id) || !opt_string(j, "locale", ix.locale)) {
        error = "bad_field_type";
        return std::nullopt;
    }
    if (ix.type == 1) {
        ix.kind = interaction_kind::ping;
        return ix;
    }
    // The user: member.user in guilds, user in DMs.
    const json* user = nullptr;
    if (auto m = j.find("member"); m != j.end() && m->is_object())
        if (auto u = m->find("user"); u != m->end())
            user = &*u;
    if (!user)
        if (auto u = j.find("user"); u != j.end())
            user = &*u;
    if (!user || !user->is_object() || !opt_string(*user, "id", ix.user_id) || ix.user_id.empty()) {
        error = "missing_user";
        return std::nullopt;
    }
    if (ix.id.empty() || ix.token.empty() || ix.application_id.empty()) {
        error = "missing_id_or_token";
        return std::nullopt;
    }
    for (char c : ix.application_id)
        if (c < '0' || c > '9') {
            error = "bad_application_id";
            return std::nullopt;
        }
    auto data = j.find("data");
    if (ix.type == 2 || ix.type == 3 || ix.type == 5) {
        if (data == j.end() || !data->is_object()) {
            error = "missing_data";
            return std::nullopt;
        }
    }
    switch (ix.type) {
    case 2: {
        ix.kind = interaction_kind::command;
        if (!opt_string(*data, "name", ix.command_name)) {
            error = "bad_command";
            return std::nullopt;
        }
        if (auto opts = data->find("options"); opts != data->end()) {
            if (!opts->is_array()) {
                error = "bad_command";
                return std::nullopt;
            }
            for (const auto& o : *opts) {
                std::string name;
                if (!o.is_object() || !opt_string(o, "name", name)) {
                    error = "bad_command";
                    return std::nullopt;
                }
                // "text" of the main command; "code" of /link (sent on as "/link CODE").
                if ((name == "text" || name == "code") && !opt_string(o, "value", ix.text)) {
                    error = "bad_command";
                    return std::nullopt;
                }
            }
        }
        return ix;
    }
    case 3:
        ix.kind = interaction_kind::component;
        if (!opt_string(*data, "custom_id", ix.custom_id) || ix.custom_id.empty()) {
            error = "bad_component";
            return std::nullopt;
        }
        return ix;
    case 5: {
        ix.kind = interaction_kind::modal_submit;
        if (!opt_string(*data, "custom_id", ix.custom_id)) {
            error = "bad_modal";
            return std::nullopt;
        }
        auto comps = data->find("components");
        if (comps != data->end() && !find_modal_text(*comps, ix.text)) {
            error = "bad_modal";
            return std::nullopt;
        }
        return ix;
    }
    default:
        ix.kind = interaction_kind::other;
        return ix;
    }
}

std::optional<std::string> option_custom_id(const std::string& option_id) {
    std::string id = "o:" + option_id;
    if (option_id.empty() || http::utf16_length(id) > 100)
        return std::nullopt;
    return id;
}

json text_message(std::string content, bool ephemeral) {
    json m = json::object();
    m["content"] = std::move(content);
    m["allowed_mentions"] = {{"parse", json::array()}};
    if (ephemeral)
        m["flags"] = 64;
    return m;
}

std::vector<json> render_reply(const bot::outbound_message& reply, bool ephemeral) {
    // 5 rows of 5; one slot stays free for "Type an answer".
    constexpr std::size_t max_buttons = 25;
    std::vector<json> buttons;
    bool fits = reply.options.size() + (reply.end ? 0 : 1) <= max_buttons;
    for (std::size_t i = 0; fits && i < reply.options.size(); ++i) {
        const auto& o = reply.options[i];
        auto id = option_custom_id(o.id);
        if (!id) {
            fits = false;
            break;
        }
        json b = json::object();
        b["type"] = 2;
        b["style"] = i == 0 ? 1 : 2;
        b["label"] = http::truncate_text(o.label.empty() ? o.id : o.label, 80);
        b["custom_id"] = *id;
        buttons.push_back(std::move(b));
    }
    // One message per reply (bubbles joined), split only at the length limit.
    auto bubbles = reply.texts;
    if (!fits) {
        buttons.clear();
        bubbles.push_back(bot::render_options_as_text(reply.options));
    }
    auto texts = http::split_text(http::join_bubbles(bubbles), max_content_units);
    if (!reply.end) {
        json b = json::object();
        b["type"] = 2;
        b["style"] = 2;
        b["label"] = "Type an answer";
        b["custom_id"] = std::string(answer_button_id);
        buttons.push_back(std::move(b));
    }
    if (texts.empty())
        texts.push_back(reply.options.empty() ? "\xE2\x80\xA6"
                                              : bot::render_options_as_text(reply.options));
    json rows = json::array();
    for (std::size_t i = 0; i < buttons.size(); i += 5) {
        json row = json::object();
        row["type"] = 1;
        row["components"] = json::array();
        for (std::size_t k = i; k < std::min(i + 5, buttons.size()); ++k)
            row["components"].push_back(buttons[k]);
        rows.push_back(std::move(row));
    }
    std::vector<json> out;
    for (std::size_t i = 0; i < texts.size(); ++i) {
        json m = text_message(texts[i], ephemeral);
        if (i + 1 == texts.size() && !rows.empty())
            m["components"] = rows;
        out.push_back(std::move(m));
    }
    return out;
}

json answer_modal() {
    json input = json::object();
    input["type"] = 4;
    input["custom_id"] = std::string(answer_input_id);
    input["style"] = 2;
    input["min_length"] = 1;
    input["max_length"] = 1500;
    input["required"] = true;
    json label = json::object();
    label["type"] = 18;
    label["label"] = "Your answer";
    label["component"] = std::move(input);
    json data = json::object();
    data["custom_id"] = std::string(answer_modal_id);
    data["title"] = "Your answer";
    data["components"] = json::array({std::move(label)});
    json res = json::object();
    res["type"] = 9;
    res["data"] = std::move(data);
    return res;
}

const std::vector<bot::channel_command>& core_commands() {
    return bot::channel_commands();
}

json command_definitions(const std::string& command_name) {
    json text = json::object();
    text["name"] = "text";
    text["description"] = "What is on your mind (optional)";
    text["type"] = 3;
    text["required"] = false;
    text["max_length"] = 1500;
    json defs = json::array();
    auto command = [](const std::string& name, const std::string& description) {
        json c = json::object();
        c["name"] = name;
        c["type"] = 1;
        c["description"] = description;
        c["contexts"] = json::array({0, 1, 2});       // servers, the bot's DMs, group DMs
        c["integration_types"] = json::array({0, 1}); // installed to a server or a user
        return c;
    };
    auto main = command(command_name, "Reflect on a close relationship, privately");
    main["options"] = json::array({text});
    defs.push_back(std::move(main));
    for (const auto& c : core_commands()) {
        auto def = command(c.name, c.description);
        if (c.option) {
            json o = json::object();
            o["name"] = c.option;
            o["description"] = c.option_description;
            o["type"] = 3;
            o["required"] = false;
            o["max_length"] = 32;
            def["options"] = json::array({std::move(o)});
        }
        defs.push_back(std::move(def));
    }
    return defs;
}

} // namespace tandem::adapters::discord
