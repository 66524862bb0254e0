// Commands for content authors: check, classify, eval, graph.
#include "app/commands.hpp"
#include "app/runtime.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

namespace tandem::app {

namespace {

struct content_overrides {
    std::string intents, dialogs, resources;
};

bool parse_overrides(args_t& args, content_overrides& o, std::string& err) {
    args_t rest;
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string* dst = nullptr;
        if (args[i] == "--intents")
            dst = &o.intents;
        else if (args[i] == "--dialogs")
            dst = &o.dialogs;
        else if (args[i] == "--resources")
            dst = &o.resources;
        if (!dst) {
            rest.push_back(args[i]);
            continue;
        }
        if (i + 1 >= args.size()) {
            err = args[i] + " needs a value";
            return false;
        }
        *dst = args[++i];
    }
    args = std::move(rest);
    return true;
}

// Loads content for a tool; prints problems. Returns nullptr when there were problems
// and allow_problems is false.
std::shared_ptr<const bot::content> load_for_tool(const common_options& common,
                                                  const content_overrides& o, bool allow_problems,
                                                  bot::diagnostics& diags, double* ms = nullptr) {
    auto cfg = open_config(common);
    if (!cfg)
        return nullptr;
    auto paths = content_paths_for(*cfg);
    if (!o.intents.empty())
        paths.intents_dir = o.intents;
    if (!o.dialogs.empty())
        paths.dialogs_dir = o.dialogs;
    if (!o.resources.empty())
        paths.resources_file = o.resources;
    auto t0 = std::chrono::steady_clock::now();
    auto c = bot::content::load(paths, diags);
    auto t1 = std::chrono::steady_clock::now();
    if (ms)
        *ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
    if (!diags.empty() && !allow_problems) {
        std::cerr << "tandem: the content has " << diags.size() << " problem(s):\n"
                  << diags.to_string();
        return nullptr;
    }
    return c;
}

// Takes "--language CODE" out of args (the default language when absent).
bool parse_language(args_t& args, std::string& language, std::string& err) {
    args_t rest;
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (args[i] != "--language") {
            rest.push_back(args[i]);
            continue;
        }
        if (i + 1 >= args.size()) {
            err = "--language needs a language code, e.g. es";
            return false;
        }
        language = args[++i];
    }
    args = std::move(rest);
    return true;
}

// The content a tool classifies with: the default language, or the pack for --language.
const bot::content* content_for_language(const bot::content& c, const std::string& language,
                                         const char* cmd) {
    if (language.empty())
        return &c;
    auto code = c.locale_for(language);
    if (!code || (*code != c.locale() && &c.for_locale(*code) == &c)) {
        std::cerr << "tandem " << cmd << ": no language \"" << language
                  << "\" (config/locales.json lists the languages)\n";
        return nullptr;
    }
    return &c.for_locale(*code);
}

std::string json_line(const nlohmann::json& j) {
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

} // namespace

int cmd_check(args_t args) {
    common_options common;
    content_overrides o;
    std::string err;
    if (!parse_common(args, common, err) || !parse_overrides(args, o, err)) {
        std::cerr << "tandem check: " << err << "\n";
        return 2;
    }
    bool strict = false, verbose = false;
    for (const auto& a : args) {
        if (a == "--strict") {
            strict = true;
        } else if (a == "--verbose") {
            verbose = true;
        } else {
            std::cerr
                << "tandem check: unknown option \"" << a
                << "\"\nusage: tandem check [--strict] [--verbose] [--intents DIR] [--dialogs DIR] "
                   "[--resources FILE] [--config FILE]\n";
            return 2;
        }
    }
    bot::diagnostics diags;
    double ms = 0;
    auto c = load_for_tool(common, o, true, diags, &ms);
    if (!c)
        return 1;
    if (verbose)
        for (const auto& w : c->warnings())
            std::cout << "warning: " << w << "\n";
    else if (!c->warnings().empty())
        std::cout << "warning: " << c->warnings().size()
                  << " helpline entries are not yet verified by a person (--verbose lists "
                     "them; --strict fails on them)\n";
    if (!diags.empty()) {
        std::cout << diags.to_string();
        std::cout << diags.size() << " problem(s) found.\n";
        return 1;
    }
    std::size_t nodes = 0;
    for (const auto& [_, d] : c->dialogs())
        nodes += d.nodes.size();
    std::size_t examples = 0;
    for (const auto& i : c->matcher().intents())
        examples += i.examples.size() + i.counterexamples.size();
    std::cout << "ok: " << c->matcher().intents().size() << " intents ("
              << c->matcher().pattern_count() << " patterns, " << examples << " examples checked), "
              << c->dialogs().size() << " dialogs (" << nodes << " nodes), "
              << c->resources().regions().size() << " resource regions; loaded in " << std::fixed
              << std::setprecision(1) << ms << " ms\n";
    if (strict && !c->warnings().empty()) {
        std::cout << c->warnings().size() << " warning(s) are errors with --strict.\n";
        return 1;
    }
    return 0;
}

