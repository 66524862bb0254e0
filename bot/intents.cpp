#include "bot/intents.hpp"

#include "bot/json_reader.hpp"
#include "bot/normalizer.hpp"

#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <filesystem>
#include <limits>
#include <mutex>
#include <regex>
#include <thread>

namespace tandem::bot {

const std::vector<std::string>& core_topics() {
    static const std::vector<std::string> t = {"feeling_smothered",
                                               "feeling_distant",
                                               "wanting_to_apologize",
                                               "conflict",
                                               "safety",
                                               "greeting",
                                               "help",
                                               "thanks",
                                               "goodbye",
                                               "restart",
                                               "forget_me",
                                               "affirm",
                                               "deny",
                                               "out_of_scope"};
    return t;
}

bool is_core_topic(std::string_view topic) {
    const auto& t = core_topics();
    return std::find(t.begin(), t.end(), topic) != t.end();
}

const std::vector<std::string>& safety_kinds() {
    static const std::vector<std::string> k = {"emergency_now",       "suicide_imminent",
                                               "suicide_ideation",    "suicide_passive",
                                               "self_harm",           "ipv_physical",
                                               "fear_threats",        "coercive_control",
                                               "sexual_violence",     "minor_at_risk",
                                               "user_harming_other",  "harm_to_others",
                                               "third_party_concern", "check"};
    return k;
}

bool is_safety_mode_kind(std::string_view kind) {
    // Disclosures after which exercises aimed at the partner (opening up, apologising,
    // asking, "turning toward") are set aside (content-brief §3.4 rules 5, 12 and 13).
    return kind == "ipv_physical" || kind == "fear_threats" || kind == "coercive_control" ||
           kind == "sexual_violence" || kind == "minor_at_risk" || kind == "user_harming_other" ||
           kind == "harm_to_others";
}

bool classification::has(std::string_view id) const {
    return std::any_of(ranked.begin(), ranked.end(),
                       [&](const ranked_intent& r) { return r.intent == id; });
}

std::vector<std::string> list_json_files(const std::string& dir, diagnostics& diags) {
    namespace fs = std::filesystem;
    std::vector<std::string> files;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
        diags.add(dir, "", "file.read", "folder not found");
        return files;
    }
    for (const auto& e : fs::directory_iterator(dir, ec)) {
        if (e.is_regular_file() && e.path().extension() == ".json")
            files.push_back(e.path().string());
    }
    std::sort(files.begin(), files.end());
    return files;
}

namespace {

const std::regex& id_rule() {
    static const std::regex r("^[a-z][a-z0-9_]{0,63}$");
    return r;
}

void load_patterns(json_reader& r, const std::string& key, bool allow_weight,
                   std::vector<intent_pattern>& out, bool required) {
    const auto* v = r.get(key, required);
    if (!v)
        return;
    if (!v->is_array()) {
        r.error(key, "schema.type", "expected a list of patterns, found " + json_type_name(*v));
        return;
    }
    for (std::size_t i = 0; i < v->size(); ++i) {
        const auto& p = (*v)[i];
        std::string ptr = r.path(key) + "/" + std::to_string(i);
        if (p.is_string()) {
            out.push_back({p.get<std::string>(), 1, nullptr});
        } else if (p.is_object() && allow_weight) {
            json_reader pr(p, r.file(), ptr, r.diags());
            auto re = pr.string("re", true);
            auto w = pr.integer_or("weight", 1, 1, 100);
            pr.finish();
            if (re)
                out.push_back({*re, static_cast<int>(w), nullptr});
        } else {
            r.diags().add(r.file(), ptr, "schema.type",
                          allow_weight ? "expected a pattern string or {\"re\", \"weight\"}"
                                       : "expected a pattern string");
        }
    }
    if (required && v->empty())
        r.error(key, "schema.missing", "an intent needs at least one pattern");
}

} // namespace

std::vector<intent_def> load_intent_files(const std::vector<std::string>& files,
                                          diagnostics& diags) {
    std::vector<intent_def> out;
    for (const auto& file : files) {
        auto j = read_json_file(file, diags);
        if (!j)
            continue;
        json_reader top(*j, file, "", diags);
        if (!top.ok())
            continue;
        top.integer("schema_version", 1, 1, true);
        const auto* list = top.get("intents", true);
        top.finish();
        if (!list)
            continue;
        if (!list->is_array()) {
            top.error("intents", "schema.type", "expected a list of intents");
            continue;
        }
        for (std::size_t i = 0; i < list->size(); ++i) {
            std::string ptr = "/intents/" + std::to_string(i);
            json_reader r((*list)[i], file, ptr, diags);
            if (!r.ok())
                continue;
            intent_def d;
            d.file = file;
            d.pointer = ptr;
            d.id = r.string_or("id", "");
            if (!r.has("id"))
                r.error("", "schema.missing", "missing required field \"id\"");
            else if (!std::regex_match(d.id, id_rule()))
                r.error("id", "intent.bad_id",
                        "intent ids are snake_case: lower-case letters, digits and _, "
                        "starting with a letter; found \"" +
                            d.id + "\"");
            d.topic = r.string_or("topic", "");
            if (!r.has("topic"))
                r.error("", "schema.missing", "missing required field \"topic\"");
            else if (!is_core_topic(d.topic))
                r.error("topic", "intent.bad_topic",
                        "\"" + d.topic + "\" is not a core topic (see docs/content-format.md)");
            auto pr = r.integer("priority", 0, 1000);
            if (!r.has("priority"))
                r.error("", "schema.missing", "missing required field \"priority\"");
            d.priority = static_cast<int>(pr.value_or(50));
            d.description = r.string_or("description", "");
            d.topic_from_content = r.boolean_or("topic_from_content", false);
            load_patterns(r, "patterns", true, d.patterns, true);
            std::vector<intent_pattern> ex;
            load_patterns(r, "exclude", false, ex, false);
            for (auto& e : ex)
                d.excludes.push_back(std::move(e.source));
            ex.clear();
            load_patterns(r, "exclude_message", false, ex, false);
            for (auto& e : ex)
                d.message_excludes.push_back(std::move(e.source));
            d.examples = r.string_list("examples");
            d.counterexamples = r.string_list("counterexamples");
            if (const auto* s = r.get("safety")) {
                json_reader sr(*s, file, r.path("safety"), diags);
                safety_info si;
                si.kind = sr.string_or("kind", "");
                si.tier = sr.string_or("tier", "");
                const auto& kinds = safety_kinds();
                if (std::find(kinds.begin(), kinds.end(), si.kind) == kinds.end())
                    sr.error("kind", "safety.bad_kind", "unknown safety kind \"" + si.kind + "\"");
                if (si.tier != "A" && si.tier != "B" && si.tier != "C")
                    sr.error("tier", "safety.bad_kind", "tier must be \"A\", \"B\" or \"C\"");
                sr.finish();
                if (d.topic != "safety")
                    r.error("safety", "safety.bad_kind",
                            "only intents with topic \"safety\" carry a safety block");
                d.safety = si;
            } else if (d.topic == "safety") {
                r.error("", "safety.missing",
                        "a safety intent needs a \"safety\": {\"kind\", \"tier\"} block");
            }
            r.finish();
            out.push_back(std::move(d));
        }
    }
    return out;
}

