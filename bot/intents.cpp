#include "bot/intents.hpp"

#include "bot/json_reader.hpp"
#include "bot/normalizer.hpp"

#include <re2/filtered_re2.h>
#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <filesystem>
#include <mutex>
#include <regex>

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
//  - Every pattern without a counted repeat goes into one RE2::Set: one DFA pass over the
//    message finds all of them (~0.7 µs for the 522 such patterns of the shipped content).
//  - Patterns with counted repeats ("\bwant\b[^.?!]{0,10}\bto\b") are kept out of it when
//    there are more than a few: in a DFA each counter multiplies the states, which can then
//    no longer be cached and are rebuilt on every byte (one Set of all 709 shipped patterns
//    took ~190 µs per message). They go through a literal prefilter instead: RE2's
//    FilteredRE2 finds the strings ("atoms") each pattern cannot match without; one literal
//    RE2::Set finds the atoms in the message; only the patterns they allow are run, each
//    alone. Patterns with no atom are matched together in a small RE2::Set.
// The hits are exactly those of trying every pattern alone (test_classify_one_by_one): the
// bench checks it on every message and the matcher_fuzz target on arbitrary text.
struct intent_matcher::set_holder {
    static constexpr std::size_t counted_in_set = 16; // up to this many stay in the Set
    re2::RE2::Options options;
    std::vector<std::string> sources;         // by entry
    std::unique_ptr<re2::RE2::Set> set;       // patterns without counted repeats
    std::vector<int> set_entries;             // set index -> entry
    std::shared_ptr<re2::FilteredRE2> filter; // patterns with counted repeats
    std::vector<int> filter_entries;          // filter id -> entry (-1: a rejected pattern)
    std::unique_ptr<re2::RE2::Set> atoms;     // the filter's atoms, as literals
    std::unique_ptr<re2::RE2::Set> always;    // filtered patterns that have no atom
    std::vector<int> always_entries;          // always index -> entry
    std::vector<char> in_always;              // filter id -> 1 when in `always`
    // By entry: compiled alone. The filter's and those with named groups at once, the
    // rest on first use (call_once).
    std::vector<std::shared_ptr<const re2::RE2>> singles;
    std::once_flag singles_once;
    std::vector<char> dead; // by entry: reported too broad after the Set compiled; ignored
};

namespace {
re2::RE2::Options matcher_options() {
    re2::RE2::Options o;
    o.set_case_sensitive(false);
    o.set_log_errors(false);
    o.set_max_mem(64 << 20);
    return o;
}

// Atoms shorter than this do not filter (too common); such a pattern is always a candidate.
constexpr int min_atom_len = 3;

// Whether a pattern has a counted repeat ({n}, {n,}, {n,m}) outside character classes.
bool has_counted_repeat(std::string_view re) {
    bool in_class = false;
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
            while (j < re.size() && std::isdigit(static_cast<unsigned char>(re[j])))
                ++j;
            if (j == i + 1)
                continue;
            if (j < re.size() && re[j] == ',') {
                ++j;
                while (j < re.size() && std::isdigit(static_cast<unsigned char>(re[j])))
                    ++j;
            }
            if (j < re.size() && re[j] == '}')
                return true;
        }
    }
    return false;
}
} // namespace