int cmd_classify(args_t args) {
    common_options common;
    content_overrides o;
    std::string err;
    std::string language;
    if (!parse_common(args, common, err) || !parse_overrides(args, o, err) ||
        !parse_language(args, language, err) || !args.empty()) {
        std::cerr << "tandem classify: " << (err.empty() ? "unknown option " + args[0] : err)
                  << "\nusage: tandem classify [--language CODE] [--config FILE] < messages.txt\n";
        return 2;
    }
    bot::diagnostics diags;
    auto all = load_for_tool(common, o, false, diags);
    if (!all)
        return 1;
    const auto* c = content_for_language(*all, language, "classify");
    if (!c)
        return 2;
    std::string line;
    while (std::getline(std::cin, line)) {
        if (!line.empty() && line.back() == '\r')
            line.pop_back();
        auto r = c->matcher().classify(line);
        nlohmann::json ranked = nlohmann::json::array();
        for (const auto& x : r.ranked)
            ranked.push_back({{"intent", x.intent}, {"score", x.score}});
        nlohmann::json out = {{"text", line},     {"intent", r.intent},
                              {"topic", r.topic}, {"confidence", r.confidence},
                              {"ranked", ranked}, {"captures", r.captures}};
        std::cout << json_line(out) << "\n";
    }
    return 0;
}

