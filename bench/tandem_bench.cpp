// tandem_bench: how fast the core is, against references measured in the same run.
//
//   tandem_bench [--content auto|shipped|fixture|DIR] [--runs N] [--quick]
//                [--markdown FILE] [--csv FILE] [--data DIR] [--root DIR]
//
// Every figure is the median of --runs runs. Prints one markdown report on stdout (and
// to --markdown FILE); --csv writes throughput and p99 by concurrency for the plot.
// Exits 1 when the benchmark itself finds a fault (the set and the one-by-one matcher
// disagree, or a turn's state is not committed when its reply is returned); a target
// that is missed is reported as "short", not as a failure.
#include "bench/corpus.hpp"

#include "bot/bot_service.hpp"
#include "bot/content.hpp"
#include "bot/conversation_store.hpp"
#include "bot/json_reader.hpp"
#include "bot/normalizer.hpp"
#include "bot/turn_processor.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <numeric>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#ifndef TANDEM_SOURCE_DIR
#define TANDEM_SOURCE_DIR "."
#endif

namespace fs = std::filesystem;
namespace net = boost::asio;
using namespace tandem;
using clk = std::chrono::steady_clock;

namespace {

struct options {
    std::string content = "auto";
    std::string root = TANDEM_SOURCE_DIR;
    std::string data; // where the SQLite files go (default: a fresh folder under /tmp)
    std::string markdown;
    std::string csv;
    bool quick = false;
    int runs = 5;
    std::size_t corpus = 20000;
    std::size_t turns = 20000;
    std::size_t conversations = 2000; // live conversations in the turn benchmarks
    std::size_t held = 100000;        // conversations held for the memory figure
    std::vector<int> concurrency = {1, 2, 4, 8, 16, 32, 64};
    int threads = 2; // core.threads of the service in the concurrency sweep
};

[[noreturn]] void usage(const std::string& why) {
    std::cerr << "tandem_bench: " << why << "\n"
              << "usage: tandem_bench [--content auto|shipped|fixture|DIR] [--runs N] [--quick]\n"
                 "                    [--markdown FILE] [--csv FILE] [--data DIR] [--root DIR]\n"
                 "                    [--held N] [--turns N] [--threads N]\n";
    std::exit(2);
}

options parse(int argc, char** argv) {
    options o;
    std::vector<std::string> a(argv + 1, argv + argc);
    for (std::size_t i = 0; i < a.size(); ++i) {
        auto value = [&]() -> std::string {
            if (i + 1 >= a.size())
                usage(a[i] + " needs a value");
            return a[++i];
        };
        auto number = [&]() -> std::size_t {
            std::string v = value();
            try {
                long long n = std::stoll(v);
                if (n < 1)
                    throw std::out_of_range("");
                return static_cast<std::size_t>(n);
            } catch (const std::exception&) {
                usage("not a positive number: " + v);
            }
        };
        if (a[i] == "--content")
            o.content = value();
        else if (a[i] == "--root")
            o.root = value();
        else if (a[i] == "--data")
            o.data = value();
        else if (a[i] == "--markdown")
            o.markdown = value();
        else if (a[i] == "--csv")
            o.csv = value();
        else if (a[i] == "--runs")
            o.runs = static_cast<int>(number());
        else if (a[i] == "--held")
            o.held = number();
        else if (a[i] == "--turns")
            o.turns = number();
        else if (a[i] == "--threads")
            o.threads = static_cast<int>(number());
        else if (a[i] == "--quick")
            o.quick = true;
        else if (a[i] == "--help" || a[i] == "-h")
            usage("help");
        else
            usage("unknown argument " + a[i]);
    }
    if (o.quick) {
        o.runs = 1;
        o.corpus = 500;
        o.turns = 300;
        o.conversations = 50;
        o.held = std::min<std::size_t>(o.held, 2000);
        o.concurrency = {1, 8};
    }
    return o;
}

// --- small statistics helpers ----------------------------------------------------------

double median(std::vector<double> v) {
    if (v.empty())
        return 0;
    std::sort(v.begin(), v.end());
    std::size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double percentile(std::vector<double>& v, double p) {
    if (v.empty())
        return 0;
    std::sort(v.begin(), v.end());
    auto idx = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size()))) - 1;
    return v[std::min(idx, v.size() - 1)];
}

double secs(clk::duration d) {
    return std::chrono::duration<double>(d).count();
}
double ns(clk::duration d) {
    return std::chrono::duration<double, std::nano>(d).count();
}

