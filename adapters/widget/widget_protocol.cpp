#include "adapters/widget/widget_protocol.hpp"

#include <cctype>
#include <limits>

namespace tandem::adapters::widget {

namespace {

bool id_chars(std::string_view s, std::size_t max) {
    if (s.empty() || s.size() > max)
        return false;
    for (char c : s)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.' &&
            c != ':')
            return false;
    return true;
}

// Counts code points; false when s is not valid UTF-8.
bool utf8_length(std::string_view s, std::size_t& out) {
    out = 0;
    for (std::size_t i = 0; i < s.size();) {
        auto c = static_cast<unsigned char>(s[i]);
        std::size_t n = c < 0x80           ? 1
                        : (c >> 5) == 0x6  ? 2
                        : (c >> 4) == 0xE  ? 3
                        : (c >> 3) == 0x1E ? 4
                                           : 0;
        if (n == 0 || i + n > s.size())
            return false;
        std::uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
        for (std::size_t k = 1; k < n; ++k) {
            auto cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (cc & 0x3F);
        }
        if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        // Control characters other than tab and newline have no place in a chat message.
        if (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r')
            return false;
        i += n;
        ++out;
    }
    return true;
}

std::string trim(const std::string& s) {
    auto b = s.find_first_not_of(" \t\r\n");
    if (b == std::string::npos)
        return {};
    auto e = s.find_last_not_of(" \t\r\n");
    return s.substr(b, e - b + 1);
}

frame_error bad(std::string code, std::string message) {
    return {std::move(code), std::move(message)};
}

} // namespace

bool plausible_session_id(std::string_view s) {
    if (s.size() != 32)
        return false;
    for (char c : s)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_')
            return false;
    return true;
}

std::variant<client_frame, frame_error> parse_client_frame(std::string_view raw,
                                                           const frame_limits& limits) {
    if (raw.size() > limits.max_frame_bytes)
        return bad("too_large",
                   "frame larger than " + std::to_string(limits.max_frame_bytes) + " bytes");
    nlohmann::json j = nlohmann::json::parse(raw, nullptr, false);
    if (j.is_discarded())
        return bad("bad_json", "frame is not valid JSON");
    if (!j.is_object())
        return bad("bad_frame", "frame must be a JSON object");
    auto type = j.find("type");
    if (type == j.end() || !type->is_string())
        return bad("bad_frame", "\"type\" must be a string");
    client_frame f;
    const auto& t = type->get_ref<const std::string&>();
    if (t == "start")
        f.type = frame_type::start;
    else if (t == "resume")
        f.type = frame_type::resume;
    else if (t == "message")
        f.type = frame_type::message;
    else if (t == "forget")
        f.type = frame_type::forget;
    else if (t == "poll")
        f.type = frame_type::poll;
    else if (t == "ping")
        f.type = frame_type::ping;
    else
        return bad("unknown_type", "unknown frame type");

    if (auto it = j.find("session_id"); it != j.end() && !it->is_null()) {
        if (!it->is_string())
            return bad("bad_frame", "\"session_id\" must be a string");
        f.session_id = it->get<std::string>();
        if (!plausible_session_id(f.session_id))
            return bad("unknown_session", "no such session");
    }
    if ((f.type == frame_type::resume || f.type == frame_type::poll) && f.session_id.empty())
        return bad("bad_frame", "\"session_id\" is required");
    {
        auto it = j.find("last_seq");
        if (it != j.end() && !it->is_null()) {
            // nlohmann parses every non-negative integer as unsigned.
            if (!it->is_number_unsigned())
                return bad("bad_frame", "\"last_seq\" must be a non-negative integer");
            f.last_seq = it->get<std::uint64_t>();
            if (f.last_seq > (std::uint64_t{1} << 53))
                return bad("bad_frame", "\"last_seq\" is too large");
        }
    }
    if (f.type == frame_type::start) {
        if (auto it = j.find("language"); it != j.end() && !it->is_null()) {
            if (!it->is_string() || !id_chars(it->get_ref<const std::string&>(), 35))
                return bad("bad_frame", "\"language\" must be a language tag such as \"en\"");
            f.language = it->get<std::string>();
        }
    }
    if (f.type == frame_type::message) {
        auto id = j.find("client_msg_id");
        if (id == j.end() || !id->is_string() || !id_chars(id->get_ref<const std::string&>(), 64))
            return bad("bad_frame",
                       "\"client_msg_id\" must be 1-64 characters of A-Z a-z 0-9 - _ . :");
        f.client_msg_id = id->get<std::string>();
        auto text = j.find("text");
        auto option = j.find("option_id");
        bool has_text = text != j.end() && !text->is_null();
        bool has_option = option != j.end() && !option->is_null();
        if (has_text == has_option)
            return bad("bad_frame", "a message has either \"text\" or \"option_id\"");
        if (has_option) {
            if (!option->is_string() || !id_chars(option->get_ref<const std::string&>(), 64))
                return bad("bad_frame", "\"option_id\" must be a short id");
            f.option_id = option->get<std::string>();
        } else {
            if (!text->is_string())
                return bad("bad_frame", "\"text\" must be a string");
            std::size_t chars = 0;
            if (!utf8_length(text->get_ref<const std::string&>(), chars))
                return bad("bad_frame", "\"text\" must be plain UTF-8 text");
            if (chars > limits.max_text_chars)
                return bad("too_long", "text longer than " + std::to_string(limits.max_text_chars) +
                                           " characters");
            f.text = trim(text->get<std::string>());
            if (f.text.empty())
                return bad("bad_frame", "\"text\" is empty");
        }
    }
    return f;
}

nlohmann::json error_frame(std::string_view code, std::string_view message,
                           std::string_view client_msg_id) {
    nlohmann::json j = {{"type", "error"}, {"code", code}, {"message", message}};
    if (!client_msg_id.empty())
        j["client_msg_id"] = client_msg_id;
    return j;
}

} // namespace tandem::adapters::widget
