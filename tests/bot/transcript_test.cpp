// Golden conversations (tests/conversations/*.txt, format in docs/content-format.md §5)
// run end to end through the turn processor with a real SQLite store.
#include "../support/test_support.hpp"

#include "bot/conversation_store.hpp"
#include "bot/turn_processor.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;
using namespace tandem;

namespace {

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
}

std::string trim(const std::string& s) {
    auto a = s.find_first_not_of(" \t\r");
    auto b = s.find_last_not_of(" \t\r");
    return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

std::string strip_comment(const std::string& s) {
    auto pos = s.find("  #");
    return pos == std::string::npos ? s : s.substr(0, pos);
}

void run_transcript(const fs::path& file, const bot::content_paths& paths) {
    auto c = test::load_ok_once(paths);
    test::temp_dir tmp;
    auto db = (tmp.path() / "state.sqlite").string();
    std::shared_ptr<bot::conversation_store> store = bot::make_sqlite_store(db);
    bot::conversation_config cfg;
    auto proc = std::make_unique<bot::turn_processor>(c, store, cfg);
    std::ifstream in(file);
    REQUIRE(in);
    std::string line;
    int lineno = 0;
    std::int64_t now = 1'700'000'000;
    bot::turn_result last;
    bool have = false;
    std::string last_user;
    std::string language; // "@language es": the channel's language hint from here on
    while (std::getline(in, line)) {
        ++lineno;
        std::string t = trim(line);
        if (t.empty() || t[0] == '#')
            continue;
        std::string where = file.filename().string() + ":" + std::to_string(lineno);
        if (t[0] == '>') {
            std::string text = trim(strip_comment(t.substr(1)));
            bot::inbound_message m;
            m.channel = "transcript";
            m.conversation_id = file.filename().string();
            m.language = language;
            if (text.size() > 2 && text.front() == '[' && text.back() == ']')
                m.option_id = text.substr(1, text.size() - 2);
            else
                m.text = text;
            now += 7;
            last = proc->run(m, now);
            have = true;
            last_user = text;
            INFO(where << ": \"" << text << "\"");
            CHECK_FALSE(last.error);
            continue;
        }
        if (t.rfind("@language", 0) == 0) {
            language = trim(t.substr(9));
            continue;
        }
        if (t == "@restart-process") {
            proc.reset();
            store.reset();
            store = bot::make_sqlite_store(db);
            proc = std::make_unique<bot::turn_processor>(c, store, cfg);
            continue;
        }
        auto colon = t.find(':');
        INFO(where << ": " << t);
        REQUIRE(colon != std::string::npos);
        REQUIRE(have);
        std::string key = trim(t.substr(0, colon));
        std::string value = trim(strip_comment(t.substr(colon + 1)));
        std::string texts;
        for (const auto& x : last.reply.texts)
            texts += x + "\n";
        std::string labels;
        for (std::size_t i = 0; i < last.reply.options.size(); ++i)
            labels += (i ? " | " : "") + last.reply.options[i].label;
        if (labels.empty())
            labels = "-";
        auto dash = [](const std::string& s) {
            return s.empty() ? std::string("-") : s;
        };
        INFO("after \"" << last_user << "\" tandem said:\n"
                        << texts << "options: " << labels << "\nintent " << last.intent
                        << ", dialog " << dash(last.dialog) << ", node " << dash(last.node));
        if (key == "intent")
            CHECK(dash(last.intent) == value);
        else if (key == "topic")
            CHECK(dash(last.topic) == value);
        else if (key == "dialog")
            CHECK(dash(last.dialog) == value);
        else if (key == "node")
            CHECK(dash(last.node) == value);
        else if (key == "says")
            CHECK(lower(texts).find(lower(value)) != std::string::npos);
        else if (key == "not-says")
            CHECK(lower(texts).find(lower(value)) == std::string::npos);
        else if (key == "options")
            CHECK(labels == value);
        else if (key == "option-count")
            CHECK(std::to_string(last.reply.options.size()) == value);
        else if (key == "end")
            CHECK((last.reply.end ? "true" : "false") == value);
        else if (key == "forgotten")
            CHECK((last.forgotten ? "true" : "false") == value);
        else
            FAIL("unknown transcript key \"" << key << "\"");
    }
}

std::vector<fs::path> transcripts(const fs::path& dir) {
    std::vector<fs::path> out;
    if (fs::is_directory(dir))
        for (const auto& e : fs::directory_iterator(dir))
            if (e.path().extension() == ".txt")
                out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
}

} // namespace

TEST_CASE("conversations: fixture transcripts", "[conversation]") {
    auto files = transcripts(test::data_dir() / "transcripts");
    REQUIRE(!files.empty());
    for (const auto& f : files)
        DYNAMIC_SECTION(f.filename().string()) {
            run_transcript(f, test::fixture_paths());
        }
}

TEST_CASE("conversations: shipped transcripts", "[conversation][shipped]") {
    auto files = transcripts(test::source_dir() / "tests" / "conversations");
    REQUIRE(!files.empty());
    for (const auto& f : files)
        DYNAMIC_SECTION(f.filename().string()) {
            run_transcript(f, test::shipped_paths());
        }
}