std::string fmt(double v, int decimals = 0) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    // Thousands separated by spaces, for reading.
    std::string digits = buf, out;
    std::size_t start = digits[0] == '-' ? 1 : 0;
    std::size_t end = std::min(digits.find('.'), digits.size());
    out.append(digits, 0, start);
    for (std::size_t i = start; i < end; ++i) {
        out += digits[i];
        std::size_t left = end - i - 1;
        if (left > 0 && left % 3 == 0)
            out += ' ';
    }
    out.append(digits, end, std::string::npos);
    return out;
}

std::string fmt_us(double ns_value) {
    return fmt(ns_value / 1000.0, ns_value < 10000 ? 2 : 1) + " µs";
}

// --- content -----------------------------------------------------------------------------

struct chosen_content {
    std::string name;
    bot::content_paths paths;
    std::string note;
};

bot::content_paths shipped_paths(const fs::path& root) {
    auto locales = root / "config" / "locales.json";
    return {(root / "intents").string(), (root / "dialogs").string(),
            (root / "config" / "resources.json").string(),
            fs::exists(locales) ? locales.string() : std::string()};
}

bot::content_paths folder_paths(const fs::path& dir) {
    auto res = dir / "resources.json";
    if (!fs::exists(res))
        res = dir / "config" / "resources.json";
    auto locales = dir / "locales.json";
    if (!fs::exists(locales))
        locales = dir / "config" / "locales.json";
    return {(dir / "intents").string(), (dir / "dialogs").string(), res.string(),
            fs::exists(locales) ? locales.string() : std::string()};
}

chosen_content choose_content(const options& o) {
    fs::path root = o.root;
    if (o.content == "shipped")
        return {"shipped (intents/, dialogs/)", shipped_paths(root), ""};
    if (o.content == "fixture")
        return {"fixture (tests/data/content)", folder_paths(root / "tests/data/content"), ""};
    if (o.content != "auto")
        return {o.content, folder_paths(o.content), ""};
    bot::diagnostics diags;
    auto c = bot::content::load(shipped_paths(root), diags);
    if (diags.empty() && c->matcher().intents().size() >= 10)
        return {"shipped (intents/, dialogs/)", shipped_paths(root), ""};
    std::string why = diags.empty() ? "it has fewer than 10 intents"
                                    : std::to_string(diags.size()) + " problems in it";
    return {"fixture (tests/data/content)", folder_paths(root / "tests/data/content"),
            "the shipped content is not usable yet (" + why + "), so the fixture content is used"};
}

std::shared_ptr<const bot::content> load_or_die(const bot::content_paths& p) {
    bot::diagnostics diags;
    auto c = bot::content::load(p, diags);
    if (!diags.empty()) {
        std::cerr << "tandem_bench: the content has problems:\n" << diags.to_string();
        std::exit(1);
    }
    return c;
}

// --- 1. classification -------------------------------------------------------------------

struct classify_result {
    double set_ns = 0, set_p50 = 0, set_p99 = 0;
    double loop_ns = 0;
    double normalize_ns = 0;
    std::size_t matched = 0;
    std::size_t mismatches = 0;
};

classify_result bench_classify(const bot::intent_matcher& m, const std::vector<std::string>& corpus,
                               int runs) {
    classify_result r;
    // Equivalence first (also warms the DFA): both paths must agree on every message.
    for (const auto& msg : corpus) {
        auto a = m.classify(msg);
        auto b = m.test_classify_one_by_one(msg);
        r.matched += a.matched();
        bool same =
            a.intent == b.intent && a.ranked.size() == b.ranked.size() && a.captures == b.captures;
        for (std::size_t k = 0; same && k < a.ranked.size(); ++k)
            same =
                a.ranked[k].intent == b.ranked[k].intent && a.ranked[k].score == b.ranked[k].score;
        if (!same && r.mismatches++ < 5)
            std::cerr << "tandem_bench: set and one-by-one disagree on \"" << msg
                      << "\": " << a.intent << " vs " << b.intent << "\n";
    }
    // The baseline is slow: time it on a quarter of the corpus (same distribution).
    std::size_t loop_n = std::max<std::size_t>(1, corpus.size() / 4);
    std::vector<double> set_runs, loop_runs, norm_runs;
    std::size_t sink = 0;
    for (int run = 0; run < runs; ++run) {
        auto t0 = clk::now();
        for (const auto& msg : corpus)
            sink += m.classify(msg).ranked.size();
        auto t1 = clk::now();
        set_runs.push_back(ns(t1 - t0) / static_cast<double>(corpus.size()));

        t0 = clk::now();
        for (std::size_t i = 0; i < loop_n; ++i)
            sink += m.test_classify_one_by_one(corpus[i]).ranked.size();
        t1 = clk::now();
        loop_runs.push_back(ns(t1 - t0) / static_cast<double>(loop_n));

        t0 = clk::now();
        for (const auto& msg : corpus)
            sink += bot::normalize(msg).size();
        t1 = clk::now();
        norm_runs.push_back(ns(t1 - t0) / static_cast<double>(corpus.size()));
    }
    // Per-message latency distribution (one extra pass; clock reads cost ~20 ns each).
    std::vector<double> per;
    per.reserve(corpus.size());
    for (const auto& msg : corpus) {
        auto t0 = clk::now();
        sink += m.classify(msg).ranked.size();
        per.push_back(ns(clk::now() - t0));
    }
    if (sink == 42)
        std::cerr << "";
    r.set_ns = median(set_runs);
    r.loop_ns = median(loop_runs);
    r.normalize_ns = median(norm_runs);
    r.set_p50 = percentile(per, 50);
    r.set_p99 = percentile(per, 99);
    return r;
}