intent_matcher::intent_matcher(std::vector<intent_def> intents, diagnostics& diags)
    : intents_(std::move(intents)), set_(std::make_unique<set_holder>()) {
    auto& h = *set_;
    h.options = matcher_options();
    std::size_t counted = 0;
    for (const auto& d : intents_) {
        for (const auto& p : d.patterns)
            counted += has_counted_repeat(p.source);
        for (const auto& e : d.excludes)
            counted += has_counted_repeat(e);
    }
    const bool split = counted > set_holder::counted_in_set;
    h.set = std::make_unique<re2::RE2::Set>(h.options, re2::RE2::UNANCHORED);
    if (split)
        h.filter = std::make_shared<re2::FilteredRE2>(min_atom_len);
    struct pending { // a Set pattern, checked for matching "" once the Set is compiled
        std::size_t entry;
        std::string file, ptr;
    };
    std::vector<pending> in_set;
    for (std::size_t i = 0; i < intents_.size(); ++i) {
        auto& d = intents_[i];
        if (!d.id.empty()) {
            auto [it, fresh] = by_id_.emplace(d.id, i);
            if (!fresh)
                diags.add(d.file, d.pointer + "/id", "intent.duplicate_id",
                          "intent \"" + d.id + "\" is already defined in " +
                              intents_[it->second].file);
        }
        auto add = [&](const std::string& src, int weight, const std::string& ptr,
                       intent_pattern* pat) {
            std::shared_ptr<const re2::RE2> single;
            if (split && has_counted_repeat(src)) {
                // The filter compiles it; that RE2 also serves one-by-one matching and
                // captures (shared with the filter: no pattern is compiled twice).
                int id = -1;
                if (h.filter->Add(src, h.options, &id) != re2::RE2::NoError) {
                    re2::RE2 why(src, h.options);
                    diags.add(d.file, ptr, "pattern.compile",
                              "RE2 cannot compile this pattern: " + why.error());
                    return;
                }
                h.filter_entries.push_back(-1);
                single = std::shared_ptr<const re2::RE2>(h.filter, &h.filter->GetRE2(id));
                if (re2::RE2::PartialMatch("", *single)) {
                    diags.add(d.file, ptr, "pattern.too_broad",
                              "the pattern matches an empty message, so it matches everything");
                    return;
                }
                h.filter_entries.back() = static_cast<int>(entries_.size());
            } else {
                std::string err;
                if (h.set->Add(src, &err) < 0) {
                    diags.add(d.file, ptr, "pattern.compile",
                              "RE2 cannot compile this pattern: " + err);
                    return;
                }
                h.set_entries.push_back(static_cast<int>(entries_.size()));
                in_set.push_back({entries_.size(), d.file, ptr});
                if (pat && src.find("(?P<") != std::string::npos) // named groups: captures
                    single = std::make_shared<const re2::RE2>(src, h.options);
            }
            if (pat && single && !single->NamedCapturingGroups().empty())
                pat->capture_re = single;
            entries_.push_back({i, weight});
            h.sources.push_back(src);
            h.singles.push_back(std::move(single));
        };
        for (std::size_t p = 0; p < d.patterns.size(); ++p)
            add(d.patterns[p].source, d.patterns[p].weight,
                d.pointer + "/patterns/" + std::to_string(p), &d.patterns[p]);
        for (std::size_t p = 0; p < d.excludes.size(); ++p)
            add(d.excludes[p], 0, d.pointer + "/exclude/" + std::to_string(p), nullptr);
    }

    h.dead.assign(entries_.size(), 0);
    if (h.set_entries.empty()) {
        h.set.reset();
    } else if (!h.set->Compile()) {
        diags.add("intents", "", "pattern.compile",
                  "the combined pattern set is too large for RE2's memory limit");
    } else {
        // Too broad: a pattern that matches the empty message matches everything. Such
        // patterns are reported and then ignored when ranking (weight 0, never excluded).
        std::vector<int> empty_hits;
        h.set->Match("", &empty_hits);
        for (int k : empty_hits) {
            const auto& pe = in_set[static_cast<std::size_t>(k)];
            diags.add(pe.file, pe.ptr, "pattern.too_broad",
                      "the pattern matches an empty message, so it matches everything");
            h.dead[static_cast<std::size_t>(h.set_entries[static_cast<std::size_t>(k)])] = 1;
            h.set_entries[static_cast<std::size_t>(k)] = -1;
        }
    }
    if (!h.filter)
        return;
    if (h.filter->NumRegexps() == 0) {
        h.filter.reset();
        return;
    }
    std::vector<std::string> atoms;
    h.filter->Compile(&atoms);
    if (!atoms.empty()) {
        re2::RE2::Options literal = h.options;
        literal.set_literal(true);
        h.atoms = std::make_unique<re2::RE2::Set>(literal, re2::RE2::UNANCHORED);
        for (const auto& a : atoms)
            h.atoms->Add(a, nullptr);
        if (!h.atoms->Compile())
            diags.add("intents", "", "pattern.compile",
                      "the patterns' literal prefilter is too large for RE2's memory limit");
    }
    std::vector<int> no_atoms, unfiltered;
    h.filter->AllPotentials(no_atoms, &unfiltered);
    h.in_always.assign(h.filter_entries.size(), 0);
    for (int id : unfiltered) {
        int e = h.filter_entries[static_cast<std::size_t>(id)];
        if (e < 0)
            continue;
        if (!h.always)
            h.always = std::make_unique<re2::RE2::Set>(h.options, re2::RE2::UNANCHORED);
        h.always->Add(h.sources[static_cast<std::size_t>(e)], nullptr);
        h.always_entries.push_back(e);
        h.in_always[static_cast<std::size_t>(id)] = 1;
    }
    if (h.always && !h.always->Compile())
        diags.add("intents", "", "pattern.compile",
                  "the combined pattern set is too large for RE2's memory limit");
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
    return classify_normalized(normalize(text));
}

