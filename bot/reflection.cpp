#include "bot/reflection.hpp"

#include "bot/normalizer.hpp"

#include <set>
#include <sstream>
#include <vector>

namespace tandem::bot {
namespace {

bool clause_start(const std::vector<std::string>& out) {
    if (out.empty())
        return true;
    static const std::set<std::string> starters = {
        "and",   "but",    "so",       "because",  "that",  "when",   "if", "or", "then", "while",
        "since", "though", "although", "whenever", "until", "unless", ",",  ";",  "-"};
    return starters.count(out.back()) > 0;
}

std::vector<std::string> split_tokens(const std::string& s) {
    // Words stay words; punctuation marks become their own tokens.
    std::vector<std::string> t;
    std::string cur;
    for (char c : s) {
        bool word = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    static_cast<unsigned char>(c) >= 0x80 || c == '\'';
        if (word) {
            cur += c;
            continue;
        }
        if (!cur.empty())
            t.push_back(std::move(cur)), cur.clear();
        if (c != ' ')
            t.emplace_back(1, c);
    }
    if (!cur.empty())
        t.push_back(std::move(cur));
    return t;
}

} // namespace

std::string trim_fragment(std::string_view text) {
    std::size_t a = 0, b = text.size();
    while (a < b && (text[a] == ' ' || text[a] == '\t' || text[a] == '\n'))
        ++a;
    while (b > a && (text[b - 1] == ' ' || text[b - 1] == '\t' || text[b - 1] == '\n' ||
                     text[b - 1] == '.' || text[b - 1] == '!' || text[b - 1] == '?' ||
                     text[b - 1] == ',' || text[b - 1] == ';'))
        --b;
    return std::string(text.substr(a, b - a));
}

std::string reflect(std::string_view text) {
    auto tokens = split_tokens(normalize(trim_fragment(text)));
    std::vector<std::string> out;
    for (std::size_t i = 0; i < tokens.size(); ++i) {
        const auto& w = tokens[i];
        const std::string next = i + 1 < tokens.size() ? tokens[i + 1] : "";
        if (w == "i") {
            if (next == "am") {
                out.push_back("you");
                out.push_back("are");
                ++i;
            } else if (next == "was") {
                out.push_back("you");
                out.push_back("were");
                ++i;
            } else {
                out.push_back("you");
            }
        } else if (w == "me") {
            out.push_back("you");
        } else if (w == "my") {
            out.push_back("your");
        } else if (w == "mine") {
            out.push_back("yours");
        } else if (w == "myself") {
            out.push_back("yourself");
        } else if (w == "you") {
            if (next == "are") {
                out.push_back("I");
                out.push_back("am");
                ++i;
            } else if (next == "were") {
                out.push_back("I");
                out.push_back("was");
                ++i;
            } else {
                out.push_back(clause_start(out) ? "I" : "me");
            }
        } else if (w == "your") {
            out.push_back("my");
        } else if (w == "yours") {
            out.push_back("mine");
        } else if (w == "yourself") {
            out.push_back("myself");
        } else {
            out.push_back(w);
        }
    }
    std::string s;
    for (const auto& w : out) {
        bool punct = w.size() == 1 && (w == "," || w == "." || w == "!" || w == "?" || w == ";" ||
                                       w == ":" || w == ")");
        if (!s.empty() && !punct)
            s += ' ';
        s += w;
    }
    return trim_fragment(s);
}

} // namespace tandem::bot
