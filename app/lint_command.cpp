// tandem lint: the authoring report the validator does not give. It reads the content as a
// whole and points at intents that can never win, examples that several intents claim,
// patterns that match almost anything, and dialogs no user can reach.
#include "app/commands.hpp"
#include "app/runtime.hpp"

#include "bot/normalizer.hpp"

#include <re2/re2.h>

#include <deque>
#include <iostream>
#include <map>
#include <set>

namespace tandem::app {

namespace {

struct finding {
    std::string where, code, message;
};

void lint_intents(const bot::content& c, std::vector<finding>& out) {
    const auto& m = c.matcher();
    // Every example of every intent is also the corpus for "matches almost everything".
    std::vector<std::pair<std::string, std::string>> corpus; // normalised text, topic
    for (const auto& d : m.intents())
        for (const auto& e : d.examples)
            corpus.push_back({bot::normalize(e), d.topic});

    for (const auto& d : m.intents()) {
        std::string where = d.file + ":" + d.pointer;
        // Can it ever win? Look at its own examples.
        std::map<std::string, int> winners;
        int wins = 0;
        for (const auto& e : d.examples) {
            auto r = m.classify(e);
            if (r.intent == d.id)
                ++wins;
            else if (r.has(d.id))
                ++winners[r.intent];
            // Claimed by another intent too (it matches, but loses).
            for (const auto& x : r.ranked)
                if (x.intent != d.id && x.intent != r.intent && r.intent == d.id) {
                    const auto* other = m.find(x.intent);
                    if (other && other->topic != d.topic)
                        out.push_back({where, "lint.example_shared",
                                       "example \"" + e + "\" also matches \"" + x.intent + "\" (" +
                                           other->topic +
                                           "); fine if intended, but "
                                           "a small rewording could flip it"});
                }
        }
        if (!d.examples.empty() && wins == 0) {
            std::string by;
            for (const auto& [w, n] : winners)
                by += (by.empty() ? "" : ", ") + w;
            out.push_back({where, "lint.never_wins",
                           "intent \"" + d.id + "\" wins on none of its own examples" +
                               (by.empty() ? std::string(" (it matches none of them)")
                                           : " (shadowed by " + by + ")")});
        }
        if (d.examples.empty())
            out.push_back({where, "lint.no_examples",
                           "intent \"" + d.id + "\" has no examples, so nothing tests it"});
        // Patterns that match a large share of other topics' examples.
        re2::RE2::Options o;
        o.set_case_sensitive(false);
        o.set_log_errors(false);
        for (std::size_t p = 0; p < d.patterns.size(); ++p) {
            re2::RE2 re(d.patterns[p].source, o);
            if (!re.ok())
                continue;
            std::size_t others = 0, hit = 0;
            for (const auto& [text, topic] : corpus) {
                if (topic == d.topic)
                    continue;
                ++others;
                if (re2::RE2::PartialMatch(text, re))
                    ++hit;
            }
            if (others >= 20 && hit * 5 > others)
                out.push_back({d.file + ":" + d.pointer + "/patterns/" + std::to_string(p),
                               "lint.too_broad",
                               "matches " + std::to_string(hit) + " of " + std::to_string(others) +
                                   " examples of other topics: \"" + d.patterns[p].source + "\""});
        }
    }
}

void lint_dialogs(const bot::content& c, std::vector<finding>& out) {
    // A dialog is reachable when an intent starts it, or a reachable dialog starts it.
    std::set<std::string> reached;
    std::deque<std::string> todo;
    auto reach = [&](const std::string& id) {
        if (c.dialog(id) && reached.insert(id).second)
            todo.push_back(id);
    };
    for (const auto& [id, d] : c.dialogs())
        if (!d.triggers.empty())
            reach(id);
    for (const auto& id : bot::required_dialogs())
        reach(id);
    while (!todo.empty()) {
        const auto* d = c.dialog(todo.front());
        todo.pop_front();
        for (const auto& [nid, n] : d->nodes) {
            reach(n.start);
            if (n.checkin)
                reach(n.checkin->dialog);
            for (const auto& o : n.options)
                reach(o.start);
        }
    }
    for (const auto& [id, d] : c.dialogs())
        if (!reached.count(id))
            out.push_back({d.file, "lint.dialog_unreachable",
                           "no intent and no other dialog starts \"" + id + "\""});
    // Topic dialogs should be reachable from the menu, not only by matching words.
    std::set<std::string> from_menu;
    std::deque<std::string> q{"menu"};
    while (!q.empty()) {
        const auto* d = c.dialog(q.front());
        q.pop_front();
        if (!d || !from_menu.insert(d->id).second)
            continue;
        for (const auto& [nid, n] : d->nodes) {
            if (!n.start.empty())
                q.push_back(n.start);
            for (const auto& o : n.options)
                if (!o.start.empty())
                    q.push_back(o.start);
        }
    }
    for (const auto& [id, d] : c.dialogs())
        if (d.closeness_work && !from_menu.count(id))
            out.push_back({d.file, "lint.not_in_menu",
                           "topic dialog \"" + id + "\" cannot be reached from the menu"});
}

} // namespace

int cmd_lint(args_t args) {
    common_options common;
    std::string err;
    if (!parse_common(args, common, err)) {
        std::cerr << "tandem lint: " << err << "\n";
        return 2;
    }
    bool strict = false;
    for (const auto& a : args) {
        if (a == "--strict") {
            strict = true;
        } else {
            std::cerr << "tandem lint: unknown option \"" << a
                      << "\"\nusage: tandem lint [--strict] [--config FILE]\n";
            return 2;
        }
    }
    auto rt = open_runtime(common, false);
    if (!rt)
        return 1;
    std::vector<finding> found;
    lint_intents(*rt->content, found);
    lint_dialogs(*rt->content, found);
    for (const auto& f : found)
        std::cout << f.where << ": " << f.code << ": " << f.message << "\n";
    std::cout << found.size() << " finding(s).\n";
    return strict && !found.empty() ? 1 : 0;
}

} // namespace tandem::app