classification intent_matcher::classify_normalized(std::string normalized) const {
    // Scratch lists per thread, reused: classification runs on every message and should not
    // allocate for them.
    thread_local std::vector<int> hits, found, candidates;
    hits.clear();
    const auto& h = *set_;
    bool failed = false;
    auto match = [&](const re2::RE2::Set& set) {
        re2::RE2::Set::ErrorInfo info{};
        found.clear();
        if (!set.Match(normalized, &found, &info) && info.kind != re2::RE2::Set::kNoError)
            failed = true;
    };
    if (h.set) {
        match(*h.set);
        for (int k : found)
            if (int e = h.set_entries[static_cast<std::size_t>(k)]; e >= 0)
                hits.push_back(e);
    }
    if (h.filter && !failed) {
        found.clear();
        if (h.atoms)
            match(*h.atoms);
        h.filter->AllPotentials(found, &candidates);
        for (int id : candidates) {
            int e = h.filter_entries[static_cast<std::size_t>(id)];
            if (e >= 0 && !h.in_always[static_cast<std::size_t>(id)] &&
                re2::RE2::PartialMatch(normalized, h.filter->GetRE2(id)))
                hits.push_back(e);
        }
        if (h.always && !failed) {
            match(*h.always);
            for (int k : found)
                hits.push_back(h.always_entries[static_cast<std::size_t>(k)]);
        }
    }
    if (failed) {
        // Out of DFA memory (should not happen with our limits): fall back to the
        // one-by-one path so a message is never silently unclassified.
        hits.clear();
        const auto& all = singles();
        for (std::size_t k = 0; k < all.size(); ++k)
            if (!h.dead[k] && re2::RE2::PartialMatch(normalized, *all[k]))
                hits.push_back(static_cast<int>(k));
    }
    return rank(std::move(normalized), hits);
}

classification intent_matcher::test_classify_one_by_one(std::string_view text) const {
    std::string n = normalize(text);
    std::vector<int> hits;
    const auto& all = singles();
    for (std::size_t k = 0; k < all.size(); ++k)
        if (!set_->dead[k] && re2::RE2::PartialMatch(n, *all[k]))
            hits.push_back(static_cast<int>(k));
    return rank(std::move(n), hits);
}

classification intent_matcher::rank(std::string normalized, const std::vector<int>& hits) const {
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
    };
    thread_local std::vector<tally> tallies;
    tallies.clear();
    for (int h : hits) {
        const auto& e = entries_[static_cast<std::size_t>(h)];
        auto it = std::find_if(tallies.begin(), tallies.end(),
                               [&](const tally& t) { return t.intent == e.intent; });
        if (it == tallies.end()) {
            tallies.push_back({e.intent, 0, false});
            it = tallies.end() - 1;
        }
        if (e.weight == 0)
            it->excluded = true;
        else
            it->score += e.weight;
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
    // Captures: only the winner's patterns that have named groups, first match wins.
    for (const auto& p : win.patterns) {
        if (!p.capture_re)
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
            auto c = classify(d.examples[k]);
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
            auto c = classify(d.counterexamples[k]);
            if (c.has(d.id))
                diags.add(d.file, d.pointer + "/counterexamples/" + std::to_string(k),
                          "intent.counterexample_matched",
                          "counterexample \"" + d.counterexamples[k] + "\" matches intent \"" +
                              d.id + "\"");
        }
    }
}

} // namespace tandem::bot
