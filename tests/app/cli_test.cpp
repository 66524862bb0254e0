// The tandem command as a user runs it: exit codes, output shapes, bad input.
#include "../support/process.hpp"
#include "../support/test_support.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

using namespace tandem;
using test::q;
using test::sh;

namespace {

std::string fixture_config() {
    return (test::fixture_content() / "config" / "tandem.json").string();
}

// A config for the fixture content that keeps state in SQLite under data_dir.
std::string sqlite_config(const test::temp_dir& tmp) {
    auto root = test::fixture_content();
    auto p = tmp.path() / "tandem.json";
    std::ofstream(p) << nlohmann::json{{"schema_version", 1},
                                       {"data_dir", (tmp.path() / "data").string()},
                                       {"content",
                                        {{"intents_dir", (root / "intents").string()},
                                         {"dialogs_dir", (root / "dialogs").string()},
                                         {"resources_file", (root / "resources.json").string()}}},
                                       {"store", {{"kind", "sqlite"}}}}
                            .dump();
    return p.string();
}

std::vector<nlohmann::json> json_lines(const std::string& out) {
    std::vector<nlohmann::json> v;
    std::istringstream in(out);
    std::string line;
    while (std::getline(in, line))
        if (!line.empty() && line[0] == '{')
            v.push_back(nlohmann::json::parse(line));
    return v;
}

std::string chat(const std::string& config, const std::string& input,
                 const std::string& extra = "") {
    test::temp_dir tmp;
    auto in = tmp.path() / "in.txt";
    std::ofstream(in) << input;
    return sh(test::tandem_bin() + " chat --json --config " + q(config) + " " + extra + " < " +
              q(in.string()))
        .out;
}

} // namespace

TEST_CASE("cli: usage errors exit 2 with a clear message", "[cli]") {
    auto r = sh(test::tandem_bin());
    CHECK(r.status == 2);
    CHECK(r.out.find("usage: tandem") != std::string::npos);
    r = sh(test::tandem_bin() + " frobnicate");
    CHECK(r.status == 2);
    CHECK(r.out.find("unknown command \"frobnicate\"") != std::string::npos);
    r = sh(test::tandem_bin() + " chat --config");
    CHECK(r.status == 2);
    CHECK(r.out.find("--config needs a value") != std::string::npos);
    r = sh(test::tandem_bin() + " chat --bogus");
    CHECK(r.status == 2);
    r = sh(test::tandem_bin() + " eval");
    CHECK(r.status == 2);
}

TEST_CASE("cli: check passes on valid content and lists every problem otherwise", "[cli]") {
    auto ok = sh(test::tandem_bin() + " check --config " + q(fixture_config()));
    INFO(ok.out);
    CHECK(ok.status == 0);
    CHECK(ok.out.find("ok: ") != std::string::npos);
    auto strict = sh(test::tandem_bin() + " check --strict --config " + q(fixture_config()));
    CHECK(strict.status == 1); // the fixture's helplines are unverified

    auto broken = test::data_dir() / "invalid" / "dialogs" / "node_target_missing";
    test::temp_dir tmp;
    std::filesystem::copy(test::fixture_content() / "dialogs", tmp.path());
    std::filesystem::copy_file(broken / "broken.json", tmp.path() / "broken.json");
    auto bad = sh(test::tandem_bin() + " check --config " + q(fixture_config()) + " --dialogs " +
                  q(tmp.str()));
    INFO(bad.out);
    CHECK(bad.status == 1);
    CHECK(bad.out.find("broken.json:/nodes/a/next: node.target_missing") != std::string::npos);
    CHECK(bad.out.find("problem(s) found") != std::string::npos);
}

TEST_CASE("cli: a broken config is refused with its path", "[cli]") {
    test::temp_dir tmp;
    auto p = tmp.path() / "tandem.json";
    std::ofstream(p) << R"({"store": {"kind": "floppy"}, "telegarm": {}})";
    auto r = sh(test::tandem_bin() + " chat --config " + q(p.string()) + " < /dev/null");
    INFO(r.out);
    CHECK(r.status == 1);
    CHECK(r.out.find("/store/kind: config.bad_value") != std::string::npos);
    CHECK(r.out.find("/telegarm: schema.unknown_key") != std::string::npos);
    auto missing = sh(test::tandem_bin() + " check --config /nonexistent/tandem.json");
    CHECK(missing.status == 1);
    CHECK(missing.out.find("file.read") != std::string::npos);
}