// --- 2. whole turns ------------------------------------------------------------------------

struct turn_figures {
    double tps = 0, p50 = 0, p99 = 0; // turns per second; latencies in ns
    std::size_t durability_checked = 0;
    std::size_t durability_failed = 0;
};

// One scripted population: conversations picked at random; 30 % of the turns press one of
// the buttons the previous reply offered, the rest are corpus messages.
struct driver {
    const std::vector<std::string>& corpus;
    std::size_t conversations;
    std::uint64_t s = 88172645463325252ULL;
    std::vector<std::vector<std::string>> options; // last offered option ids per conversation
    std::size_t next_msg = 0;

    driver(const std::vector<std::string>& c, std::size_t n) : corpus(c), conversations(n) {
        options.resize(n);
    }
    std::uint64_t rnd() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        return s;
    }
    std::size_t pick_conversation() { return static_cast<std::size_t>(rnd() % conversations); }
    bot::inbound_message make(std::size_t conv, const std::string& channel) {
        bot::inbound_message m;
        m.channel = channel;
        m.conversation_id = std::to_string(conv);
        m.conversation_id.insert(m.conversation_id.begin(),
                                 'c'); // (not "c" + ...: GCC 12 -Wrestrict)
        m.user_id = m.conversation_id;
        auto& opts = options[conv];
        if (!opts.empty() && rnd() % 100 < 30)
            m.option_id = opts[rnd() % opts.size()];
        else
            m.text = corpus[next_msg++ % corpus.size()];
        return m;
    }
    void saw(std::size_t conv, const bot::turn_result& r) {
        auto& opts = options[conv];
        opts.clear();
        for (const auto& o : r.reply.options)
            opts.push_back(o.id);
    }
};

constexpr std::int64_t bench_epoch = 1'790'000'000; // a fixed "now" (unix seconds)

turn_figures bench_turns(std::shared_ptr<const bot::content> c,
                         const std::function<std::shared_ptr<bot::conversation_store>(int)>& make,
                         const std::function<std::shared_ptr<bot::conversation_store>(int)>& reopen,
                         const std::vector<std::string>& corpus, const options& o) {
    std::vector<double> tps_runs, p50_runs, p99_runs;
    turn_figures f;
    for (int run = 0; run < o.runs; ++run) {
        auto store = make(run);
        auto check = reopen ? reopen(run) : nullptr; // a second connection to the same file
        bot::conversation_config cfg;
        bot::turn_processor proc(c, store, cfg);
        driver d(corpus, o.conversations);
        std::vector<double> lat;
        lat.reserve(o.turns);
        clk::duration busy{};
        for (std::size_t t = 0; t < o.turns; ++t) {
            std::size_t conv = d.pick_conversation();
            auto msg = d.make(conv, "bench");
            auto t0 = clk::now();
            auto r = proc.run(msg, bench_epoch + static_cast<std::int64_t>(t / 100));
            auto dt = clk::now() - t0;
            busy += dt;
            lat.push_back(ns(dt));
            if (r.error) {
                std::cerr << "tandem_bench: a turn failed\n";
                std::exit(1);
            }
            d.saw(conv, r);
            // Durability: the state is visible to another connection once run() returned.
            if (check && t % 50 == 0) {
                ++f.durability_checked;
                bool there =
                    check->load(bot::turn_processor::key("bench", msg.conversation_id)).has_value();
                if (there == r.forgotten)
                    ++f.durability_failed;
            }
        }
        tps_runs.push_back(static_cast<double>(o.turns) / secs(busy));
        p50_runs.push_back(percentile(lat, 50));
        p99_runs.push_back(percentile(lat, 99));
    }
    f.tps = median(tps_runs);
    f.p50 = median(p50_runs);
    f.p99 = median(p99_runs);
    return f;
}