// How patterns are matched together (docs/performance.md has the measurements):
//  - One RE2::Set holds every pattern whose counted repeats are narrow ({0,20} or less):
//    one DFA pass over the message finds all of them.
//  - Wide counted repeats ("\b(he|she)\b[^.?!]{0,30}\b(checks|reads)\b") cannot join it when
//    there are more than a few: in a DFA every counter multiplies the states, which can then
//    no longer be cached and are rebuilt on nearly every byte (one Set of all 716 shipped
//    English patterns: ~190 µs per message). Such a pattern is cut at its top-level wide
//    gaps into pieces it cannot match without ("\b(he|she)\b", "\b(checks|reads)\b"); the
//    pieces (shared between patterns) join the same Set, and only a pattern whose every
//    piece was found is run alone to confirm. A top-level alternative without a wide gap
//    joins the Set as it is. Patterns whose form the cutter does not know are run alone on
//    every message.
//  - Each pattern or piece is added to the Set spread over its first characters, as
//    several entries for one slot (spread_entry), and rewritten for a case-sensitive Set
//    (fold_free): both make the DFA states the Set builds cheaper (cold start).
// The hits are exactly those of trying every pattern alone (test_classify_one_by_one): a
// piece is a factor of the pattern, so the pattern cannot match where a piece does not; a
// confirmed pattern is matched by itself. The bench checks it on every message and the
// matcher_fuzz target on arbitrary text.
struct intent_matcher::set_holder {
    static constexpr std::size_t counted_in_set = 16; // up to this many stay in the Set
    static constexpr int narrow_repeat = 20;          // counts up to this always stay in it
    struct slot {                                     // what a Set index stands for
        int entry = -1;                               // a pattern (or an alternative of one)
        int piece = -1;                               // or a piece of wide patterns
    };
    struct wide_alt { // an alternative of a wide pattern, confirmed once all pieces are seen
        int entry = 0;
        int need = 0; // distinct pieces that can be missing (those matching "" cannot)
    };
    re2::RE2::Options options;
    std::vector<std::string> sources; // by entry
    std::unique_ptr<re2::RE2::Set> set;
    std::vector<slot> slots;                  // slot -> what it stands for
    std::vector<int> set_slot;                // set index -> its slot (-1: none); a slot can
                                              // have several (spread_entry)
    std::vector<std::vector<int>> piece_alts; // piece -> wide alternatives needing it
    std::vector<wide_alt> alts;               // wide alternatives
    std::vector<int> always;                  // entries run alone on every message
    // By entry: compiled alone. Wide patterns and those with named groups at once, the rest
    // on first use (call_once).
    std::vector<std::shared_ptr<const re2::RE2>> singles;
    std::once_flag singles_once;
    std::vector<char> dead; // by entry: reported too broad after the Set compiled; ignored
    // By intent, by pattern: its entry, or -1 when it was not compiled. Captures are taken
    // only from the winner's patterns that matched (their entries are among the hits).
    std::vector<std::vector<int>> pattern_entry;
    // By intent: its patterns that have named groups (capture_re), in order.
    std::vector<std::vector<std::size_t>> capture_patterns;
};