TEST_CASE("cli: chat --json runs a scripted conversation, one JSON object per line", "[cli]") {
    auto out = chat(fixture_config(),
                    "hi\ni need some space\n[partner]\nI would go for long walks alone\n3\n"
                    "no\nbye\n");
    auto lines = json_lines(out);
    INFO(out);
    REQUIRE(lines.size() == 7);
    for (const auto& j : lines)
        for (const char* k : {"intent", "topic", "dialog", "node", "texts", "options"})
            CHECK(j.contains(k));
    CHECK(lines[0]["intent"] == "greeting");
    CHECK(lines[1]["dialog"] == "smothered");
    CHECK(lines[1]["options"].size() == 2);
    CHECK(lines[2]["node"] == "use");
    CHECK(lines[3]["node"] == "room");
    CHECK(lines[3]["texts"][0].get<std::string>().find("you would go for long walks alone") !=
          std::string::npos);
    CHECK(lines[5]["texts"][0].get<std::string>().rfind("SUMMARY", 0) == 0);
    CHECK(lines[6]["intent"] == "goodbye");
}

TEST_CASE("cli: a safety message in the middle of a dialog interrupts it", "[cli][safety]") {
    auto lines = json_lines(chat(fixture_config(), "i need some space\n[friend]\nI want to die\n"));
    REQUIRE(lines.size() == 3);
    CHECK(lines[2]["topic"] == "safety");
    CHECK(lines[2]["dialog"] == "safety");
}

TEST_CASE("cli: bad console input is answered and the session goes on", "[cli]") {
    std::string big(100 * 1024, 'x');
    auto out = chat(fixture_config(),
                    "\n   \n" + big +
                        "\nbad \xFF\xFE utf8\n\xF0\x9F\x98\x8A\n"
                        "\xD7\x90\xD7\xA0\xD7\x99 \xD7\x91\xD7\xA1\xD7\x93\xD7\xA8\nhi\n");
    auto lines = json_lines(out);
    REQUIRE(lines.size() == 7);
    CHECK(lines[0]["error"] == "empty message");
    CHECK(lines[1]["error"] == "empty message");
    for (std::size_t i = 2; i < 6; ++i)
        CHECK_FALSE(lines[i].contains("error"));
    CHECK(lines[6]["intent"] == "greeting");
}

TEST_CASE("cli: killing the process between turns loses nothing", "[cli][faults]") {
    test::temp_dir tmp;
    auto cfg = sqlite_config(tmp);
    // Turn 1 in a process killed with SIGKILL right after it answered.
    auto fifo = tmp.path() / "in.fifo";
    auto out = tmp.path() / "out.txt";
    std::string script = "mkfifo " + q(fifo.string()) + "; " + test::tandem_bin() +
                         " chat --json --config " + q(cfg) + " < " + q(fifo.string()) + " > " +
                         q(out.string()) + " & pid=$!; " + "exec 3> " + q(fifo.string()) +
                         "; echo 'i need some space' >&3; " + "for i in $(seq 1 200); do [ -s " +
                         q(out.string()) + " ] && break; sleep 0.05; done; " +
                         "kill -9 $pid; wait $pid; cat " + q(out.string());
    auto first = sh(script);
    auto l1 = json_lines(first.out);
    INFO(first.out);
    REQUIRE(l1.size() == 1);
    CHECK(l1[0]["node"] == "who");
    // Turn 2 in a new process continues the same conversation.
    auto l2 = json_lines(chat(cfg, "a friend\n"));
    REQUIRE(l2.size() == 1);
    CHECK(l2[0]["dialog"] == "smothered");
    CHECK(l2[0]["node"] == "use");
    // --data overrides the data folder: a different folder is a different memory.
    test::temp_dir other;
    auto l3 = json_lines(chat(cfg, "a friend\n", "--data " + q(other.str())));
    REQUIRE(l3.size() == 1);
    CHECK(l3[0]["dialog"] != "smothered");
}

TEST_CASE("cli: classify prints one JSON line per message", "[cli]") {
    test::temp_dir tmp;
    std::ofstream(tmp.path() / "in.txt") << "I'm in the UK\nqwerty\nhe hit me\n";
    auto r = sh(test::tandem_bin() + " classify --config " + q(fixture_config()) + " < " +
                q((tmp.path() / "in.txt").string()));
    auto lines = json_lines(r.out);
    REQUIRE(lines.size() == 3);
    CHECK(lines[0]["text"] == "I'm in the UK");
    CHECK(lines[0]["intent"] == "set_region");
    CHECK(lines[0]["topic"] == "out_of_scope");
    CHECK(lines[0]["captures"]["region"] == "uk");
    CHECK(lines[0]["ranked"][0]["intent"] == "set_region");
    CHECK(lines[0]["confidence"].is_number());
    CHECK(lines[1]["intent"] == "fallback");
    CHECK(lines[2]["topic"] == "safety");
}

