#include "../support/test_support.hpp"

#include "bot/json_reader.hpp"

#include <catch2/catch.hpp>

#include <fstream>

namespace fs = std::filesystem;
using namespace tandem;

namespace {

struct expectation {
    std::string code, file, pointer;
};

expectation read_expect(const fs::path& dir) {
    bot::diagnostics d;
    auto j = bot::read_json_file((dir / "expect.json").string(), d);
    REQUIRE(j);
    return {(*j)["code"], (*j)["file"], (*j)["pointer"]};
}

void copy_dir(const fs::path& from, const fs::path& to) {
    fs::create_directories(to);
    fs::copy(from, to, fs::copy_options::recursive);
}

std::vector<fs::path> fixture_dirs(const std::string& kind) {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(test::data_dir() / "invalid" / kind))
        out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
}

// Loads the valid fixture content with the broken files of one fixture folder added (or,
// for resources, swapped in), and checks the expected diagnostic is among the problems.
void check_fixture(const std::string& kind, const fs::path& dir) {
    auto want = read_expect(dir);
    test::temp_dir tmp;
    auto paths = test::fixture_paths();
    std::string target_dir;
    if (kind == "intents") {
        copy_dir(paths.intents_dir, tmp.path() / "intents");
        paths.intents_dir = (tmp.path() / "intents").string();
        target_dir = paths.intents_dir;
    } else if (kind == "dialogs") {
        copy_dir(paths.dialogs_dir, tmp.path() / "dialogs");
        paths.dialogs_dir = (tmp.path() / "dialogs").string();
        target_dir = paths.dialogs_dir;
    } else {
        target_dir = tmp.str();
        paths.resources_file = (tmp.path() / "resources.json").string();
    }
    for (const auto& e : fs::directory_iterator(dir))
        if (e.path().filename() != "expect.json")
            fs::copy_file(e.path(), fs::path(target_dir) / e.path().filename());

    bot::diagnostics diags;
    bot::content::load(paths, diags);
    INFO("fixture " << dir.filename().string() << "\n" << diags.to_string());
    bool found = false;
    for (const auto& d : diags.items())
        if (d.code == want.code && fs::path(d.file).filename() == want.file &&
            d.pointer == want.pointer && !d.message.empty())
            found = true;
    CHECK(found);
}

} // namespace

TEST_CASE("content loader: the fixture content is valid", "[loader]") {
    auto c = test::load_ok(test::fixture_paths());
    CHECK(c->dialogs().size() >= 10);
}

TEST_CASE("content loader: each broken intent fixture gives its diagnostic", "[loader]") {
    for (const auto& dir : fixture_dirs("intents")) {
        DYNAMIC_SECTION(dir.filename().string()) {
            check_fixture("intents", dir);
        }
    }
}

TEST_CASE("content loader: each broken dialog fixture gives its diagnostic", "[loader]") {
    for (const auto& dir : fixture_dirs("dialogs")) {
        DYNAMIC_SECTION(dir.filename().string()) {
            check_fixture("dialogs", dir);
        }
    }
}

TEST_CASE("content loader: each broken resources fixture gives its diagnostic", "[loader]") {
    for (const auto& dir : fixture_dirs("resources")) {
        DYNAMIC_SECTION(dir.filename().string()) {
            check_fixture("resources", dir);
        }
    }
}

TEST_CASE("content loader: every problem is reported, not only the first", "[loader]") {
    test::temp_dir tmp;
    auto paths = test::fixture_paths();
    copy_dir(paths.dialogs_dir, tmp.path() / "dialogs");
    paths.dialogs_dir = (tmp.path() / "dialogs").string();
    std::ofstream(tmp.path() / "dialogs" / "many.json")
        << R"({"schema_version": 1, "start": "a", "nodes": {
              "a": {"say": ["{nope}"], "next": "gone"},
              "b": {"say": ["lost"], "end": true},
              "c": {"ask": "?", "options": [{"label": "x", "next": "nowhere"}]}}})";
    bot::diagnostics diags;
    bot::content::load(paths, diags);
    INFO(diags.to_string());
    CHECK(diags.has_code("slot.undeclared"));
    CHECK(diags.has_code("node.target_missing"));
    CHECK(diags.has_code("node.unreachable"));
    CHECK(diags.size() >= 5);
}

TEST_CASE("content loader: missing required dialogs are named", "[loader]") {
    test::temp_dir tmp;
    fs::create_directories(tmp.path() / "dialogs");
    auto paths = test::fixture_paths();
    paths.dialogs_dir = (tmp.path() / "dialogs").string();
    bot::diagnostics diags;
    bot::content::load(paths, diags);
    for (const char* d : {"welcome", "menu", "safety", "safety_mode_block", "system"}) {
        INFO(d);
        CHECK(diags.to_string().find(std::string("\"") + d + "\"") != std::string::npos);
    }
    CHECK(diags.has_code("content.required_dialog"));
}