int cmd_eval(args_t args) {
    common_options common;
    content_overrides o;
    std::string err;
    std::string language;
    if (!parse_common(args, common, err) || !parse_overrides(args, o, err) ||
        !parse_language(args, language, err)) {
        std::cerr << "tandem eval: " << err << "\n";
        return 2;
    }
    std::string file;
    double min_acc = 0, min_safety_recall = 0;
    long max_safety_fp = -1;
    bool quiet = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
        auto num = [&](double& dst) {
            if (i + 1 >= args.size())
                return false;
            try {
                dst = std::stod(args[++i]);
            } catch (...) {
                return false;
            }
            return dst >= 0 && dst <= 1;
        };
        if (args[i] == "--min-accuracy") {
            if (!num(min_acc)) {
                std::cerr << "tandem eval: --min-accuracy needs a number from 0 to 1\n";
                return 2;
            }
        } else if (args[i] == "--min-safety-recall") {
            if (!num(min_safety_recall)) {
                std::cerr << "tandem eval: --min-safety-recall needs a number from 0 to 1\n";
                return 2;
            }
        } else if (args[i] == "--max-safety-false-positives" && i + 1 < args.size()) {
            try {
                max_safety_fp = std::stol(args[++i]);
            } catch (...) {
                std::cerr << "tandem eval: --max-safety-false-positives needs a whole number\n";
                return 2;
            }
        } else if (args[i] == "--quiet") {
            quiet = true;
        } else if (file.empty() && args[i].rfind("--", 0) != 0) {
            file = args[i];
        } else {
            std::cerr << "tandem eval: unknown option \"" << args[i] << "\"\n";
            return 2;
        }
    }
    if (file.empty()) {
        std::cerr << "usage: tandem eval FILE.jsonl [--language CODE] [--min-accuracy X] "
                     "[--min-safety-recall X] [--max-safety-false-positives N] [--quiet]\n";
        return 2;
    }
    std::ifstream in(file);
    if (!in) {
        std::cerr << "tandem eval: cannot open " << file << "\n";
        return 2;
    }
    bot::diagnostics diags;
    auto all = load_for_tool(common, o, false, diags);
    if (!all)
        return 1;
    const auto* c = content_for_language(*all, language, "eval");
    if (!c)
        return 2;

    struct row {
        std::string text, want, got, intent;
        std::size_t line;
    };
    std::vector<row> rows;
    std::size_t bad = 0, lineno = 0;
    std::string line;
    while (std::getline(in, line)) {
        ++lineno;
        if (line.find_first_not_of(" \t\r") == std::string::npos)
            continue;
        try {
            auto j = nlohmann::json::parse(line);
            std::string text = j.at("text").get<std::string>();
            std::string want = j.at("intent").get<std::string>();
            if (!bot::is_core_topic(want))
                throw std::runtime_error("\"" + want + "\" is not a core topic");
            auto r = c->matcher().classify(text);
            rows.push_back({text, want, r.topic, r.intent, lineno});
        } catch (const std::exception& e) {
            std::cerr << file << ":" << lineno << ": skipped: " << e.what() << "\n";
            ++bad;
        }
    }
    if (rows.empty()) {
        std::cerr << "tandem eval: no labeled lines in " << file << "\n";
        return 2;
    }
    std::map<std::string, std::size_t> tp, fp, fn;
    std::map<std::pair<std::string, std::string>, std::size_t> confusion;
    std::size_t correct = 0, safety_total = 0, safety_hit = 0, safety_fp = 0;
    for (const auto& r : rows) {
        if (r.want == r.got) {
            ++correct;
            ++tp[r.want];
        } else {
            ++fp[r.got];
            ++fn[r.want];
            ++confusion[{r.want, r.got}];
        }
        if (r.want == "safety") {
            ++safety_total;
            safety_hit += r.got == "safety";
        } else if (r.got == "safety") {
            ++safety_fp;
        }
    }
    double acc = static_cast<double>(correct) / static_cast<double>(rows.size());
    double srec =
        safety_total ? static_cast<double>(safety_hit) / static_cast<double>(safety_total) : 1.0;
    std::printf("tandem eval %s (language: %s)\n", file.c_str(), c->locale().c_str());
    std::printf("lines: %zu  correct: %zu  accuracy: %.4f\n", rows.size(), correct, acc);
    std::printf("safety recall: %.4f (%zu/%zu)  safety false positives: %zu\n\n", srec, safety_hit,
                safety_total, safety_fp);
    std::printf("%-22s %9s %9s %7s\n", "topic", "precision", "recall", "n");
    for (const auto& t : bot::core_topics()) {
        std::size_t n = tp[t] + fn[t];
        if (n == 0 && fp[t] == 0)
            continue;
        double p =
            tp[t] + fp[t] ? static_cast<double>(tp[t]) / static_cast<double>(tp[t] + fp[t]) : 0;
        double rc = n ? static_cast<double>(tp[t]) / static_cast<double>(n) : 0;
        std::printf("%-22s %9.3f %9.3f %7zu\n", t.c_str(), p, rc, n);
    }
    std::vector<std::pair<std::size_t, std::pair<std::string, std::string>>> conf;
    for (const auto& [k, v] : confusion)
        conf.push_back({v, k});
    std::sort(conf.begin(), conf.end(),
              [](const auto& a, const auto& b) { return a.first > b.first; });
    if (!conf.empty()) {
        std::printf("\nmost frequent confusions (expected -> got):\n");
        for (std::size_t i = 0; i < conf.size() && i < 10; ++i)
            std::printf("  %3zu  %s -> %s\n", conf[i].first, conf[i].second.first.c_str(),
                        conf[i].second.second.c_str());
    }
    if (!quiet && correct < rows.size()) {
        std::printf("\nmisclassified:\n");
        for (const auto& r : rows)
            if (r.want != r.got)
                std::printf("  %s:%zu  want %s, got %s (%s): %s\n", file.c_str(), r.line,
                            r.want.c_str(), r.got.c_str(), r.intent.c_str(), r.text.c_str());
    }
    bool pass = true;
    if (acc < min_acc) {
        std::printf("\nFAIL: accuracy %.4f is below --min-accuracy %.4f\n", acc, min_acc);
        pass = false;
    }
    if (srec < min_safety_recall) {
        std::printf("FAIL: safety recall %.4f is below --min-safety-recall %.4f\n", srec,
                    min_safety_recall);
        pass = false;
    }
    if (max_safety_fp >= 0 && static_cast<long>(safety_fp) > max_safety_fp) {
        std::printf("FAIL: %zu safety false positives, more than %ld\n", safety_fp, max_safety_fp);
        pass = false;
    }
    if (bad) {
        std::printf("FAIL: %zu malformed line(s) skipped\n", bad);
        pass = false;
    }
    return pass ? 0 : 1;
}

namespace {
std::string dot_escape(const std::string& s, std::size_t max = 60) {
    std::string out;
    std::string t = s.size() > max ? s.substr(0, max) + "..." : s;
    for (char ch : t) {
        if (ch == '"' || ch == '\\')
            out += '\\';
        if (ch == '\n') {
            out += "\\n";
            continue;
        }
        out += ch;
    }
    return out;
}
} // namespace

