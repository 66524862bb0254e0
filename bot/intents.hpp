// Intents: what a message means. Loaded from intents/*.json (docs/content-format.md §2),
// compiled into one RE2::Set, and matched once per message.
#pragma once

#include "bot/diagnostics.hpp"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace re2 {
class RE2;
} // namespace re2

namespace tandem::bot {

// The core topics every intent belongs to.
const std::vector<std::string>& core_topics();
bool is_core_topic(std::string_view topic);
// Safety kinds and whether a kind puts a conversation in safety mode.
const std::vector<std::string>& safety_kinds();
bool is_safety_mode_kind(std::string_view kind);

struct safety_info {
    std::string kind; // e.g. "suicide_ideation", "check"
    std::string tier; // "A", "B" or "C"
};

struct intent_pattern {
    std::string source;
    int weight = 1;
    std::shared_ptr<const re2::RE2> capture_re; // set only when the pattern has named groups
};

struct intent_def {
    std::string id;
    std::string topic;
    std::string description;
    std::string file;    // where it was defined
    std::string pointer; // JSON pointer of the intent in the file
    int priority = 50;
    // A question form ("is it normal that...", "how do I ask for..."): its dialog runs,
    // but the message's topic is the best-ranked relationship topic that also matched.
    bool topic_from_content = false;
    std::vector<intent_pattern> patterns;
    // Excludes: where one matches, the intent's patterns in that clause are not what they
    // seem (an idiom: "could kill him for"). Message excludes silence the intent for the
    // whole message (a context that explains every clause: "paintball").
    std::vector<std::string> excludes;
    std::vector<std::string> message_excludes;
    std::vector<std::string> examples;
    std::vector<std::string> counterexamples;
    std::optional<safety_info> safety;
};

struct ranked_intent {
    std::string intent;
    int priority = 0;
    int score = 0;
};

struct classification {
    std::string intent = "fallback"; // winner, or "fallback" when nothing matched
    std::string topic = "out_of_scope";
    double confidence = 0;
    std::vector<ranked_intent> ranked;           // every matching intent, best first
    std::map<std::string, std::string> captures; // named groups of the winner's patterns
    std::optional<safety_info> safety;           // the winner's safety block
    std::string normalized;                      // the normalised text (never logged)
    bool matched() const { return intent != "fallback"; }
    bool has(std::string_view id) const; // id matched (ranked anywhere)
};

// Parses intent files; reports every problem. Patterns are not compiled here.
std::vector<intent_def> load_intent_files(const std::vector<std::string>& files,
                                          diagnostics& diags);
// Lists "*.json" files of a folder, sorted by name (reports "file.read" when missing).
std::vector<std::string> list_json_files(const std::string& dir, diagnostics& diags);

namespace detail {
// The alternatives the matcher adds to its RE2::Set for one pattern (or piece): their union
// is the pattern's language (intents.cpp, "spreading"). Exposed for the unit tests.
std::vector<std::string> spread_set_entry(std::string_view re);
// One Set entry rewritten for the case-sensitive Set (intents.cpp, "case folding"): on text
// without ASCII upper-case letters it matches where the case-insensitive entry does.
std::string fold_free_set_entry(std::string_view re);
// The clauses of a normalised message for scoping excludes: cut at . ? ! ; and before each
// whole-word occurrence of a clause word ("but", "although"); empty pieces dropped.
std::vector<std::string_view> split_clauses(std::string_view normalized,
                                            const std::vector<std::string>& clause_words);
} // namespace detail

class intent_matcher {
  public:
    // Compiles the patterns for matching together (see intents.cpp). Reports
    // "pattern.compile", "pattern.too_broad", "intent.duplicate_id". The matcher is usable
    // (without the bad patterns) even then. `clause_words` (normalised) scope excludes: an
    // exclude silences its intent only in the clauses it matches in (docs/content-format.md,
    // "Excludes work clause by clause").
    intent_matcher(std::vector<intent_def> intents, diagnostics& diags,
                   std::vector<std::string> clause_words = {});
    ~intent_matcher();
    intent_matcher(const intent_matcher&) = delete;
    intent_matcher& operator=(const intent_matcher&) = delete;

    // Normalises and classifies. Thread-safe.
    classification classify(std::string_view text) const;
    classification classify_normalized(std::string normalized) const;

    // Runs every intent's examples and counterexamples; reports
    // "intent.example_not_matched", "intent.example_lost", "intent.counterexample_matched".
    void self_test(diagnostics& diags) const;

    const intent_def* find(std::string_view id) const;
    const std::vector<intent_def>& intents() const { return intents_; }
    std::size_t pattern_count() const { return entries_.size(); }

    // Baseline for benchmarks: tries each pattern one by one (no set). Same result.
    classification test_classify_one_by_one(std::string_view text) const;

  private:
    struct entry {
        std::size_t intent;
        int weight;         // 0 for an exclude pattern
        bool whole = false; // a message exclude
    };
    // classify_normalized; `captures` false skips the winner's named groups (self-test).
    // `lower_ascii`: the text comes from normalize(), so it has no ASCII upper-case letters.
    classification match(std::string normalized, bool captures, bool lower_ascii) const;
    // The entries matching `text` (sorted, unique), by the Set or, with `one_by_one` (or text
    // the Set cannot take), by every pattern alone.
    void collect(std::string_view text, bool lower_ascii, bool one_by_one,
                 std::vector<int>& hits) const;
    // `hits`: matched entries, sorted and unique. An intent with an exclude among them is
    // kept when some clause of the text has its patterns without the exclude (found the same
    // way: `one_by_one`).
    classification rank(std::string normalized, const std::vector<int>& hits, bool captures,
                        bool one_by_one) const;
    // Every pattern compiled alone, by entry (compiled on first use: only the one-by-one
    // baseline and the out-of-memory fallback need them all).
    const std::vector<std::shared_ptr<const re2::RE2>>& singles() const;

    std::vector<intent_def> intents_;
    std::vector<entry> entries_;
    std::vector<std::string> clause_words_;
    struct set_holder;
    std::unique_ptr<set_holder> set_;
    std::map<std::string, std::size_t, std::less<>> by_id_;
};

} // namespace tandem::bot