TEST_CASE("content loader: a missing folder or file is a clear error", "[loader]") {
    bot::diagnostics diags;
    bot::content::load({"/nonexistent/intents", "/nonexistent/dialogs", "/nonexistent/r.json"},
                       diags);
    CHECK(diags.has_code("file.read"));
}

TEST_CASE("content loader: the shipped content is valid", "[loader][shipped]") {
    auto c = test::load_ok(test::shipped_paths());
    CHECK(c->matcher().intents().size() > 20);
    // Every reply fits Discord's 2000-character limit (the validator enforces it; this
    // asserts the rule is active on the shipped files).
    for (const auto& [id, d] : c->dialogs())
        for (const auto& [nid, n] : d.nodes)
            for (const auto& line : n.say)
                for (const auto& v : line)
                    CHECK(v.size() <= 2000);
}

TEST_CASE("content loader: locale packs override by id and fall back to the default",
          "[loader][locale]") {
    auto c = test::load_ok(test::fixture_paths());
    CHECK(c->locale() == "en");
    CHECK(c->locales().size() == 2);
    const auto& es = c->for_locale("es-MX");
    CHECK(es.locale() == "es");
    CHECK(&c->for_locale("fr") == c.get());
    CHECK(es.matcher().classify("hola").intent == "greeting");
    CHECK(c->matcher().classify("hola").intent == "fallback");
    CHECK(es.matcher().classify("he hit me").topic == "safety"); // English intents stay
    CHECK(es.dialog("greeting")->file.find("/es/") != std::string::npos);
    REQUIRE(es.dialog("menu") != nullptr);
    CHECK(es.dialog("menu")->file.find("/es/") == std::string::npos);
    CHECK(c->locale_for("es-ES") == "es");
    CHECK(c->locale_for("habla en castellano") == "es");
    CHECK_FALSE(c->locale_for("fr-FR"));
}

TEST_CASE("content loader: a pack's problems are reported with its locale", "[loader][locale]") {
    test::temp_dir tmp;
    auto paths = test::fixture_paths();
    copy_dir(fs::path(paths.intents_dir), tmp.path() / "intents");
    paths.intents_dir = (tmp.path() / "intents").string();
    std::ofstream(tmp.path() / "intents" / "es" / "roto.json")
        << R"({"schema_version": 1, "intents": [{"id": "roto", "topic": "conflict",
              "priority": 50, "patterns": ["(sin cerrar"]}]})";
    bot::diagnostics diags;
    bot::content::load(paths, diags);
    INFO(diags.to_string());
    CHECK(diags.has_code("pattern.compile"));
    CHECK(diags.to_string().find("es/roto.json:/intents/0/patterns/0") != std::string::npos);
}

TEST_CASE("content loader: clause words must be words as the normaliser leaves them",
          "[loader][locale]") {
    test::temp_dir tmp;
    auto paths = test::fixture_paths();
    paths.locales_file = (tmp.path() / "locales.json").string();
    std::ofstream(paths.locales_file) << R"({"schema_version": 1, "default": "en", "locales": {
        "en": {"name": "English", "clause_words": ["but", "But", "", "don't", "even though",
                                                   " yet", "however,", 7]},
        "es": {"name": "Español", "clause_words": ["pero", "sin embargo"]}}})";
    bot::diagnostics diags;
    auto c = bot::content::load(paths, diags);
    INFO(diags.to_string());
    const auto all = diags.to_string();
    // Every bad word is reported, each at its own place; the good ones pass.
    for (int k : {1, 2, 3, 5, 6})
        CHECK(all.find("/locales/en/clause_words/" + std::to_string(k) + ": locale.clause_word") !=
              std::string::npos);
    CHECK(all.find("/locales/en/clause_words/7") != std::string::npos); // not a string
    CHECK(all.find("/clause_words/0:") == std::string::npos);
    CHECK(all.find("/clause_words/4:") == std::string::npos);
    CHECK(all.find("/locales/es/") == std::string::npos);
}

TEST_CASE("content loader: a message exclude is checked like any pattern", "[loader]") {
    test::temp_dir tmp;
    auto paths = test::fixture_paths();
    copy_dir(fs::path(paths.intents_dir), tmp.path() / "intents");
    paths.intents_dir = (tmp.path() / "intents").string();
    std::ofstream(tmp.path() / "intents" / "zz_context.json")
        << R"({"schema_version": 1, "intents": [{"id": "zz_context", "topic": "conflict",
              "priority": 50, "patterns": ["\\bbruises\\b"],
              "exclude_message": ["\\bpaintball\\b", "(open", ""],
              "examples": ["bruises everywhere"],
              "counterexamples": ["bruises from paintball", "paintball day. bruises after"]}]})";
    bot::diagnostics diags;
    bot::content::load(paths, diags);
    const auto all = diags.to_string();
    INFO(all);
    CHECK(all.find("zz_context.json:/intents/0/exclude_message/1: pattern.compile") !=
          std::string::npos);
    CHECK(all.find("zz_context.json:/intents/0/exclude_message/2") != std::string::npos);
    // The good message exclude works: neither counterexample matches.
    CHECK_FALSE(diags.has_code("intent.counterexample_matched"));
}