TEST_CASE("cli: eval reports accuracy and enforces thresholds", "[cli]") {
    test::temp_dir tmp;
    auto f = tmp.path() / "set.jsonl";
    std::ofstream(f) << R"({"text": "hi", "intent": "greeting"})"
                        "\n"
                     << R"({"text": "I want to die", "intent": "safety"})"
                        "\n"
                     << R"({"text": "we are drifting apart", "intent": "feeling_distant"})"
                        "\n"
                     << R"({"text": "the weather is nice", "intent": "feeling_smothered"})"
                        "\n";
    auto r = sh(test::tandem_bin() + " eval " + q(f.string()) + " --config " + q(fixture_config()));
    INFO(r.out);
    CHECK(r.status == 0);
    CHECK(r.out.find("accuracy: 0.7500") != std::string::npos);
    CHECK(r.out.find("safety recall: 1.0000") != std::string::npos);
    CHECK(r.out.find("feeling_smothered -> out_of_scope") != std::string::npos);
    auto strict = sh(test::tandem_bin() + " eval " + q(f.string()) +
                     " --min-accuracy 0.9 --config " + q(fixture_config()));
    CHECK(strict.status == 1);
    CHECK(strict.out.find("FAIL: accuracy") != std::string::npos);
    std::ofstream(f, std::ios::app) << "{not json\n"
                                    << R"({"text": "x", "intent": "sadness"})"
                                       "\n";
    auto bad =
        sh(test::tandem_bin() + " eval " + q(f.string()) + " --config " + q(fixture_config()));
    CHECK(bad.status == 1);
    CHECK(bad.out.find(":5: skipped") != std::string::npos);
    CHECK(bad.out.find("\"sadness\" is not a core topic") != std::string::npos);
}

TEST_CASE("cli: classify, eval and chat take --language for a locale pack", "[cli][locale]") {
    test::temp_dir tmp;
    std::ofstream(tmp.path() / "in.txt") << "hola\nme siento agobiada\n";
    auto in = q((tmp.path() / "in.txt").string());
    auto en = json_lines(
        sh(test::tandem_bin() + " classify --config " + q(fixture_config()) + " < " + in).out);
    auto es = json_lines(sh(test::tandem_bin() + " classify --language es --config " +
                            q(fixture_config()) + " < " + in)
                             .out);
    REQUIRE(en.size() == 2);
    REQUIRE(es.size() == 2);
    CHECK(en[0]["intent"] == "fallback");
    CHECK(es[0]["intent"] == "greeting");
    CHECK(es[1]["topic"] == "feeling_smothered");

    auto f = tmp.path() / "es.jsonl";
    std::ofstream(f) << R"({"text": "hola", "intent": "greeting"})"
                        "\n"
                     << R"({"text": "necesito mi espacio", "intent": "feeling_smothered"})"
                        "\n";
    auto r = sh(test::tandem_bin() + " eval " + q(f.string()) + " --language es --min-accuracy 1" +
                " --config " + q(fixture_config()));
    INFO(r.out);
    CHECK(r.status == 0);
    CHECK(r.out.find("(language: es)") != std::string::npos);
    auto plain = sh(test::tandem_bin() + " eval " + q(f.string()) + " --min-accuracy 1" +
                    " --config " + q(fixture_config()));
    CHECK(plain.status == 1);
    auto unknown = sh(test::tandem_bin() + " eval " + q(f.string()) + " --language fr" +
                      " --config " + q(fixture_config()));
    CHECK(unknown.status == 2);
    CHECK(unknown.out.find("no language \"fr\"") != std::string::npos);

    auto rec = tmp.path() / "rec.txt";
    auto out = chat(fixture_config(), "hi\n", "--language es --record " + q(rec.string()));
    CHECK(out.find("HOLA.") != std::string::npos);
    std::ifstream rf(rec);
    std::stringstream ss;
    ss << rf.rdbuf();
    CHECK(ss.str().find("@language es\n") != std::string::npos);
}

TEST_CASE("cli: graph writes Graphviz DOT for a dialog", "[cli]") {
    auto r = sh(test::tandem_bin() + " graph smothered --config " + q(fixture_config()));
    INFO(r.out);
    CHECK(r.status == 0);
    CHECK(r.out.find("digraph \"smothered\"") != std::string::npos);
    CHECK(r.out.find("\"who\" -> \"use\" [label=\"A partner\"") != std::string::npos);
    auto missing = sh(test::tandem_bin() + " graph nope --config " + q(fixture_config()));
    CHECK(missing.status == 1);
    CHECK(missing.out.find("no dialog \"nope\"") != std::string::npos);
}