namespace {
re2::RE2::Options matcher_options() {
    re2::RE2::Options o;
    o.set_case_sensitive(false);
    o.set_log_errors(false);
    o.set_max_mem(64 << 20);
    return o;
}

// The widest counted repeat of a pattern ({n}: n, {n,m}: m, {n,}: unbounded), outside
// character classes; 0 when it has none.
int widest_counted_repeat(std::string_view re) {
    constexpr int unbounded = 1 << 30;
    int widest = 0;
    bool in_class = false;
    auto number = [&](std::size_t& j) {
        int n = 0;
        while (j < re.size() && std::isdigit(static_cast<unsigned char>(re[j]))) {
            n = std::min(unbounded, n * 10 + (re[j] - '0'));
            ++j;
        }
        return n;
    };
    for (std::size_t i = 0; i < re.size(); ++i) {
        char c = re[i];
        if (c == '\\') {
            ++i;
            continue;
        }
        if (in_class) {
            if (c == ']')
                in_class = false;
            continue;
        }
        if (c == '[') {
            in_class = true;
            if (i + 1 < re.size() && re[i + 1] == '^')
                ++i;
            if (i + 1 < re.size() && re[i + 1] == ']')
                ++i; // a leading ] is a literal
            continue;
        }
        if (c == '{') {
            std::size_t j = i + 1;
            int low = number(j);
            if (j == i + 1)
                continue;
            int high = low;
            if (j < re.size() && re[j] == ',') {
                std::size_t k = ++j;
                high = number(j);
                if (j == k)
                    high = unbounded;
            }
            if (j < re.size() && re[j] == '}')
                widest = std::max(widest, high);
        }
    }
    return widest;
}

// --- cutting a pattern at its wide gaps ------------------------------------------------
// A small reader of RE2 syntax: enough to find the top-level items (atom + quantifier) of
// a pattern. Whatever it is not sure about makes it give up (npos), and the pattern is then
// simply run alone on every message.
constexpr std::size_t npos = std::string_view::npos;

// Length of a counted repeat {n}, {n,}, {n,m} at re[i], or 0; its upper bound in `high`.
std::size_t repeat_len(std::string_view re, std::size_t i, int& high) {
    if (i >= re.size() || re[i] != '{')
        return 0;
    std::size_t j = i + 1;
    auto digits = [&] {
        std::size_t k = j;
        while (j < re.size() && std::isdigit(static_cast<unsigned char>(re[j])))
            ++j;
        return j - k;
    };
    if (digits() == 0)
        return 0;
    if (j < re.size() && re[j] == ',') {
        ++j;
        digits();
    }
    if (j >= re.size() || re[j] != '}')
        return 0;
    high = widest_counted_repeat(re.substr(i, j + 1 - i));
    return j + 1 - i;
}

std::size_t escape_end(std::string_view re, std::size_t i) {
    if (i + 1 >= re.size())
        return npos;
    char c = re[i + 1];
    if (c == 'Q' || c == 'E')
        return npos;
    if ((c == 'p' || c == 'P' || c == 'x') && i + 2 < re.size() && re[i + 2] == '{') {
        auto k = re.find('}', i + 3);
        return k == npos ? npos : k + 1;
    }
    if (c == 'p' || c == 'P')
        return i + 3 <= re.size() ? i + 3 : npos;
    if (c == 'x')
        return i + 4 <= re.size() ? i + 4 : npos;
    std::size_t j = i + 2;
    while (j < re.size() && (static_cast<unsigned char>(re[j]) & 0xC0) == 0x80)
        ++j;
    return j;
}

std::size_t class_end(std::string_view re, std::size_t i) {
    std::size_t j = i + 1;
    if (j < re.size() && re[j] == '^')
        ++j;
    if (j < re.size() && re[j] == ']')
        ++j;
    while (j < re.size()) {
        if (re[j] == ']')
            return j + 1;
        if (re[j] == '\\') {
            j = escape_end(re, j);
            if (j == npos)
                return npos;
            continue;
        }
        if (re[j] == '[' && j + 1 < re.size() && re[j + 1] == ':') {
            auto k = re.find(":]", j + 2);
            if (k == npos)
                return npos;
            j = k + 2;
            continue;
        }
        ++j;
    }
    return npos;
}

// End of the atom at re[i] (a group, class, escape or one character); `wide` is set when a
// group holds a counted repeat wider than `narrow`.
std::size_t atom_end(std::string_view re, std::size_t i, int narrow, bool& wide) {
    char c = re[i];
    if (c == '\\')
        return escape_end(re, i);
    if (c == '[')
        return class_end(re, i);
    if (c == '(') {
        if (i + 1 < re.size() && re[i + 1] == '?') { // (?: (?P< (?flags:...) but not (?flags)
            std::size_t k = i + 2;
            if (k < re.size() && re[k] != 'P' && re[k] != '<') {
                while (k < re.size() &&
                       (std::isalpha(static_cast<unsigned char>(re[k])) || re[k] == '-'))
                    ++k;
                if (k >= re.size() || re[k] != ':')
                    return npos;
            }
        }
        int depth = 0;
        for (std::size_t j = i; j < re.size();) {
            char d = re[j];
            if (d == '\\') {
                j = escape_end(re, j);
                if (j == npos)
                    return npos;
                continue;
            }
            if (d == '[') {
                j = class_end(re, j);
                if (j == npos)
                    return npos;
                continue;
            }
            int high = 0;
            if (d == '(')
                ++depth;
            else if (d == ')' && --depth == 0)
                return j + 1;
            else if (repeat_len(re, j, high) && high > narrow)
                wide = true;
            ++j;
        }
        return npos;
    }
    if (c == ')' || c == '*' || c == '+' || c == '?' || c == '{')
        return npos;
    std::size_t j = i + 1;
    while (j < re.size() && (static_cast<unsigned char>(re[j]) & 0xC0) == 0x80)
        ++j;
    return j;
}

struct alternative_plan {
    std::string whole;               // the top-level alternative itself
    bool wide = false;               // it has a wide item; else `whole` can join the Set
    std::vector<std::string> pieces; // when wide: the runs of items between wide ones
};

// The top-level alternatives of a pattern and, for those with wide counted repeats, the
// pieces between them; nullopt when the pattern's form is not understood here.
std::optional<std::vector<alternative_plan>> cut_at_wide_gaps(std::string_view re, int narrow) {
    std::vector<alternative_plan> alts;
    alternative_plan cur;
    std::string run;
    std::size_t start = 0;
    auto close_run = [&] {
        if (!run.empty())
            cur.pieces.push_back(run);
        run.clear();
    };
    auto close_alt = [&](std::size_t end) {
        close_run();
        cur.whole = std::string(re.substr(start, end - start));
        alts.push_back(std::move(cur));
        cur = alternative_plan{};
    };
    std::size_t i = 0;
    while (i < re.size()) {
        if (re[i] == '|') {
            close_alt(i);
            start = ++i;
            continue;
        }
        bool wide = false;
        std::size_t e = atom_end(re, i, narrow, wide);
        if (e == npos || e > re.size())
            return std::nullopt;
        std::size_t q = e;
        if (q < re.size()) {
            int high = 0;
            if (re[q] == '*' || re[q] == '+' || re[q] == '?') {
                ++q;
            } else if (std::size_t n = repeat_len(re, q, high)) {
                q += n;
                wide = wide || high > narrow;
            }
            if (q > e && q < re.size() && re[q] == '?')
                ++q; // lazy
        }
        if (wide) {
            cur.wide = true;
            close_run();
        } else {
            run.append(re.substr(i, q - i));
        }
        i = q;
    }
    close_alt(re.size());
    return alts;
}

// --- spreading a Set entry over its first characters -------------------------------------
// RE2 factors the common literal prefixes of the Set's entries ("\bremind", "\brate" share
// "\br"), but not an entry that starts with a group: "\b(can|could|would) you..." keeps its
// own first instructions, and an unanchored DFA re-expands the first instructions of every
// such entry at every word boundary, for every state it builds. Writing the entry as the
// alternatives "\bc(?:an|ould) you...", "\bwould you..." (one per first character, each
// added to the Set for the same slot) lets them join the shared prefixes. The union of the
// alternatives is the entry's language: concatenation distributes over alternation, and
// grouping by a first literal character only factors it out. Capture names are dropped
// (the Set does not report captures). Whatever the reader is not sure about stays whole.

// End of the quantifier (?, *, +, {n,m}, lazy or not) at re[i]; i when there is none.
std::size_t quantifier_end(std::string_view re, std::size_t i) {
    std::size_t q = i;
    int high = 0;
    if (q < re.size() && (re[q] == '*' || re[q] == '+' || re[q] == '?'))
        ++q;
    else if (std::size_t n = repeat_len(re, q, high))
        q += n;
    if (q > i && q < re.size() && re[q] == '?')
        ++q;
    return q;
}

// The top-level alternatives of a pattern; nullopt when its form is not understood here.
std::optional<std::vector<std::string_view>> split_alternatives(std::string_view re) {
    std::vector<std::string_view> alts;
    std::size_t start = 0, i = 0;
    while (i < re.size()) {
        if (re[i] == '|') {
            alts.push_back(re.substr(start, i - start));
            start = ++i;
            continue;
        }
        bool wide = false;
        std::size_t e = atom_end(re, i, std::numeric_limits<int>::max(), wide);
        if (e == npos || e > re.size())
            return std::nullopt;
        i = quantifier_end(re, e);
    }
    alts.push_back(re.substr(start));
    return alts;
}

// Length of the plain literal character (ASCII or one UTF-8 sequence) starting `s`, when no
// quantifier follows it; else 0.
std::size_t leading_literal(std::string_view s) {
    if (s.empty())
        return 0;
    const auto c = static_cast<unsigned char>(s[0]);
    if (c < 0x80 && std::string_view("\\.+*?()|[]{}^$").find(static_cast<char>(c)) != npos)
        return 0;
    std::size_t n = 1;
    if (c >= 0x80) {
        if ((c & 0xC0) != 0xC0)
            return 0;
        while (n < s.size() && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80)
            ++n;
    }
    if (n < s.size() && (s[n] == '?' || s[n] == '*' || s[n] == '+' || s[n] == '{'))
        return 0;
    return n;
}

// Bytes of repeated pattern text one spread may add (see spread_entry).
constexpr std::size_t spread_budget = 200;

// Appends to `out` alternatives whose union is `re` (just `re` when there is nothing to gain
// or the reader is unsure).
void spread_entry(std::string_view re, int depth, std::vector<std::string>& out) {
    auto keep = [&] {
        out.emplace_back(re);
    };
    if (depth > 8)
        return keep();
    auto alts = split_alternatives(re);
    if (!alts)
        return keep();
    if (alts->size() > 1) {
        for (auto a : *alts)
            spread_entry(a, depth + 1, out);
        return;
    }
    // [\b or ^] (group) rest, the group without a quantifier or flags.
    std::size_t i = re.starts_with("\\b") ? 2 : re.starts_with("^") ? 1 : 0;
    if (i >= re.size() || re[i] != '(')
        return keep();
    bool wide = false;
    const std::size_t e = atom_end(re, i, std::numeric_limits<int>::max(), wide);
    if (e == npos || e > re.size() || quantifier_end(re, e) != e)
        return keep();
    std::string_view inner = re.substr(i + 1, e - i - 2);
    if (inner.starts_with("?P<")) {
        auto k = inner.find('>');
        if (k == npos || k == 3 ||
            !std::all_of(
                inner.begin() + 3, inner.begin() + static_cast<std::ptrdiff_t>(k),
                [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }))
            return keep();
        inner.remove_prefix(k + 1);
    } else if (inner.starts_with("?:")) {
        inner.remove_prefix(2);
    } else if (inner.starts_with("?")) {
        return keep();
    }
    auto parts = split_alternatives(inner);
    if (!parts || parts->size() < 2)
        return keep();
    const std::string_view pre = re.substr(0, i), rest = re.substr(e);
    std::vector<std::pair<std::string_view, std::vector<std::string_view>>> groups;
    std::vector<std::string_view> others; // parts not starting with a literal character
    for (auto part : *parts) {
        const std::size_t n = leading_literal(part);
        if (n == 0) {
            others.push_back(part);
            continue;
        }
        auto key = part.substr(0, n);
        auto g = std::find_if(groups.begin(), groups.end(),
                              [&](const auto& x) { return x.first == key; });
        if (g == groups.end())
            g = groups.insert(groups.end(), {key, {}});
        g->second.push_back(part.substr(n));
    }
    // Each alternative repeats the rest of the pattern, which RE2 then compiles again: past a
    // point the bigger Set costs more to compile than its first characters save.
    if ((groups.size() + others.size() - 1) * rest.size() > spread_budget)
        return keep();
    for (auto part : others) {
        std::string whole;
        whole.reserve(pre.size() + part.size() + rest.size());
        whole.append(pre).append(part).append(rest);
        spread_entry(whole, depth + 1, out);
    }
    for (const auto& [key, tails] : groups) {
        std::string s(pre);
        s += key;
        if (tails.size() == 1) {
            s += tails.front();
        } else {
            s += "(?:";
            for (std::size_t t = 0; t < tails.size(); ++t) {
                if (t)
                    s += '|';
                s += tails[t];
            }
            s += ')';
        }
        s += rest;
        out.push_back(std::move(s));
    }
}

// Named groups are dropped when spreading; a pattern naming one group twice (an error RE2
// reports only when both are in one pattern) is not spread.
bool repeats_a_group_name(std::string_view re) {
    std::vector<std::string_view> names;
    for (std::size_t k = re.find("(?P<"); k != npos; k = re.find("(?P<", k + 1)) {
        auto end = re.find('>', k);
        if (end == npos)
            return true;
        auto name = re.substr(k + 4, end - k - 4);
        if (std::find(names.begin(), names.end(), name) != names.end())
            return true;
        names.push_back(name);
    }
    return false;
}

// --- case folding ----------------------------------------------------------------------
// The patterns are case-insensitive, and RE2 pays for that in parsing: every letter of a
// case-insensitive pattern is built as a character class and folded back into a literal.
// The Set only ever sees text without ASCII upper-case letters (normalize() lower-cases
// ASCII; classify_normalized checks), and on such text a lower-case ASCII letter matches
// in a case-sensitive pattern exactly what the letter matches case-insensitively, except
// "k" and "s" (RE2 also folds them with U+212A KELVIN SIGN and U+017F LONG S). So the Set
// is compiled case-sensitive from the patterns rewritten here: ASCII letters lower-cased,
// "k", "s", non-ASCII characters, classes with letters, ranges or escapes, and escapes
// naming classes (\w, \pL, \x41...) kept case-insensitive inside "(?i:...)". A pattern with
// inline flags ("(?i)", "(?-i:...)") or \Q...\E is kept whole inside "(?i:...)".
std::string fold_free(std::string_view re) {
    auto whole = [&] {
        return "(?i:" + std::string(re) + ")";
    };
    for (std::size_t k = re.find("(?"); k != npos; k = re.find("(?", k + 1))
        if (re.substr(k + 2, 1) != ":" && re.substr(k + 2, 2) != "P<")
            return whole();
    std::string out;
    out.reserve(re.size() + re.size() / 4 + 8);
    auto folded = [&](std::string_view atom) {
        out.append("(?i:").append(atom).append(")");
    };
    for (std::size_t i = 0; i < re.size();) {
        const auto c = static_cast<unsigned char>(re[i]);
        if (c == '\\') {
            const std::size_t e = escape_end(re, i);
            if (e == npos || re[i + 1] == 'Q' ||
                std::isdigit(static_cast<unsigned char>(re[i + 1])))
                return whole(); // (\Q...\E, octal \012: not read here)
            const auto x = static_cast<unsigned char>(re[i + 1]);
            if (x >= 0x80 ||
                (std::isalnum(x) &&
                 std::string_view("bBAzdDsSntrfva").find(static_cast<char>(x)) == npos))
                folded(re.substr(i, e - i));
            else
                out.append(re.substr(i, e - i));
            i = e;
        } else if (c == '[') {
            const std::size_t e = class_end(re, i);
            if (e == npos)
                return whole();
            const auto cls = re.substr(i, e - i);
            const std::size_t body = cls.size() > 2 && cls[1] == '^' ? 2 : 1;
            bool plain = true;
            for (std::size_t j = body; j + 1 < cls.size(); ++j) {
                const auto b = static_cast<unsigned char>(cls[j]);
                if (std::isalpha(b) || b >= 0x80 || b == '\\' || b == '[' ||
                    (b == '-' && j != body && j + 2 != cls.size()))
                    plain = false;
            }
            if (plain)
                out.append(cls);
            else
                folded(cls);
            i = e;
        } else if (re.substr(i).starts_with("(?P<")) {
            const std::size_t e = re.find('>', i);
            if (e == npos)
                return whole();
            out.append(re.substr(i, e + 1 - i));
            i = e + 1;
        } else if (std::isalpha(c) && c < 0x80) {
            const char l = static_cast<char>(std::tolower(c));
            if (l == 'k' || l == 's')
                folded(std::string_view(&l, 1));
            else
                out += l;
            ++i;
        } else if (c >= 0x80) {
            std::size_t e = i + 1;
            while (e < re.size() && (static_cast<unsigned char>(re[e]) & 0xC0) == 0x80)
                ++e;
            folded(re.substr(i, e - i));
            i = e;
        } else {
            out += static_cast<char>(c);
            ++i;
        }
    }
    return out;
}

bool has_ascii_upper(std::string_view text) {
    return std::any_of(text.begin(), text.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}
} // namespace

std::string detail::fold_free_set_entry(std::string_view re) {
    return fold_free(re);
}

std::vector<std::string_view> detail::split_clauses(std::string_view text,
                                                    const std::vector<std::string>& clause_words) {
    // A byte of a word: ASCII letters and digits, and every byte of a multi-byte UTF-8
    // character (accented letters).
    auto word_byte = [](char ch) {
        const auto u = static_cast<unsigned char>(ch);
        return u >= 0x80 || std::isalnum(u);
    };
    std::vector<std::string_view> out;
    auto push = [&](std::size_t from, std::size_t to) {
        while (from < to && text[from] == ' ')
            ++from;
        while (to > from && text[to - 1] == ' ')
            --to;
        if (from < to)
            out.push_back(text.substr(from, to - from));
    };
    std::size_t begin = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char ch = text[i];
        if (ch == '.' || ch == '?' || ch == '!' || ch == ';' || ch == '\n') {
            push(begin, i);
            begin = i + 1;
            continue;
        }
        if (i > 0 && word_byte(text[i - 1]))
            continue;
        for (const auto& w : clause_words) {
            if (w.empty() || text.compare(i, w.size(), w) != 0)
                continue;
            const std::size_t after = i + w.size();
            if (after < text.size() && word_byte(text[after]))
                continue;
            push(begin, i);
            begin = i; // the clause word starts the next clause
            break;
        }
    }
    push(begin, text.size());
    return out;
}

