// matcher_probe: small, single-purpose runs of the intent matcher and content::load, for
// callgrind and for same-run A/B timing (docs/performance.md, "fourth look"). Not a
// benchmark report: tandem_bench is.
//
//   matcher_probe load         one content::load of the shipped content (both locales)
//   matcher_probe loads [N]    N loads, each timed: the first, then the median of the rest
//   matcher_probe warm         load, then three passes over the bench corpus (20 000
//                              messages): measured_pass (cold), pass_b, pass_c (warm);
//                              callgrind --toggle-collect='pass_c*' counts one warm pass
//   matcher_probe norm         load, one pass, then measured_norm: normalise the corpus
//   matcher_probe time         load, one pass, then 3 timed passes (mean, p50, p99)
//   matcher_probe dump         every field of classify, both locales, every corpus message
//
// LOC=es picks the Spanish pack's matcher (warm, norm, time); ROOT=DIR another checkout.
#include "bench/corpus.hpp"
#include "bot/content.hpp"
#include "bot/diagnostics.hpp"
#include "bot/intents.hpp"
#include "bot/normalizer.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

using namespace tandem;
using clk = std::chrono::steady_clock;

namespace {

bot::content_paths paths() {
    const char* env = std::getenv("ROOT");
    const std::string r = env ? env : TANDEM_SOURCE_DIR;
    return {r + "/intents", r + "/dialogs", r + "/config/resources.json",
            r + "/config/locales.json"};
}

std::shared_ptr<bot::content> load() {
    bot::diagnostics d;
    auto c = bot::content::load(paths(), d);
    if (!d.empty()) {
        std::cerr << d.to_string();
        std::exit(1);
    }
    return c;
}

} // namespace

// Not static and not inlined: callgrind's --toggle-collect finds them by name.
__attribute__((noinline)) std::size_t measured_pass(const bot::intent_matcher& m,
                                                    const std::vector<std::string>& corpus) {
    std::size_t s = 0;
    for (const auto& msg : corpus)
        s += m.classify(msg).ranked.size();
    return s;
}
__attribute__((noinline)) std::size_t pass_b(const bot::intent_matcher& m,
                                             const std::vector<std::string>& corpus) {
    return measured_pass(m, corpus);
}
__attribute__((noinline)) std::size_t pass_c(const bot::intent_matcher& m,
                                             const std::vector<std::string>& corpus) {
    return measured_pass(m, corpus);
}
__attribute__((noinline)) std::size_t measured_norm(const std::vector<std::string>& corpus) {
    std::size_t s = 0;
    for (const auto& msg : corpus)
        s += bot::normalize(msg).size();
    return s;
}
__attribute__((noinline)) void measured_load() {
    auto c = load();
}

int main(int argc, char** argv) {
    const std::string mode = argc > 1 ? argv[1] : "warm";
    if (mode == "load") {
        measured_load();
        return 0;
    }
    if (mode == "loads") {
        const int n = std::max(2, argc > 2 ? std::atoi(argv[2]) : 7);
        std::vector<double> t;
        for (int i = 0; i < n; ++i) {
            auto t0 = clk::now();
            measured_load();
            t.push_back(std::chrono::duration<double, std::milli>(clk::now() - t0).count());
        }
        std::printf("first %.1f ms; all:", t[0]);
        for (double x : t)
            std::printf(" %.1f", x);
        std::vector<double> rest(t.begin() + 1, t.end());
        std::sort(rest.begin(), rest.end());
        std::printf("; median of the rest %.1f ms\n", rest[rest.size() / 2]);
        return 0;
    }
    if (mode != "warm" && mode != "norm" && mode != "time" && mode != "dump") {
        std::cerr << "usage: matcher_probe load|loads [N]|warm|norm|time|dump\n";
        return 2;
    }
    auto c = load();
    const auto corpus = bench::make_corpus(20000);
    if (mode == "dump") {
        for (const auto& msg : corpus) {
            for (const auto* m : {&c->matcher(), &c->for_locale("es").matcher()}) {
                auto r = m->classify(msg);
                std::cout << r.intent << '|' << r.topic << '|' << r.confidence << '|';
                for (const auto& x : r.ranked)
                    std::cout << x.intent << ':' << x.priority << ':' << x.score << ',';
                std::cout << '|';
                for (const auto& [k, v] : r.captures)
                    std::cout << k << '=' << v << ',';
                std::cout << '|' << (r.safety ? r.safety->kind + r.safety->tier : "-") << '|'
                          << r.normalized << '\n';
            }
        }
        return 0;
    }
    const char* loc = std::getenv("LOC");
    const auto& m = c->for_locale(loc ? loc : "").matcher();
    std::size_t s = measured_pass(m, corpus); // builds the DFA states
    if (mode == "warm") {
        s += pass_b(m, corpus);
        s += pass_c(m, corpus);
    } else if (mode == "norm") {
        s += measured_norm(corpus);
    } else {
        for (int r = 0; r < 3; ++r) {
            auto t0 = clk::now();
            s += measured_pass(m, corpus);
            const double mean = std::chrono::duration<double, std::nano>(clk::now() - t0).count() /
                                static_cast<double>(corpus.size());
            std::vector<double> per;
            per.reserve(corpus.size());
            for (const auto& msg : corpus) {
                auto a = clk::now();
                s += m.classify(msg).ranked.size();
                per.push_back(std::chrono::duration<double, std::nano>(clk::now() - a).count());
            }
            std::sort(per.begin(), per.end());
            std::printf("classify: mean %.0f ns, p50 %.0f ns, p99 %.0f ns\n", mean,
                        per[per.size() / 2], per[per.size() * 99 / 100]);
        }
    }
    if (s == 42)
        std::cerr << "";
    return 0;
}
