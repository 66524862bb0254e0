#include "bot/linking.hpp"

#include <nlohmann/json.hpp>

#include <cctype>
#include <random>

namespace tandem::bot::linking {

namespace {

constexpr std::string_view alphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789";
constexpr std::size_t code_length = 8;

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n'))
        s.remove_suffix(1);
    return s;
}

} // namespace

command parse(std::string_view text) {
    command c;
    text = trim(text);
    if (text.empty() || text.front() != '/')
        return c;
    std::size_t end = 1;
    while (end < text.size() && std::isalpha(static_cast<unsigned char>(text[end])))
        ++end;
    std::string word(text.substr(1, end - 1));
    for (auto& ch : word)
        ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (word != "link" && word != "unlink")
        return c;
    std::string_view rest = text.substr(end);
    if (!rest.empty() && rest.front() == '@') { // "/link@tandem_bot CODE"
        auto space = rest.find_first_of(" \t");
        rest = space == std::string_view::npos ? std::string_view() : rest.substr(space);
    }
    if (!rest.empty() && rest.front() != ' ' && rest.front() != '\t')
        return c; // "/linked", "/link-me": not the command
    rest = trim(rest);
    if (word == "unlink") {
        if (rest.empty())
            c.what = command::kind::unlink;
        return c;
    }
    if (rest.empty()) {
        c.what = command::kind::issue;
        return c;
    }
    c.what = command::kind::redeem;
    std::string code;
    for (char ch : rest) {
        if (ch == '-' || ch == ' ')
            continue;
        char up = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        if (alphabet.find(up) == std::string_view::npos || code.size() == code_length)
            return c; // malformed: code stays empty
        code.push_back(up);
    }
    if (code.size() == code_length)
        c.code = std::move(code);
    return c;
}

std::string new_code() {
    static thread_local std::random_device source("/dev/urandom");
    std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
    std::string code;
    for (std::size_t i = 0; i < code_length; ++i)
        code.push_back(alphabet[pick(source)]);
    return code;
}

std::string display(const std::string& code) {
    if (code.size() != code_length)
        return code;
    return code.substr(0, 4) + "-" + code.substr(4);
}

std::string code_key(const std::string& code) {
    return "~link:" + code;
}

std::string record_json(const code_record& r) {
    return nlohmann::json{{"link_code_for", r.target}, {"expires", r.expires}}.dump();
}

std::optional<code_record> parse_record(const std::string& json) {
    auto j = nlohmann::json::parse(json, nullptr, false);
    if (!j.is_object())
        return std::nullopt;
    auto t = j.find("link_code_for");
    auto e = j.find("expires");
    if (t == j.end() || !t->is_string() || e == j.end() || !e->is_number_integer())
        return std::nullopt;
    return code_record{t->get<std::string>(), e->get<std::int64_t>()};
}

} // namespace tandem::bot::linking