int cmd_graph(args_t args) {
    common_options common;
    content_overrides o;
    std::string err;
    if (!parse_common(args, common, err) || !parse_overrides(args, o, err)) {
        std::cerr << "tandem graph: " << err << "\n";
        return 2;
    }
    std::string id, out_file;
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--out" && i + 1 < args.size())
            out_file = args[++i];
        else if (id.empty() && args[i].rfind("--", 0) != 0)
            id = args[i];
        else {
            std::cerr << "tandem graph: unknown option \"" << args[i] << "\"\n";
            return 2;
        }
    }
    if (id.empty()) {
        std::cerr << "usage: tandem graph DIALOG [--out FILE.dot]\n";
        return 2;
    }
    bot::diagnostics diags;
    auto c = load_for_tool(common, o, true, diags);
    if (!c)
        return 1;
    const auto* d = c->dialog(id);
    if (!d) {
        std::cerr << "tandem graph: no dialog \"" << id << "\". Dialogs:";
        for (const auto& [k, _] : c->dialogs())
            std::cerr << " " << k;
        std::cerr << "\n";
        return 1;
    }
    std::ostringstream dot;
    dot << "digraph \"" << dot_escape(d->id) << "\" {\n  rankdir=TB;\n  labelloc=t;\n  label=\""
        << dot_escape(d->title) << " (" << dot_escape(d->id) << " v" << d->version << ")\";\n"
        << "  node [shape=box, style=\"rounded,filled\", fillcolor=\"#f5f1ea\", "
           "fontname=\"Helvetica\", fontsize=10];\n"
        << "  edge [fontname=\"Helvetica\", fontsize=9];\n";
    for (const auto& nid : d->node_order) {
        const auto& n = d->nodes.at(nid);
        std::string text;
        if (!n.say.empty() && !n.say[0].empty())
            text = n.say[0][0];
        if (!n.ask.empty())
            text += (text.empty() ? "" : "\n") + n.ask[0];
        std::string shape = n.end             ? ", shape=doubleoctagon, fillcolor=\"#e3eedc\""
                            : nid == d->start ? ", fillcolor=\"#dce8f3\""
                                              : "";
        dot << "  \"" << dot_escape(nid) << "\" [label=\"" << dot_escape(nid) << "\\n"
            << dot_escape(text, 80) << "\"" << shape << "];\n";
        auto edge = [&](const std::string& to, const std::string& label, const char* style = "") {
            if (!to.empty())
                dot << "  \"" << dot_escape(nid) << "\" -> \"" << dot_escape(to) << "\" [label=\""
                    << dot_escape(label, 30) << "\"" << style << "];\n";
        };
        for (const auto& opt : n.options) {
            if (!opt.next.empty())
                edge(opt.next, opt.label);
            else if (!opt.start.empty()) {
                dot << "  \"dialog:" << dot_escape(opt.start)
                    << "\" [shape=note, fillcolor=\"#fff6d5\", label=\"-> " << dot_escape(opt.start)
                    << "\"];\n";
                edge("dialog:" + opt.start, opt.label);
            }
        }
        if (n.capture)
            edge(n.capture->next, "{" + n.capture->slot + "}", ", style=dashed");
        for (const auto& [intent, to] : n.expect)
            edge(to, "(" + intent + ")", ", style=dotted");
        for (const auto& b : n.branch)
            edge(b.next, b.when ? "if" : "else", ", color=\"#888888\"");
        edge(n.next, "");
        edge(n.fallback, "not understood", ", style=dotted");
        if (!n.start.empty()) {
            dot << "  \"dialog:" << dot_escape(n.start)
                << "\" [shape=note, fillcolor=\"#fff6d5\", label=\"-> " << dot_escape(n.start)
                << "\"];\n";
            edge("dialog:" + n.start, "");
        }
    }
    dot << "}\n";
    if (out_file.empty()) {
        std::cout << dot.str();
        return 0;
    }
    {
        std::ofstream f(out_file);
        f << dot.str();
        if (!f) {
            std::cerr << "tandem graph: cannot write " << out_file << "\n";
            return 1;
        }
    }
    std::cout << "wrote " << out_file << "\n";
    if (std::system("command -v dot >/dev/null 2>&1") == 0) {
        std::string svg = out_file.substr(0, out_file.rfind('.')) + ".svg";
        std::string cmd = "dot -Tsvg '" + out_file + "' -o '" + svg + "'";
        if (out_file.find('\'') == std::string::npos && std::system(cmd.c_str()) == 0)
            std::cout << "wrote " << svg << "\n";
    }
    return 0;
}

} // namespace tandem::app
