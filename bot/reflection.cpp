#include "bot/reflection.hpp"

#include "bot/normalizer.hpp"

#include <map>
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

// Said back, "um, well, sorry, i yelled at her" reads as a stutter: the fillers and
// discourse markers a message opens with are left out ("you yelled at her"). Hesitations go
// with or without a comma; words that also carry meaning ("sorry", "so", "well", "no") only
// when a comma marks them as an aside. Never everything: a message of fillers stays.
std::size_t skip_fillers(const std::vector<std::string>& t) {
    static const std::set<std::string> hesitations = {"um", "umm", "uh", "uhh", "erm",
                                                      "er", "hmm", "hm", "ah",  "ugh"};
    static const std::set<std::string> asides = {
        "well", "so", "ok", "okay", "honestly", "basically", "like", "sorry", "yeah",
        "yes",  "no", "oh", "lol",  "anyway",   "ngl",       "tbh",  "look",  "right"};
    std::size_t i = 0;
    while (i < t.size()) {
        bool comma = i + 1 < t.size() && t[i + 1] == ",";
        if (hesitations.count(t[i]))
            i += comma ? 2 : 1;
        else if (comma && asides.count(t[i]))
            i += 2;
        else
            break;
    }
    return i < t.size() ? i : 0;
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

namespace {

std::string join_tokens(const std::vector<std::string>& out) {
    std::string s;
    for (const auto& w : out) {
        bool punct = w.size() == 1 && (w == "," || w == "." || w == "!" || w == "?" || w == ";" ||
                                       w == ":" || w == ")");
        if (!s.empty() && !punct)
            s += ' ';
        s += w;
    }
    return s;
}

// After a third person turned into "you", the verb follows: was -> were, has -> have,
// feels -> feel.
std::string agree(const std::string& verb) {
    static const std::map<std::string, std::string> irregular = {
        {"is", "are"}, {"was", "were"}, {"has", "have"}, {"does", "do"}, {"goes", "go"}};
    if (auto it = irregular.find(verb); it != irregular.end())
        return it->second;
    static const std::set<std::string> not_verbs = {
        "always", "sometimes", "perhaps", "probably", "less", "unless", "this",
        "thus",   "plus",      "as",      "us",       "yes",  "its",    "his"};
    if (verb.size() > 3 && verb.back() == 's' && verb[verb.size() - 2] != 's' &&
        !not_verbs.count(verb)) {
        if (verb.size() > 4 && verb.compare(verb.size() - 3, 3, "ies") == 0)
            return verb.substr(0, verb.size() - 3) + "y";
        return verb.substr(0, verb.size() - 1);
    }
    return verb;
}

} // namespace

std::string address(std::string_view text) {
    auto tokens = split_tokens(normalize(trim_fragment(text)));
    // Names keep the capitals the user gave them.
    std::map<std::string, std::string> cased;
    {
        std::string word;
        auto flush = [&] {
            bool upper = false;
            std::string lower;
            for (char c : word) {
                upper = upper || (c >= 'A' && c <= 'Z');
                lower += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
            }
            if (upper && lower != "i")
                cased.emplace(lower, word);
            word.clear();
        };
        for (char c : text) {
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
                word += c;
            else
                flush();
        }
        flush();
    }
    // "her" is an object ("called her rude") or a possessive ("her feelings"); these words
    // after it mean an object.
    static const std::set<std::string> after_object = {
        "to",        "for",   "with",    "at",        "about", "on",     "in",     "off",
        "up",        "down",  "out",     "away",      "and",   "or",     "but",    "that",
        "so",        "when",  "because", "before",    "after", "again",  "too",    "back",
        "a",         "an",    "the",     "feel",      "know",  "think",  "cry",    "wait",
        "sad",       "angry", "upset",   "small",     "look",  "laugh",  "go",     "come",
        "leave",     "stay",  "believe", "do",        "be",    "see",    "hear",   "like",
        "while",     "if",    "every",   "all",       "last",  "down",   "alone",  "there",
        "here",      "first", "by",      "over",      "into",  "anyway", "myself", "dinner",
        "breakfast", "lunch", "flowers", "something", "some",  ",",      ".",      "!",
        "?",         ";",     ":",       "-"};
    std::vector<std::string> out;
    bool subject = false;
    for (std::size_t i = 0; i < tokens.size(); ++i) {
        const auto& w = tokens[i];
        const std::string next = i + 1 < tokens.size() ? tokens[i + 1] : "";
        bool was_subject = subject;
        subject = false;
        if (w == "she" || w == "he" || w == "they") {
            out.push_back("you");
            subject = true;
        } else if (w == "him" || w == "them") {
            out.push_back("you");
        } else if (w == "her") {
            bool object = next.empty() || after_object.count(next) ||
                          (next.size() > 3 &&
                           (next.ends_with("ing") || next.ends_with("ed") || next.ends_with("ly")));
            out.push_back(object ? "you" : "your");
        } else if (w == "his" || w == "their") {
            out.push_back("your");
        } else if (w == "hers" || w == "theirs") {
            out.push_back("yours");
        } else if (w == "herself" || w == "himself" || w == "themselves" || w == "themself") {
            out.push_back("yourself");
        } else if (w == "i") {
            out.push_back("I");
        } else if (was_subject && (w == "probably" || w == "really" || w == "just" ||
                                   w == "never" || w == "always" || w == "still")) {
            out.push_back(w);
            subject = true; // the verb may come after an adverb
        } else if (was_subject) {
            out.push_back(agree(w));
        } else {
            auto c = cased.find(w);
            out.push_back(c != cased.end() && out.size() > 0 ? c->second : w);
        }
    }
    return trim_fragment(join_tokens(out));
}

std::string strip_lead(std::string_view text, std::string_view phrase) {
    std::string t = trim_fragment(text);
    std::string n = normalize(t), p = normalize(phrase);
    if (p.empty() || n.rfind(p, 0) != 0 ||
        (n.size() > p.size() && n[p.size()] != ' ' && n[p.size()] != ',' && n[p.size()] != ':'))
        return t;
    std::size_t k = p.size();
    while (k < n.size() && (n[k] == ' ' || n[k] == ',' || n[k] == ':'))
        ++k;
    return n.substr(k);
}

bool apply_filters(std::string& value, std::string_view chain) {
    std::string v = value;
    while (!chain.empty()) {
        auto bar = chain.find('|');
        std::string_view f = chain.substr(0, bar);
        chain = bar == std::string_view::npos ? std::string_view{} : chain.substr(bar + 1);
        if (f == "reflect")
            v = reflect(v);
        else if (f == "address")
            v = address(v);
        else if (f.rfind("strip:", 0) == 0 && f.size() > 6)
            v = strip_lead(v, f.substr(6));
        else
            return false;
    }
    value = std::move(v);
    return true;
}

std::string reflect(std::string_view text) {
    auto tokens = split_tokens(normalize(trim_fragment(text)));
    std::vector<std::string> out;
    for (std::size_t i = skip_fillers(tokens); i < tokens.size(); ++i) {
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
    return trim_fragment(join_tokens(out));
}

} // namespace tandem::bot