TEST_CASE("cli: chat --watch picks up a content edit on the next line", "[cli][authoring]") {
    test::temp_dir tmp;
    std::filesystem::copy(test::fixture_content(), tmp.path() / "content",
                          std::filesystem::copy_options::recursive);
    auto cfg = (tmp.path() / "content" / "config" / "tandem.json").string();
    auto greeting = (tmp.path() / "content" / "dialogs" / "thanks.json").string();
    auto fifo = tmp.path() / "in.fifo";
    auto out = tmp.path() / "out.txt";
    auto wait_lines = [&](int n) {
        return "for i in $(seq 1 200); do [ $(grep -c '^{' " + q(out.string()) +
               " 2>/dev/null || echo 0) -ge " + std::to_string(n) +
               " ] && break; sleep 0.05; done; ";
    };
    std::string script = "mkfifo " + q(fifo.string()) + "; " + test::tandem_bin() +
                         " chat --json --watch --config " + q(cfg) + " < " + q(fifo.string()) +
                         " > " + q(out.string()) + " 2>&1 & pid=$!; exec 3> " + q(fifo.string()) +
                         "; echo 'thank you' >&3; " + wait_lines(1) +
                         "sed -i 's/THANKS: you are welcome./THANKS: edited line./' " +
                         q(greeting) + "; echo 'thank you' >&3; " + wait_lines(2) +
                         "sed -i 's/\"end\": true/\"end\": \"yes\"/' " + q(greeting) +
                         "; echo 'thank you' >&3; " + wait_lines(3) + "exec 3>&-; wait $pid; cat " +
                         q(out.string());
    auto r = sh(script);
    INFO(r.out);
    auto lines = json_lines(r.out);
    REQUIRE(lines.size() == 3);
    CHECK(lines[0]["texts"].dump().find("THANKS: you are welcome.") != std::string::npos);
    CHECK(lines[1]["texts"].dump().find("THANKS: edited line.") != std::string::npos);
    CHECK(r.out.find("content reloaded") != std::string::npos);
    // A broken edit is reported and the last good content keeps answering.
    CHECK(r.out.find("still using the previous version") != std::string::npos);
    CHECK(r.out.find("thanks.json:/nodes/welcome_back/end: schema.type") != std::string::npos);
    CHECK(lines[2]["texts"].dump().find("THANKS: edited line.") != std::string::npos);
}

TEST_CASE("cli: lint reports what the validator cannot", "[cli][authoring]") {
    test::temp_dir tmp;
    std::filesystem::copy(test::fixture_content(), tmp.path() / "content",
                          std::filesystem::copy_options::recursive);
    auto root = tmp.path() / "content";
    // An intent shadowed by a higher-priority one on its own examples, and an orphan dialog.
    std::ofstream(root / "intents" / "zz_lint.json") << R"({"schema_version": 1, "intents": [
        {"id": "shadowed", "topic": "conflict", "priority": 5,
         "patterns": ["\\bweather\\b"]}]})";
    std::ofstream(root / "dialogs" / "orphan.json")
        << R"({"schema_version": 1, "start": "a", "nodes": {"a": {"say": ["x"], "end": true}}})";
    auto cfg = (root / "config" / "tandem.json").string();
    auto r = sh(test::tandem_bin() + " lint --config " + q(cfg));
    INFO(r.out);
    CHECK(r.status == 0);
    CHECK(r.out.find("lint.no_examples") != std::string::npos);
    CHECK(r.out.find("lint.dialog_unreachable: no intent and no other dialog starts \"orphan\"") !=
          std::string::npos);
    CHECK(sh(test::tandem_bin() + " lint --strict --config " + q(cfg)).status == 1);
}

TEST_CASE("cli: every shipped dialog is reachable, topic dialogs from the menu", "[cli][shipped]") {
    auto r = sh(test::tandem_bin() + " lint --config " +
                q((test::source_dir() / "config" / "tandem.json").string()));
    INFO(r.out);
    CHECK(r.status == 0);
    CHECK(r.out.find("lint.dialog_unreachable") == std::string::npos);
    CHECK(r.out.find("lint.not_in_menu") == std::string::npos);
}

TEST_CASE("cli: every topic dialog has at least three golden conversations", "[cli][shipped]") {
    bot::diagnostics diags;
    auto c = bot::content::load(test::shipped_paths(), diags);
    std::map<std::string, int> count;
    for (const auto& e :
         std::filesystem::directory_iterator(test::source_dir() / "tests" / "conversations")) {
        std::ifstream in(e.path());
        std::string line;
        std::set<std::string> seen;
        while (std::getline(in, line))
            if (line.rfind("dialog: ", 0) == 0)
                seen.insert(line.substr(8));
        for (const auto& d : seen)
            ++count[d];
    }
    for (const auto& [id, d] : c->dialogs()) {
        if (!d.closeness_work)
            continue;
        INFO(id);
        CHECK(count[id] >= 3);
    }
}