std::vector<std::string> detail::spread_set_entry(std::string_view re) {
    std::vector<std::string> out;
    if (repeats_a_group_name(re))
        out.emplace_back(re);
    else
        spread_entry(re, 0, out);
    return out;
}

intent_matcher::intent_matcher(std::vector<intent_def> intents, diagnostics& diags,
                               std::vector<std::string> clause_words)
    : intents_(std::move(intents)), clause_words_(std::move(clause_words)),
      set_(std::make_unique<set_holder>()) {
    auto& h = *set_;
    h.options = matcher_options();
    auto wide = [](std::string_view re) {
        return widest_counted_repeat(re) > set_holder::narrow_repeat;
    };
    std::size_t counted = 0;
    for (const auto& d : intents_) {
        for (const auto& p : d.patterns)
            counted += wide(p.source);
        for (const auto* list : {&d.excludes, &d.message_excludes})
            for (const auto& e : *list)
                counted += wide(e);
    }
    // A few wide patterns can stay in the Set; more are cut at their gaps.
    const int narrow = counted > set_holder::counted_in_set ? set_holder::narrow_repeat
                                                            : std::numeric_limits<int>::max();
    auto set_options = h.options; // the Set's entries are rewritten by fold_free
    set_options.set_case_sensitive(true);
    h.set = std::make_unique<re2::RE2::Set>(set_options, re2::RE2::UNANCHORED);
    struct pending { // a pattern in the Set, checked for matching "" once the Set is compiled
        std::size_t slot;
        std::string file, ptr;
    };
    std::vector<pending> in_set;
    std::map<std::string, int, std::less<>> piece_ids;
    std::vector<std::vector<int>> alt_pieces; // wide alternative -> its distinct pieces
    // Adds a pattern to the Set as one slot, spread over its first characters and rewritten
    // for the case-sensitive Set. Should RE2 refuse a part, the pattern is added whole
    // (rewritten, else only wrapped in "(?i:...)"); when it refuses that too, the parts
    // already added are disowned (each matches only where the pattern does) and the error is
    // the one RE2 gives for the pattern as written.
    std::vector<std::string> parts;
    auto add_to_set = [&](const std::string& src, set_holder::slot s, std::string* err) {
        const int slot = static_cast<int>(h.slots.size());
        const std::size_t first = h.set_slot.size();
        parts.clear();
        if (repeats_a_group_name(src))
            parts.push_back(src);
        else
            spread_entry(src, 0, parts);
        bool added = true;
        for (const auto& part : parts) {
            if (h.set->Add(fold_free(part), nullptr) < 0) {
                added = false;
                break;
            }
            h.set_slot.push_back(slot);
        }
        if (!added) {
            added = h.set->Add(fold_free(src), nullptr) >= 0 ||
                    h.set->Add("(?i:" + src + ")", nullptr) >= 0;
            if (added) {
                h.set_slot.push_back(slot);
            } else {
                std::fill(h.set_slot.begin() + static_cast<std::ptrdiff_t>(first), h.set_slot.end(),
                          -1);
                if (err) {
                    re2::RE2::Set as_written(h.options, re2::RE2::UNANCHORED);
                    as_written.Add(src, err);
                }
                return false;
            }
        }
        h.slots.push_back(s);
        return true;
    };
    // The patterns compiled alone at load (wide ones, and those with named groups, for
    // captures) are a large part of compiling: a helper thread compiles them from the last
    // one backwards while this thread adds the patterns to the Set in order, and takes each
    // one it reaches itself unless the helper already did (or is doing) it. Which patterns
    // these are, and everything done with them, is as before; only where they compile moves.
    std::vector<const std::string*> alone; // in the order the loop below reaches them
    for (const auto& d : intents_) {
        for (const auto& p : d.patterns)
            if (widest_counted_repeat(p.source) > narrow || p.source.find("(?P<") != npos)
                alone.push_back(&p.source);
        for (const auto* list : {&d.excludes, &d.message_excludes})
            for (const auto& e : *list)
                if (widest_counted_repeat(e) > narrow)
                    alone.push_back(&e);
    }
    std::vector<std::shared_ptr<const re2::RE2>> compiled(alone.size());
    // 0: not started, 1: being compiled by one of the two threads, 2: in `compiled`.
    const auto state = std::make_unique<std::atomic<int>[]>(alone.size());
    auto compile_alone = [&](std::size_t k) {
        int expected = 0;
        if (state[k].compare_exchange_strong(expected, 1)) {
            compiled[k] = std::make_shared<const re2::RE2>(*alone[k], h.options);
            state[k].store(2);
            state[k].notify_all();
            return;
        }
        state[k].wait(1); // the other thread has it
    };
    std::size_t next_alone = 0; // the loop's position in `alone`
    auto take_alone = [&](const std::string& src) {
        // (the loop asks for the patterns of `alone` in order, skipping none but those whose
        // Set entry RE2 refused)
        while (next_alone < alone.size() && alone[next_alone] != &src)
            ++next_alone;
        if (next_alone == alone.size()) // (cannot happen: listed above)
            return std::make_shared<const re2::RE2>(src, h.options);
        compile_alone(next_alone);
        return std::move(compiled[next_alone++]);
    };
    std::jthread helper; // joined when the constructor returns, also on an exception
    if (alone.size() >= 8 && std::thread::hardware_concurrency() > 1)
        helper = std::jthread([&] {
            for (std::size_t k = alone.size(); k-- > 0;)
                compile_alone(k);
        });
    h.pattern_entry.resize(intents_.size());
    for (std::size_t i = 0; i < intents_.size(); ++i) {
        auto& d = intents_[i];
        h.pattern_entry[i].assign(d.patterns.size(), -1);
        if (!d.id.empty()) {
            auto [it, fresh] = by_id_.emplace(d.id, i);
            if (!fresh)
                diags.add(d.file, d.pointer + "/id", "intent.duplicate_id",
                          "intent \"" + d.id + "\" is already defined in " +
                              intents_[it->second].file);
        }
        auto add = [&](const std::string& src, int weight, const std::string& ptr,
                       intent_pattern* pat, bool whole = false) {
            const int entry = static_cast<int>(entries_.size());
            std::shared_ptr<const re2::RE2> single;
            if (widest_counted_repeat(src) > narrow) {
                // Compiled alone: it confirms the pattern, serves one-by-one matching and
                // captures.
                single = take_alone(src);
                if (!single->ok()) {
                    diags.add(d.file, ptr, "pattern.compile",
                              "RE2 cannot compile this pattern: " + single->error());
                    return;
                }
                if (re2::RE2::PartialMatch("", *single)) {
                    diags.add(d.file, ptr, "pattern.too_broad",
                              "the pattern matches an empty message, so it matches everything");
                    return;
                }
                auto plan = cut_at_wide_gaps(src, narrow);
                bool understood = plan.has_value();
                if (plan) {
                    // Every alternative must join the Set, directly or by its pieces.
                    std::size_t first_slot = h.slots.size();
                    for (const auto& a : *plan) {
                        if (!a.wide) {
                            understood = understood && add_to_set(a.whole, {entry, -1}, nullptr);
                            continue;
                        }
                        std::vector<int> ids;
                        for (const auto& p : a.pieces) {
                            auto it = piece_ids.find(p);
                            if (it == piece_ids.end()) {
                                int id = static_cast<int>(piece_ids.size());
                                if (!add_to_set(p, {-1, id}, nullptr)) {
                                    understood = false;
                                    continue;
                                }
                                it = piece_ids.emplace(p, id).first;
                            }
                            ids.push_back(it->second);
                        }
                        std::sort(ids.begin(), ids.end());
                        ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
                        alt_pieces.push_back(std::move(ids));
                        h.alts.push_back({entry, 0});
                    }
                    if (!understood) { // (a piece RE2 refused on its own: keep it simple)
                        for (std::size_t s = first_slot; s < h.slots.size(); ++s)
                            h.slots[s].entry = h.slots[s].piece < 0 ? -1 : h.slots[s].entry;
                        while (!h.alts.empty() && h.alts.back().entry == entry) {
                            h.alts.pop_back();
                            alt_pieces.pop_back();
                        }
                    }
                }
                if (!understood)
                    h.always.push_back(entry);
            } else {
                std::string err;
                if (!add_to_set(src, {entry, -1}, &err)) {
                    diags.add(d.file, ptr, "pattern.compile",
                              "RE2 cannot compile this pattern: " + err);
                    return;
                }
                in_set.push_back({h.slots.size() - 1, d.file, ptr});
                if (pat && src.find("(?P<") != std::string::npos) // named groups: captures
                    single = take_alone(src);
            }
            if (pat && single && !single->NamedCapturingGroups().empty())
                pat->capture_re = single;
            if (pat)
                h.pattern_entry[i][static_cast<std::size_t>(pat - d.patterns.data())] = entry;
            entries_.push_back({i, weight, whole});
            h.sources.push_back(src);
            h.singles.push_back(std::move(single));
        };
        for (std::size_t p = 0; p < d.patterns.size(); ++p)
            add(d.patterns[p].source, d.patterns[p].weight,
                d.pointer + "/patterns/" + std::to_string(p), &d.patterns[p]);
        for (std::size_t p = 0; p < d.excludes.size(); ++p)
            add(d.excludes[p], 0, d.pointer + "/exclude/" + std::to_string(p), nullptr);
        for (std::size_t p = 0; p < d.message_excludes.size(); ++p)
            add(d.message_excludes[p], 0, d.pointer + "/exclude_message/" + std::to_string(p),
                nullptr, true);
    }

    h.dead.assign(entries_.size(), 0);
    std::vector<char> trivial(piece_ids.size(), 0); // pieces that match "" (always there)
    if (h.slots.empty()) {
        h.set.reset();
    } else if (!h.set->Compile()) {
        diags.add("intents", "", "pattern.compile",
                  "the combined pattern set is too large for RE2's memory limit");
    } else {
        // Too broad: a pattern that matches the empty message matches everything. Such
        // patterns are reported and then ignored when ranking (weight 0, never excluded).
        std::vector<int> empty_hits;
        h.set->Match("", &empty_hits);
        std::vector<char> empty(h.slots.size(), 0);
        for (int k : empty_hits)
            if (const int slot = h.set_slot[static_cast<std::size_t>(k)]; slot >= 0)
                empty[static_cast<std::size_t>(slot)] = 1;
        for (const auto& pe : in_set) {
            if (!empty[pe.slot])
                continue;
            diags.add(pe.file, pe.ptr, "pattern.too_broad",
                      "the pattern matches an empty message, so it matches everything");
            h.dead[static_cast<std::size_t>(h.slots[pe.slot].entry)] = 1;
            h.slots[pe.slot].entry = -1;
        }
        for (std::size_t k = 0; k < h.slots.size(); ++k)
            if (empty[k] && h.slots[k].piece >= 0)
                trivial[static_cast<std::size_t>(h.slots[k].piece)] = 1;
    }
    h.piece_alts.assign(piece_ids.size(), {});
    for (std::size_t a = 0; a < h.alts.size(); ++a) {
        for (int p : alt_pieces[a]) {
            if (trivial[static_cast<std::size_t>(p)])
                continue;
            h.piece_alts[static_cast<std::size_t>(p)].push_back(static_cast<int>(a));
            ++h.alts[a].need;
        }
        if (h.alts[a].need == 0) // nothing to wait for: run it on every message
            h.always.push_back(h.alts[a].entry);
    }
    h.capture_patterns.resize(intents_.size());
    for (std::size_t i = 0; i < intents_.size(); ++i)
        for (std::size_t k = 0; k < intents_[i].patterns.size(); ++k)
            if (intents_[i].patterns[k].capture_re)
                h.capture_patterns[i].push_back(k);
    std::sort(h.always.begin(), h.always.end());
    h.always.erase(std::unique(h.always.begin(), h.always.end()), h.always.end());
}