// The storage ceiling: the same upserts the SQLite turns make, with nothing else.
double bench_bare_store(const std::function<std::shared_ptr<bot::conversation_store>(int)>& make,
                        std::size_t state_bytes, const options& o) {
    std::vector<double> runs;
    std::string state(state_bytes, 'x');
    for (int run = 0; run < o.runs; ++run) {
        auto store = make(100 + run);
        auto t0 = clk::now();
        for (std::size_t t = 0; t < o.turns; ++t)
            store->save("bench:c" + std::to_string(t % o.conversations), state,
                        bench_epoch + static_cast<std::int64_t>(t));
        runs.push_back(static_cast<double>(o.turns) / secs(clk::now() - t0));
    }
    return median(runs);
}

// --- 2b. through the async service, by concurrency ---------------------------------------

struct conc_point {
    int clients = 0;
    double tps = 0, p50 = 0, p99 = 0;
    double batch = 0; // saves per commit (group commit), 0 when the store does not count
    int threads_label = 0;
};

net::awaitable<void> client(bot::bot_service& svc, const std::vector<std::string>& corpus, int id,
                            std::size_t turns, std::vector<double>& lat) {
    // Each client owns 8 conversations and answers its own buttons.
    driver d(corpus, 8);
    d.s += static_cast<std::uint64_t>(id) * 7919;
    d.next_msg = static_cast<std::size_t>(id) * 97;
    for (std::size_t t = 0; t < turns; ++t) {
        std::size_t conv = d.pick_conversation();
        auto msg = d.make(conv, "bench");
        msg.conversation_id = "k" + std::to_string(id) + "-" + msg.conversation_id;
        msg.timestamp = bench_epoch;
        auto t0 = clk::now();
        auto r = co_await svc.handle(std::move(msg));
        lat.push_back(ns(clk::now() - t0));
        d.saw(conv, r);
    }
}

std::vector<conc_point>
bench_concurrency(std::shared_ptr<const bot::content> c,
                  const std::function<std::shared_ptr<bot::conversation_store>(int)>& make,
                  const std::vector<std::string>& corpus, const options& o,
                  const std::vector<int>& levels, int threads) {
    std::vector<conc_point> out;
    for (int clients : levels) {
        std::vector<double> tps_runs, p50_runs, p99_runs, batch_runs;
        for (int run = 0; run < o.runs; ++run) {
            auto store = make(1000 + clients * 10 + run);
            bot::config cfg;
            cfg.core.threads = threads;
            bot::bot_service svc(c, store, cfg);
            net::io_context ioc;
            std::size_t per_client =
                std::max<std::size_t>(1, o.turns / static_cast<std::size_t>(clients));
            std::vector<std::vector<double>> lats(static_cast<std::size_t>(clients));
            for (int k = 0; k < clients; ++k)
                net::co_spawn(ioc,
                              client(svc, corpus, k, per_client, lats[static_cast<std::size_t>(k)]),
                              net::detached);
            auto t0 = clk::now();
            ioc.run();
            double elapsed = secs(clk::now() - t0);
            std::vector<double> all;
            for (auto& l : lats)
                all.insert(all.end(), l.begin(), l.end());
            tps_runs.push_back(static_cast<double>(all.size()) / elapsed);
            p50_runs.push_back(percentile(all, 50));
            p99_runs.push_back(percentile(all, 99));
            auto st = store->stats();
            batch_runs.push_back(st.commits ? static_cast<double>(st.writes) /
                                                  static_cast<double>(st.commits)
                                            : 0.0);
        }
        out.push_back({clients, median(tps_runs), median(p50_runs), median(p99_runs),
                       median(batch_runs), threads});
    }
    return out;
}

// --- 3. memory per held conversation (in a child process, so nothing else is resident) ---