const std::vector<std::shared_ptr<const re2::RE2>>& intent_matcher::singles() const {
    auto& h = *set_;
    std::call_once(h.singles_once, [&h] {
        for (std::size_t e = 0; e < h.singles.size(); ++e)
            if (!h.singles[e])
                h.singles[e] = std::make_shared<const re2::RE2>(h.sources[e], h.options);
    });
    return h.singles;
}

intent_matcher::~intent_matcher() = default;

const intent_def* intent_matcher::find(std::string_view id) const {
    auto it = by_id_.find(id);
    return it == by_id_.end() ? nullptr : &intents_[it->second];
}

classification intent_matcher::classify(std::string_view text) const {
    return match(normalize(text), true, true);
}

classification intent_matcher::classify_normalized(std::string normalized) const {
    return match(std::move(normalized), true, false);
}

classification intent_matcher::match(std::string normalized, bool captures,
                                     bool lower_ascii) const {
    // Reused per thread: classification runs on every message and should not allocate.
    thread_local std::vector<int> hits;
    collect(normalized, lower_ascii, false, hits);
    return rank(std::move(normalized), hits, captures, false);
}

void intent_matcher::collect(std::string_view normalized, bool lower_ascii, bool one_by_one,
                             std::vector<int>& hits) const {
    // Scratch lists per thread, reused.
    thread_local std::vector<int> found, seen_alts;
    thread_local std::vector<int> counts;      // by wide alternative: its pieces found so far
    thread_local std::vector<unsigned> stamps; // by slot: the last call that found it
    thread_local unsigned stamp = 0;
    hits.clear();
    const auto& h = *set_;
    // The Set is compiled for text without ASCII upper-case letters (fold_free); any other
    // text (only classify_normalized can pass one) takes the one-by-one path below.
    bool failed = one_by_one || (!lower_ascii && has_ascii_upper(normalized));
    if (h.set && !failed) {
        re2::RE2::Set::ErrorInfo info{};
        if (!h.set->Match(normalized, &found, &info) && info.kind != re2::RE2::Set::kNoError)
            failed = true;
        // Set indices -> slots, each once (a slot is several indices when spread): a slot
        // is taken when its stamp is not this call's.
        if (stamps.size() < h.slots.size())
            stamps.resize(h.slots.size(), 0);
        if (++stamp == 0) { // (wrapped: start over)
            std::fill(stamps.begin(), stamps.end(), 0);
            stamp = 1;
        }
        std::size_t n = 0;
        for (int k : found)
            if (const int slot = h.set_slot[static_cast<std::size_t>(k)];
                slot >= 0 && stamps[static_cast<std::size_t>(slot)] != stamp) {
                stamps[static_cast<std::size_t>(slot)] = stamp;
                found[n++] = slot;
            }
        found.resize(n);
    }
    if (!failed) {
        if (counts.size() < h.alts.size())
            counts.resize(h.alts.size(), 0);
        auto confirm = [&](int entry) {
            if (std::find(hits.begin(), hits.end(), entry) == hits.end() &&
                re2::RE2::PartialMatch(normalized, *h.singles[static_cast<std::size_t>(entry)]))
                hits.push_back(entry);
        };
        if (h.set) {
            for (int k : found) {
                const auto& s = h.slots[static_cast<std::size_t>(k)];
                if (s.entry >= 0)
                    hits.push_back(s.entry);
                if (s.piece < 0)
                    continue;
                for (int a : h.piece_alts[static_cast<std::size_t>(s.piece)]) {
                    auto& n = counts[static_cast<std::size_t>(a)];
                    if (n++ == 0)
                        seen_alts.push_back(a);
                    if (n == h.alts[static_cast<std::size_t>(a)].need)
                        confirm(h.alts[static_cast<std::size_t>(a)].entry);
                }
            }
            for (int a : seen_alts)
                counts[static_cast<std::size_t>(a)] = 0;
            seen_alts.clear();
        }
        for (int e : h.always)
            confirm(e);
        // A pattern can be hit twice (two of its alternatives); count it once.
        std::sort(hits.begin(), hits.end());
        hits.erase(std::unique(hits.begin(), hits.end()), hits.end());
    } else {
        // One by one: the baseline, out of DFA memory (should not happen with our limits),
        // or text with upper-case letters, so a message is never silently unclassified.
        hits.clear();
        const auto& all = singles();
        for (std::size_t k = 0; k < all.size(); ++k)
            if (!h.dead[k] && re2::RE2::PartialMatch(normalized, *all[k]))
                hits.push_back(static_cast<int>(k));
    }
}

classification intent_matcher::test_classify_one_by_one(std::string_view text) const {
    std::string n = normalize(text);
    std::vector<int> hits;
    collect(n, true, true, hits);
    return rank(std::move(n), hits, true, true);
}

classification intent_matcher::rank(std::string normalized, const std::vector<int>& hits,
                                    bool captures, bool one_by_one) const {
    classification c;
    c.normalized = std::move(normalized);
    if (hits.empty())
        return c;
    // Per matched intent: score (sum of weights) and whether an exclude matched. A message
    // matches a handful of patterns, so a short list beats arrays over every intent.
    struct tally {
        std::size_t intent;
        int score;
        bool excluded;
        bool whole; // a message exclude matched: no clause can bring the intent back
    };
    thread_local std::vector<tally> tallies;
    tallies.clear();
    for (int h : hits) {
        const auto& e = entries_[static_cast<std::size_t>(h)];
        auto it = std::find_if(tallies.begin(), tallies.end(),
                               [&](const tally& t) { return t.intent == e.intent; });
        if (it == tallies.end()) {
            tallies.push_back({e.intent, 0, false, false});
            it = tallies.end() - 1;
        }
        if (e.weight == 0) {
            it->excluded = true;
            it->whole = it->whole || e.whole;
        } else {
            it->score += e.weight;
        }
    }
    // Excludes work clause by clause: an idiom in one sentence ("the cat scratched me")
    // does not silence what another says ("the bruises are from him"). An excluded intent
    // stays when some clause alone has its patterns and none of its excludes, unless a
    // message exclude matched ("exclude_message": a context such as "paintball") or an
    // exclude matched only across clauses (one written to span sentences, "blood stain ...
    // nosebleed", speaks for the whole message too).
    auto may_return = [](const tally& t) {
        return t.excluded && !t.whole && t.score > 0;
    };
    if (std::any_of(tallies.begin(), tallies.end(), may_return)) {
        const auto clauses = detail::split_clauses(c.normalized, clause_words_);
        if (clauses.size() > 1) {
            std::vector<int> clause_hits;
            std::vector<int> within; // exclude entries that matched inside one clause
            std::vector<char> clean(tallies.size(), 0); // a clause had patterns, no exclude
            for (auto clause : clauses) {
                collect(clause, false, one_by_one, clause_hits);
                for (std::size_t k = 0; k < tallies.size(); ++k) {
                    if (!may_return(tallies[k]))
                        continue;
                    bool pattern = false, exclude = false;
                    for (int h : clause_hits) {
                        const auto& e = entries_[static_cast<std::size_t>(h)];
                        if (e.intent != tallies[k].intent)
                            continue;
                        if (e.weight == 0) {
                            exclude = true;
                            within.push_back(h);
                        } else {
                            pattern = true;
                        }
                    }
                    clean[k] = clean[k] || (pattern && !exclude);
                }
            }
            auto across = [&](int h) {
                return std::find(within.begin(), within.end(), h) == within.end();
            };
            for (std::size_t k = 0; k < tallies.size(); ++k) {
                if (!clean[k])
                    continue;
                const bool spans = std::any_of(hits.begin(), hits.end(), [&](int h) {
                    const auto& e = entries_[static_cast<std::size_t>(h)];
                    return e.intent == tallies[k].intent && e.weight == 0 && across(h);
                });
                tallies[k].excluded = spans;
            }
        }
    }
    std::erase_if(tallies, [](const tally& t) { return t.excluded || t.score <= 0; });
    if (tallies.empty())
        return c;
    // Best first: priority, then score, then the order intents were defined in.
    std::sort(tallies.begin(), tallies.end(), [&](const tally& a, const tally& b) {
        if (intents_[a.intent].priority != intents_[b.intent].priority)
            return intents_[a.intent].priority > intents_[b.intent].priority;
        if (a.score != b.score)
            return a.score > b.score;
        return a.intent < b.intent;
    });
    c.ranked.reserve(tallies.size());
    for (const auto& t : tallies)
        c.ranked.push_back({intents_[t.intent].id, intents_[t.intent].priority, t.score});
    const auto& win = intents_[tallies.front().intent];
    c.intent = win.id;
    c.topic = win.topic;
    c.safety = win.safety;
    if (win.topic_from_content) {
        static const std::array<std::string_view, 4> relationship = {
            "feeling_smothered", "feeling_distant", "wanting_to_apologize", "conflict"};
        for (std::size_t k = 1; k < tallies.size(); ++k) {
            const auto& other = intents_[tallies[k].intent];
            if (!other.topic_from_content && std::find(relationship.begin(), relationship.end(),
                                                       other.topic) != relationship.end()) {
                c.topic = other.topic;
                break;
            }
        }
    }
    int s1 = tallies.front().score, s2 = 0;
    for (std::size_t k = 1; k < tallies.size(); ++k) {
        if (intents_[tallies[k].intent].topic != c.topic) {
            s2 = tallies[k].score;
            break;
        }
    }
    c.confidence = static_cast<double>(s1) / static_cast<double>(s1 + s2);
    // Captures: only the winner's patterns that have named groups, first match wins. A
    // pattern that did not match (its entry is not among the hits, which are sorted) is
    // skipped without running it; one reported too broad is still tried, as before.
    if (!captures)
        return c;
    const auto& win_entries = set_->pattern_entry[tallies.front().intent];
    for (const std::size_t k : set_->capture_patterns[tallies.front().intent]) {
        const auto& p = win.patterns[k];
        const int e = win_entries[k];
        if (e >= 0 && !set_->dead[static_cast<std::size_t>(e)] &&
            !std::binary_search(hits.begin(), hits.end(), e))
            continue;
        const auto& re = *p.capture_re;
        int n = re.NumberOfCapturingGroups();
        std::vector<re2::StringPiece> sub(static_cast<std::size_t>(n) + 1);
        if (!re.Match(c.normalized, 0, c.normalized.size(), re2::RE2::UNANCHORED, sub.data(),
                      n + 1))
            continue;
        for (const auto& [name, idx] : re.NamedCapturingGroups()) {
            const auto& piece = sub[static_cast<std::size_t>(idx)];
            if (piece.data() && !c.captures.count(name))
                c.captures[name] = std::string(piece.data(), piece.size());
        }
    }
    return c;
}

void intent_matcher::self_test(diagnostics& diags) const {
    for (const auto& d : intents_) {
        for (std::size_t k = 0; k < d.examples.size(); ++k) {
            auto c = match(normalize(d.examples[k]), false, true); // (no captures needed)
            std::string ptr = d.pointer + "/examples/" + std::to_string(k);
            if (!c.has(d.id))
                diags.add(d.file, ptr, "intent.example_not_matched",
                          "example \"" + d.examples[k] + "\" does not match intent \"" + d.id +
                              "\" (normalised: \"" + c.normalized + "\")");
            else if (c.intent != d.id)
                diags.add(d.file, ptr, "intent.example_lost",
                          "example \"" + d.examples[k] + "\" matches \"" + d.id + "\" but \"" +
                              c.intent + "\" wins");
        }
        for (std::size_t k = 0; k < d.counterexamples.size(); ++k) {
            auto c = match(normalize(d.counterexamples[k]), false, true);
            if (c.has(d.id))
                diags.add(d.file, d.pointer + "/counterexamples/" + std::to_string(k),
                          "intent.counterexample_matched",
                          "counterexample \"" + d.counterexamples[k] + "\" matches intent \"" +
                              d.id + "\"");
        }
    }
}

} // namespace tandem::bot