std::size_t resident_bytes() {
    std::ifstream in("/proc/self/statm");
    std::size_t size = 0, resident = 0;
    in >> size >> resident;
    return resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

struct memory_figures {
    double per_conversation = 0; // resident bytes
    double heap_per_conversation = 0;
    double state_bytes = 0; // mean JSON state + key stored per conversation
    std::size_t held = 0;
    bool ok = false;
};

memory_figures measure_memory_child(const bot::content_paths& paths, const std::string& kind,
                                    const std::string& dir, std::size_t held,
                                    const std::vector<std::string>& corpus) {
    memory_figures m;
    auto c = load_or_die(paths);
    std::shared_ptr<bot::conversation_store> store =
        kind == "memory" ? bot::make_memory_store()
                         : bot::make_sqlite_store((fs::path(dir) / "memory.sqlite").string());
    bot::conversation_config cfg;
    bot::turn_processor proc(c, store, cfg);
    // One warm-up turn so lazily built structures (DFA states, statics) are resident.
    bot::inbound_message warm;
    warm.channel = "warm";
    warm.conversation_id = "w";
    for (const auto& msg : corpus) {
        warm.text = msg;
        proc.run(warm, bench_epoch);
    }
    proc.forget("warm", "w");
    malloc_trim(0);
    std::size_t rss0 = resident_bytes();
    auto heap0 = mallinfo2().uordblks;
    double state_total = 0;
    bot::inbound_message msg;
    msg.channel = "telegram";
    for (std::size_t i = 0; i < held; ++i) {
        msg.conversation_id = std::to_string(100000000 + i);
        msg.user_id = msg.conversation_id;
        msg.text = corpus[i % corpus.size()];
        auto r = proc.run(msg, bench_epoch);
        if (r.forgotten) { // "forget me" in the corpus: hold a conversation anyway
            msg.text = "hi";
            proc.run(msg, bench_epoch);
        }
    }
    malloc_trim(0);
    std::size_t rss1 = resident_bytes();
    auto heap1 = mallinfo2().uordblks;
    std::size_t counted = 0;
    for (std::size_t i = 0; i < held; i += std::max<std::size_t>(1, held / 1000)) {
        auto key = "telegram:" + std::to_string(100000000 + i);
        if (auto s = store->load(key)) {
            state_total += static_cast<double>(s->size() + key.size());
            ++counted;
        }
    }
    m.held = store->size();
    m.per_conversation =
        (static_cast<double>(rss1) - static_cast<double>(rss0)) / static_cast<double>(held);
    m.heap_per_conversation =
        (static_cast<double>(heap1) - static_cast<double>(heap0)) / static_cast<double>(held);
    m.state_bytes = counted ? state_total / static_cast<double>(counted) : 0;
    m.ok = m.held == held;
    return m;
}

memory_figures measure_memory(const bot::content_paths& paths, const std::string& kind,
                              const std::string& dir, std::size_t held,
                              const std::vector<std::string>& corpus) {
    int fds[2];
    if (pipe(fds) != 0)
        return {};
    std::cout.flush();
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        auto m = measure_memory_child(paths, kind, dir, held, corpus);
        auto n = write(fds[1], &m, sizeof m);
        close(fds[1]);
        _exit(n == static_cast<ssize_t>(sizeof m) ? 0 : 1);
    }
    close(fds[1]);
    memory_figures m;
    auto n = read(fds[0], &m, sizeof m);
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (n != static_cast<ssize_t>(sizeof m) || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return {};
    return m;
}

// --- 4. cold start -------------------------------------------------------------------------

struct cold_figures {
    double load_ms = 0;  // median of content::load
    double first_ms = 0; // the very first load in this process
    double parse_ms = 0; // reference: reading and JSON-parsing the same files only
    // Where the time goes, default locale only (the other locales' packs are built on
    // threads of their own inside content::load): compiling the intent matcher from parsed
    // intents, and running its self-test (every example) on the fresh matcher.
    double compile_ms = 0, self_test_ms = 0;
    std::size_t files = 0;
};

std::vector<std::string> content_files(const bot::content_paths& p) {
    std::vector<std::string> files;
    for (const auto& dir : {p.intents_dir, p.dialogs_dir}) {
        std::error_code ec;
        if (!fs::is_directory(dir, ec))
            continue;
        for (const auto& e : fs::recursive_directory_iterator(dir, ec))
            if (e.is_regular_file() && e.path().extension() == ".json")
                files.push_back(e.path().string());
    }
    files.push_back(p.resources_file);
    if (!p.locales_file.empty())
        files.push_back(p.locales_file);
    return files;
}

cold_figures bench_cold(const bot::content_paths& p, int runs, double first_ms) {
    cold_figures f;
    f.first_ms = first_ms;
    auto files = content_files(p);
    f.files = files.size();
    std::vector<double> load_runs, parse_runs, compile_runs, self_runs;
    for (int run = 0; run < std::max(3, runs); ++run) {
        {
            bot::diagnostics d;
            auto defs = bot::load_intent_files(bot::list_json_files(p.intents_dir, d), d);
            auto t0 = clk::now();
            bot::intent_matcher m(std::move(defs), d);
            compile_runs.push_back(secs(clk::now() - t0) * 1000);
            t0 = clk::now();
            m.self_test(d);
            self_runs.push_back(secs(clk::now() - t0) * 1000);
        }
        auto t0 = clk::now();
        bot::diagnostics diags;
        auto c = bot::content::load(p, diags);
        load_runs.push_back(secs(clk::now() - t0) * 1000);
        t0 = clk::now();
        std::size_t n = 0;
        for (const auto& file : files) {
            bot::diagnostics d2;
            if (auto j = bot::read_json_file(file, d2))
                n += j->size();
        }
        parse_runs.push_back(secs(clk::now() - t0) * 1000);
        if (n == 0)
            std::cerr << "";
    }
    f.load_ms = median(load_runs);
    f.parse_ms = median(parse_runs);
    f.compile_ms = median(compile_runs);
    f.self_test_ms = median(self_runs);
    return f;
}

// --- report --------------------------------------------------------------------------------

std::string machine() {
    std::ifstream in("/proc/cpuinfo");
    std::string line, model = "unknown CPU";
    while (std::getline(in, line))
        if (line.rfind("model name", 0) == 0) {
            model = line.substr(line.find(':') + 2);
            break;
        }
    std::ifstream os("/etc/os-release");
    std::string distro = "Linux";
    while (std::getline(os, line))
        if (line.rfind("PRETTY_NAME=", 0) == 0)
            distro = line.substr(13, line.size() - 14);
    return model + ", " + std::to_string(sysconf(_SC_NPROCESSORS_ONLN)) + " cores, " + distro +
           ", compiler " + __VERSION__;
}

std::string pass(bool ok) {
    return ok ? "**pass**" : "**short**";
}

} // namespace

int main(int argc, char** argv) {
    options o = parse(argc, argv);
    std::set_terminate([] {
        std::cerr << "tandem_bench: unexpected error\n";
        std::abort();
    });
    auto chosen = choose_content(o);
    auto t_first = clk::now();
    auto content = load_or_die(chosen.paths);
    double first_ms = secs(clk::now() - t_first) * 1000;
    const auto& matcher = content->matcher();
    std::size_t dialogs = content->dialogs().size();

    auto corpus = bench::make_corpus(o.corpus);
    auto cs = bench::describe(corpus);

    fs::path data = o.data.empty()
                        ? fs::temp_directory_path() / ("tandem-bench-" + std::to_string(getpid()))
                        : fs::path(o.data);
    fs::create_directories(data);
    auto sqlite_maker = [&](bool full) {
        return [&data, full](int run) -> std::shared_ptr<bot::conversation_store> {
            auto p = data / ("turns-" + std::string(full ? "full-" : "normal-") +
                             std::to_string(run) + ".sqlite");
            for (const char* suffix : {"", "-wal", "-shm"})
                fs::remove(p.string() + suffix);
            return bot::make_sqlite_store(p.string(), full);
        };
    };
    auto sqlite_reopen = [&](bool full) {
        return [&data, full](int run) -> std::shared_ptr<bot::conversation_store> {
            auto p = data / ("turns-" + std::string(full ? "full-" : "normal-") +
                             std::to_string(run) + ".sqlite");
            return bot::make_sqlite_store(p.string(), full);
        };
    };
    auto memory_maker = [](int) {
        return bot::make_memory_store();
    };

    std::cerr << "tandem_bench: classification...\n";
    auto cl = bench_classify(matcher, corpus, o.runs);
    std::cerr << "tandem_bench: turns...\n";
    auto t_mem = bench_turns(content, memory_maker, nullptr, corpus, o);
    auto t_sql = bench_turns(content, sqlite_maker(false), sqlite_reopen(false), corpus, o);
    auto t_full = bench_turns(content, sqlite_maker(true), sqlite_reopen(true), corpus, o);
    std::cerr << "tandem_bench: bare store...\n";
    // The mean state size, for the bare-store reference.
    std::size_t state_bytes = 600;
    {
        auto probe = bot::make_memory_store();
        bot::conversation_config cfg;
        bot::turn_processor proc(content, probe, cfg);
        bot::inbound_message m;
        m.channel = "p";
        m.conversation_id = "p";
        m.text = corpus.front();
        proc.run(m, bench_epoch);
        if (auto s = probe->load("p:p"))
            state_bytes = s->size();
    }
    double bare_sql = bench_bare_store(sqlite_maker(false), state_bytes, o);
    double bare_full = bench_bare_store(sqlite_maker(true), state_bytes, o);
    std::cerr << "tandem_bench: concurrency...\n";
    auto conc_mem = bench_concurrency(content, memory_maker, corpus, o, o.concurrency, o.threads);
    auto conc_sql =
        bench_concurrency(content, sqlite_maker(false), corpus, o, o.concurrency, o.threads);
    // Group commit: with fsync per commit, turns waiting for the disk let other turns join
    // their commit. More worker threads than cores make room for that.
    int busy = o.concurrency.back();
    std::vector<conc_point> full_by_threads;
    for (int th : {o.threads, 8, 32})
        full_by_threads.push_back(
            bench_concurrency(content, sqlite_maker(true), corpus, o, {busy}, th).front());
    std::cerr << "tandem_bench: memory...\n";
    auto mem = measure_memory(chosen.paths, "memory", data.string(), o.held, corpus);
    auto mem_sql = measure_memory(chosen.paths, "sqlite", data.string(), o.held, corpus);
    std::cerr << "tandem_bench: cold start...\n";
    auto cold = bench_cold(chosen.paths, o.runs, first_ms);
    std::error_code ec;
    if (o.data.empty())
        fs::remove_all(data, ec);

    // --- targets
    double speedup = cl.loop_ns / cl.set_ns;
    bool cls_ok = speedup >= 10 && cl.set_ns < 2000;
    bool mem_ok = mem.ok && mem.per_conversation < 2048;
    bool cold_ok = cold.load_ms < 100;
    bool durable = t_sql.durability_failed == 0 && t_full.durability_failed == 0;

    std::ostringstream md;
    md << "### Results\n\n";
    md << "- Machine: " << machine() << "\n";
    md << "- Content: " << chosen.name << ": " << matcher.intents().size() << " intents, "
       << matcher.pattern_count() << " patterns (one RE2::Set), " << dialogs << " dialogs"
       << (chosen.note.empty() ? "" : "; " + chosen.note) << "\n";
    md << "- Corpus: " << cs.messages << " generated messages, " << cs.min_len << "–" << cs.max_len
       << " bytes (median " << cs.median_len << "), "
       << fmt(100.0 * static_cast<double>(cs.non_ascii) / static_cast<double>(cs.messages), 1)
       << " % with emoji or accents; "
       << fmt(100.0 * static_cast<double>(cl.matched) / static_cast<double>(cs.messages), 1)
       << " % match an intent\n";
    md << "- Each figure is the median of " << o.runs << " run" << (o.runs > 1 ? "s" : "")
       << (o.quick ? " (--quick: tiny sizes, figures are not meaningful)" : "") << "\n\n";

    md << "| measure | tandem | reference, same run | ratio | target | status |\n";
    md << "|---|---|---|---|---|---|\n";
    md << "| intent classification (normalise + RE2::Set + rank) | " << fmt(1e9 / cl.set_ns)
       << " msgs/s, " << fmt(cl.set_ns) << " ns/msg (p50 " << fmt(cl.set_p50) << " ns, p99 "
       << fmt(cl.set_p99) << " ns) | each pattern one by one: " << fmt(1e9 / cl.loop_ns)
       << " msgs/s, " << fmt(cl.loop_ns) << " ns/msg | " << fmt(speedup, 1)
       << "× faster | ≥10× and <2 µs/msg | " << pass(cls_ok) << " |\n";
    md << "| normalisation alone (inside the above) | " << fmt(cl.normalize_ns)
       << " ns/msg | classification: " << fmt(cl.set_ns) << " ns/msg | "
       << fmt(100.0 * cl.normalize_ns / cl.set_ns) << " % of it | – | – |\n";
    double cls_tps = 1e9 / cl.set_ns;
    md << "| whole turn, in-memory store | " << fmt(t_mem.tps) << " turns/s, p50 "
       << fmt_us(t_mem.p50) << ", p99 " << fmt_us(t_mem.p99)
       << " | classification alone: " << fmt(cls_tps) << " msgs/s | " << fmt(t_mem.tps / cls_tps, 2)
       << "× | – | – |\n";
    md << "| whole turn, SQLite (WAL, synchronous=NORMAL, the default) | " << fmt(t_sql.tps)
       << " turns/s, p50 " << fmt_us(t_sql.p50) << ", p99 " << fmt_us(t_sql.p99)
       << " | bare SQLite upserts of a " << state_bytes << "-byte state: " << fmt(bare_sql)
       << "/s | " << fmt(t_sql.tps / bare_sql, 2) << "× | committed before the reply | "
       << pass(t_sql.durability_failed == 0) << " (" << t_sql.durability_checked
       << " turns checked from a second connection) |\n";
    md << "| whole turn, SQLite (WAL, synchronous=FULL: fsync per commit) | " << fmt(t_full.tps)
       << " turns/s, p50 " << fmt_us(t_full.p50) << ", p99 " << fmt_us(t_full.p99)
       << " | bare SQLite upserts: " << fmt(bare_full) << "/s | " << fmt(t_full.tps / bare_full, 2)
       << "× | committed before the reply | " << pass(t_full.durability_failed == 0) << " ("
       << t_full.durability_checked << " checked) |\n";
    md << "| memory per idle conversation, in-memory store, " << fmt(static_cast<double>(o.held))
       << " held | "
       << (mem.ok ? fmt(mem.per_conversation) + " B resident (heap " +
                        fmt(mem.heap_per_conversation) + " B)"
                  : std::string("failed"))
       << " | stored key + state JSON: " << fmt(mem.state_bytes) << " B | "
       << (mem.state_bytes > 0 ? fmt(mem.per_conversation / mem.state_bytes, 2) : "–")
       << "× | <2 KB | " << pass(mem_ok) << " |\n";
    md << "| memory per idle conversation, SQLite store, " << fmt(static_cast<double>(o.held))
       << " held | "
       << (mem_sql.ok ? fmt(mem_sql.per_conversation) + " B resident" : std::string("failed"))
       << " | stored key + state JSON: " << fmt(mem_sql.state_bytes) << " B (on disk) | "
       << (mem_sql.state_bytes > 0 ? fmt(mem_sql.per_conversation / mem_sql.state_bytes, 2) : "–")
       << "× | <2 KB | " << pass(mem_sql.ok && mem_sql.per_conversation < 2048) << " |\n";
    md << "| cold start: load, validate and compile all content (" << cold.files << " files) | "
       << fmt(cold.load_ms, 1) << " ms (first in process " << fmt(cold.first_ms, 1)
       << " ms) | reading + JSON-parsing the same files only: " << fmt(cold.parse_ms, 1) << " ms | "
       << fmt(cold.load_ms / std::max(cold.parse_ms, 1e-3), 1) << "× | <100 ms | " << pass(cold_ok)
       << " |\n";
    md << "| cold start, default locale's part: compile its intent matcher / self-test of "
          "every example on it | "
       << fmt(cold.compile_ms, 1) << " ms / " << fmt(cold.self_test_ms, 1)
       << " ms | whole load: " << fmt(cold.load_ms, 1) << " ms | "
       << fmt(100.0 * (cold.compile_ms + cold.self_test_ms) / std::max(cold.load_ms, 1e-3))
       << " % of it | – | – |\n\n";

    md << "Through the asynchronous service (`bot_service`, " << o.threads
       << " worker threads), N clients each sending one turn at a time:\n\n";
    md << "| clients | in-memory turns/s | p50 | p99 | SQLite turns/s | p50 | p99 | saves per "
          "commit "
          "|\n";
    md << "|---|---|---|---|---|---|---|---|\n";
    for (std::size_t i = 0; i < conc_mem.size(); ++i)
        md << "| " << conc_mem[i].clients << " | " << fmt(conc_mem[i].tps) << " | "
           << fmt_us(conc_mem[i].p50) << " | " << fmt_us(conc_mem[i].p99) << " | "
           << fmt(conc_sql[i].tps) << " | " << fmt_us(conc_sql[i].p50) << " | "
           << fmt_us(conc_sql[i].p99) << " | " << fmt(conc_sql[i].batch, 2) << " |\n";
    md << "\n";
    md << "Group commit with an fsync per commit (SQLite synchronous=FULL), " << busy
       << " clients, by worker threads (`core.threads`):\n\n";
    md << "| worker threads | turns/s | p50 | p99 | saves per commit | vs " << o.threads
       << " threads |\n";
    md << "|---|---|---|---|---|---|\n";
    for (const auto& p : full_by_threads)
        md << "| " << p.threads_label << " | " << fmt(p.tps) << " | " << fmt_us(p.p50) << " | "
           << fmt_us(p.p99) << " | " << fmt(p.batch, 2) << " | "
           << fmt(p.tps / full_by_threads.front().tps, 2) << "× |\n";
    md << "\n";

    std::cout << md.str();
    if (!o.markdown.empty()) {
        std::ofstream out(o.markdown);
        out << md.str();
    }
    if (!o.csv.empty()) {
        std::ofstream out(o.csv);
        out << "# clients memory_tps memory_p99_ms sqlite_tps sqlite_p99_ms\n";
        for (std::size_t i = 0; i < conc_mem.size(); ++i)
            out << conc_mem[i].clients << " " << conc_mem[i].tps << " " << conc_mem[i].p99 / 1e6
                << " " << conc_sql[i].tps << " " << conc_sql[i].p99 / 1e6 << "\n";
    }
    if (cl.mismatches) {
        std::cerr << "tandem_bench: FAULT: the set and the one-by-one matcher disagree on "
                  << cl.mismatches << " messages\n";
        return 1;
    }
    if (!durable) {
        std::cerr << "tandem_bench: FAULT: a turn's state was not committed when it returned\n";
        return 1;
    }
    if (!mem.ok || !mem_sql.ok) {
        std::cerr << "tandem_bench: FAULT: the memory measurement failed\n";
        return 1;
    }
    return 0;
}
