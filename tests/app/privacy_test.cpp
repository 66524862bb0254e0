// Privacy, end to end (issue 6 part 6): what users write never reaches the logs or
// /metrics unless an operator turns log.message_text on; secrets come from the
// environment and never show up in logs, metrics or answers, not even when a request
// carries a wrong one; "forget me" over the widget leaves nothing to resume; the data
// folder and the SQLite file are owner-only. A real `tandem serve` on 127.0.0.1 port 0,
// driven over Telegram, Discord, the widget's WebSocket and long-poll, and `tandem chat`.
#include "tests/app/serve_support.hpp"
#include "tests/support/process.hpp"

#include <catch2/catch.hpp>

#include "adapters/http/text_split.hpp"

#include <regex>
#include <sys/stat.h>

using namespace tandem::test;
using namespace tandem::test::serve;

namespace {

const std::string start_frame = R"({"type":"start"})";
const std::string forget_frame = R"({"type":"forget"})";

// A client frame as text. (Built outside co_await expressions: GCC cannot keep an
// initializer list's array alive across a suspension.)
std::string message_frame(const std::string& id, const std::string& key, const std::string& value,
                          const std::string& session = "") {
    json j = json::object();
    j["type"] = "message";
    j["client_msg_id"] = id;
    j[key] = value;
    if (!session.empty())
        j["session_id"] = session;
    return j.dump();
}
std::string seq_frame(const std::string& type, const std::string& session) {
    json j = json::object();
    j["type"] = type;
    j["session_id"] = session;
    j["last_seq"] = 0;
    return j.dump();
}

// The secret with its last character changed: always wrong. (The marker's random letters
// may end in any letter, so replacing it with a fixed one was right 1 time in 26.)
std::string off_by_one(std::string secret) {
    secret.back() = secret.back() == 'x' ? 'y' : 'x';
    return secret;
}

struct secrets {
    // Distinctive values: any of them in a log line or an answer is a leak.
    std::string tg_token = "987654:SECRETTOKENzq" + marker("");
    std::string tg_secret = "SECRETWEBHOOKqz" + marker("");
};

struct drive_result {
    std::string log;     // everything serve printed (stdout and stderr)
    std::string metrics; // /metrics after the conversation
    std::string answers; // every body the server answered
    int exit_code = -1;
};

// Starts serve with every channel on, sends `text` through Telegram, Discord, the widget
// socket and the widget's long-poll API, then stops it.
drive_result drive_all_channels(const folder& f, const std::string& text, const secrets& s) {
    net::io_context ioc;
    fake_api api(ioc);
    test_signer signer;
    std::vector<std::string> env = {
        "TELEGRAM_BOT_TOKEN=" + s.tg_token, "TELEGRAM_WEBHOOK_SECRET=" + s.tg_secret,
        "TELEGRAM_API_BASE=" + api.base(), "DISCORD_PUBLIC_KEY=" + signer.public_hex()};
    auto proc = start(f, env);
    drive_result out;
    run_test(
        ioc,
        [&]() -> awaitable<void> {
            auto port = co_await wait_listening(*proc);
            http::http_client c(ioc.get_executor());
            // Telegram: a turn with the text, and one with a wrong secret.
            auto r = co_await c.request(post_json(url(port, "/webhooks/telegram"),
                                                  telegram_update(1, 4001, text),
                                                  telegram_headers(s.tg_secret)));
            CHECK(r.response.status == 200);
            out.answers += r.response.body;
            bool sent = co_await eventually(
                [&api] { return api.calls_named("sendMessage").size() >= 1; }, 20s);
            CHECK(sent);
            auto wrong = co_await c.request(post_json(url(port, "/webhooks/telegram"),
                                                      telegram_update(2, 4001, text),
                                                      telegram_headers(off_by_one(s.tg_secret))));
            CHECK(wrong.response.status == 403);
            out.answers += wrong.response.body;

            // Discord: a signed slash command with the text.
            auto body = discord_command("9001", "5001", text);
            auto d = co_await c.request(
                post_json(url(port, "/webhooks/discord"), body, discord_headers(signer, body)));
            CHECK(d.response.status == 200);
            out.answers += d.response.body;

            // The widget's socket.
            ws_client ws(ioc.get_executor());
            int upgraded = co_await ws.connect(port);
            CHECK(upgraded == 101);
            co_await ws.send(start_frame);
            auto ready = co_await ws.until_type(std::string("ready"));
            CHECK(ready.is_object());
            co_await ws.send(message_frame("m1", "text", text));
            auto bot = co_await ws.until_type(std::string("bot"));
            CHECK(bot.is_object());
            ws.close();

            // The widget's HTTP fallback: start, then a message, then a poll.
            auto st =
                co_await c.request(post_json(url(port, "/widget/api"), R"({"type":"start"})"));
            auto frames = json::parse(st.response.body, nullptr, false);
            std::string session;
            auto list = frames.value("frames", json::array());
            for (const auto& fr : list)
                if (fr.value("type", "") == "ready")
                    session = fr.value("session_id", "");
            CHECK(session.size() == 32);
            auto m = co_await c.request(
                post_json(url(port, "/widget/api"), message_frame("p1", "text", text, session)));
            CHECK(m.response.status == 200);
            auto poll = co_await c.request(
                post_json(url(port, "/widget/poll"), seq_frame("poll", session)));
            CHECK(poll.response.status == 200);

            auto metrics = co_await c.request(get(url(port, "/metrics")));
            out.metrics = metrics.response.body;
            proc->signal(SIGTERM);
            auto code = co_await wait_exit(*proc, 30s);
            out.exit_code = code.value_or(-2);
        },
        120s);
    out.log = proc->log();
    return out;
}

json privacy_config(bool message_text) {
    return {{"log", {{"level", "debug"}, {"message_text", message_text}}},
            {"store", {{"kind", "sqlite"}}}};
}

} // namespace

TEST_CASE("privacy: message text never reaches logs or metrics by default, even at debug level",
          "[privacy][serve][e2e]") {
    folder f(privacy_config(false));
    secrets s;
    auto text = marker("zqmarker");
    auto r = drive_all_channels(f, "I feel smothered " + text, s);
    CHECK(r.exit_code == 0);
    // The channels were really exercised: each logged its turns (hashed ids only).
    CHECK(r.log.find("telegram.turn") != std::string::npos);
    CHECK(r.log.find("discord.turn") != std::string::npos);
    CHECK(r.log.find("\"event\":\"turn\"") != std::string::npos); // the debug turn line
    CHECK(r.metrics.find("tandem_turns_total") != std::string::npos);
    CHECK(r.log.find(text) == std::string::npos);
    CHECK(r.metrics.find(text) == std::string::npos);
    // Secrets: not in the log, the metrics or any answer (the wrong-secret request included).
    for (const auto& secret : {s.tg_token, s.tg_secret}) {
        CHECK(r.log.find(secret) == std::string::npos);
        CHECK(r.metrics.find(secret) == std::string::npos);
        CHECK(r.answers.find(secret) == std::string::npos);
    }
    CHECK(r.log.find("bad_secret") != std::string::npos); // the refusal was logged, by reason
    // The Telegram update log (payloads are message text until answered) is a file of its
    // own, owner-only like the store's.
    struct stat st {};
    REQUIRE(::stat(f.path("data/telegram-updates.sqlite").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    for (const auto& side :
         {"data/telegram-updates.sqlite-wal", "data/telegram-updates.sqlite-shm"})
        if (::stat(f.path(side).c_str(), &st) == 0)
            CHECK((st.st_mode & 0077) == 0);
    // So is the Discord inbox (deferred interactions' text until their follow-up is sent),
    // which serve read at start.
    REQUIRE(::stat(f.path("data/discord-inbox.sqlite").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    CHECK(r.log.find("discord.resumed") != std::string::npos);
}

TEST_CASE("privacy: with log.message_text on, the debug log does carry the text",
          "[privacy][serve][e2e]") {
    // The counterpart of the test above: the same search finds the text once an operator
    // asks for it, so that test can fail.
    folder f(privacy_config(true));
    secrets s;
    auto text = marker("zqmarker");
    auto r = drive_all_channels(f, "I feel smothered " + text, s);
    CHECK(r.exit_code == 0);
    CHECK(r.log.find(text) != std::string::npos);
    CHECK(r.metrics.find(text) == std::string::npos); // metrics never carry text
    CHECK(r.log.find(s.tg_token) == std::string::npos);
    CHECK(r.log.find(s.tg_secret) == std::string::npos);
}

TEST_CASE("privacy: tandem chat logs no message text and keeps its data owner-only",
          "[privacy][cli]") {
    folder f(json{{"log", {{"level", "debug"}}}, {"store", {{"kind", "sqlite"}}}});
    auto text = marker("zqmarker");
    auto in = f.path("in.txt");
    std::ofstream(in) << "hi\nI feel smothered\n[partner]\nI would paint " << text << "\n";
    auto out = sh(tandem_bin() + " chat --json --config " + q(f.config) + " < " + q(in.string()) +
                  " 2>" + q(f.path("stderr.txt").string()));
    CHECK(out.status == 0);
    auto err = read_file(f.path("stderr.txt").string());
    CHECK(err.find("\"event\":\"turn\"") != std::string::npos); // debug logging was on
    CHECK(err.find(text) == std::string::npos);
    // The reply reflects the user's words back (stdout is the conversation, not a log).
    CHECK(out.out.find(text) != std::string::npos);

    struct stat st {};
    REQUIRE(::stat(f.path("data").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);
    REQUIRE(::stat(f.path("data/tandem.sqlite").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    for (const auto& side : {"data/tandem.sqlite-wal", "data/tandem.sqlite-shm"})
        if (::stat(f.path(side).c_str(), &st) == 0)
            CHECK((st.st_mode & 0077) == 0);
}

TEST_CASE("privacy: an existing store file readable by others is made owner-only",
          "[privacy][cli]") {
    folder f(json{{"store", {{"kind", "sqlite"}}}});
    fs::create_directories(f.path("data"));
    std::ofstream(f.path("data/tandem.sqlite")).close();
    ::chmod(f.path("data/tandem.sqlite").c_str(), 0644);
    auto out = sh("printf 'hi\\n' | " + tandem_bin() + " chat --json --config " + q(f.config));
    CHECK(out.status == 0);
    struct stat st {};
    REQUIRE(::stat(f.path("data/tandem.sqlite").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
}

TEST_CASE("privacy: forget me over the widget socket leaves nothing to resume",
          "[privacy][serve][e2e][widget]") {
    folder f(json{{"store", {{"kind", "sqlite"}}}});
    auto text = marker("zqmarker");
    net::io_context ioc;
    auto proc = start(f, {});
    json resumed, after_forget, history_frame;
    std::optional<int> code;
    run_test(
        ioc,
        [&]() -> awaitable<void> {
            auto port = co_await wait_listening(*proc);
            ws_client ws(ioc.get_executor());
            int ws_status = co_await ws.connect(port);
            REQUIRE(ws_status == 101);
            co_await ws.send(start_frame);
            auto ready = co_await ws.until_type(std::string("ready"));
            auto session = ready.value("session_id", "");
            REQUIRE(session.size() == 32);
            co_await ws.send(message_frame("a", "text", "I feel smothered"));
            co_await ws.until_type(std::string("bot"));
            co_await ws.send(message_frame("b", "option_id", "partner"));
            co_await ws.until_type(std::string("bot"));
            co_await ws.send(message_frame("c", "text", "paint " + text));
            co_await ws.until_type(std::string("bot"));
            ws.close();

            // Another socket resumes: the history comes back (so the check below can fail).
            ws_client again(ioc.get_executor());
            int again_status = co_await again.connect(port);
            REQUIRE(again_status == 101);
            co_await again.send(seq_frame("resume", session));
            resumed = co_await again.until_type(std::string("ready"));
            for (int i = 0; i < 8; ++i) {
                auto fr = co_await again.next_json(3s);
                if (fr.is_null())
                    break;
                if (fr.value("type", "") == "user" &&
                    fr.value("text", "").find(text) != std::string::npos)
                    history_frame = fr;
            }
            co_await again.send(forget_frame);
            co_await again.until_type(std::string("forgotten"));
            again.close();

            ws_client third(ioc.get_executor());
            int third_status = co_await third.connect(port);
            REQUIRE(third_status == 101);
            co_await third.send(seq_frame("resume", session));
            after_forget = co_await third.next_json();
            third.close();
            proc->signal(SIGTERM);
            code = co_await wait_exit(*proc, 30s);
        },
        120s);
    CHECK(resumed.value("resumed", false));
    CHECK(history_frame.is_object());
    CHECK(after_forget.value("type", "") == "error");
    CHECK(after_forget.value("code", "") == "unknown_session");
    REQUIRE(code);
    CHECK(*code == 0);
    // Nothing of the conversation is left on disk.
    CHECK(all_bytes_under(f.path("data")).find(text) == std::string::npos);
}

TEST_CASE("privacy: secrets come from the environment only, a bad one is refused without "
          "echoing it",
          "[privacy][serve]") {
    // A secret written into the config file is not a key tandem reads: the file is refused.
    folder f(json{{"telegram", {{"secret", "SECRETINFILEzq"}}}});
    auto out = sh(tandem_bin() + " serve --config " + q(f.config) + " --listen 127.0.0.1:0");
    CHECK(out.status == 1);
    CHECK(out.out.find("/telegram/secret") != std::string::npos);
    CHECK(out.out.find("SECRETINFILEzq") == std::string::npos);

    // An invalid secret in the environment: the channel is off, and the value is not printed.
    folder g;
    net::io_context ioc;
    auto proc = start(g, {"TELEGRAM_BOT_TOKEN=1:SECRETTOKENzq", "TELEGRAM_WEBHOOK_SECRET=bad "
                                                                "SECRETVALUEzq!"});
    std::optional<int> code;
    run_test(ioc, [&]() -> awaitable<void> {
        co_await wait_listening(*proc);
        proc->signal(SIGTERM);
        code = co_await wait_exit(*proc, 30s);
    });
    auto log = proc->log();
    CHECK(log.find("TELEGRAM_WEBHOOK_SECRET") != std::string::npos); // names the variable
    CHECK(log.find("SECRETVALUEzq") == std::string::npos);
    CHECK(log.find("SECRETTOKENzq") == std::string::npos);
    REQUIRE(code);
    CHECK(*code == 0);
}

TEST_CASE("privacy: every secret is compared in constant time", "[privacy][security]") {
    // Secrets (the Telegram webhook secret, tokens, signatures) are compared only through
    // http::secret_equals (CRYPTO_memcmp) or checked by OpenSSL (Ed25519). A plain == or !=
    // on anything named like a secret in the sources fails this test; the helper itself is
    // tested in tests/adapters/http/text_split_test.cpp and below.
    std::regex plain_compare(
        R"((secret|signature|password|token)\w*(\(\))?\s*[!=]=[^=]|[!=]=\s*[\w.>-]*(secret|signature|password|token)\w*\b)",
        std::regex::icase);
    std::vector<std::string> found;
    std::size_t files = 0;
    for (const auto* dir : {"adapters", "app", "bot"}) {
        for (const auto& e : fs::recursive_directory_iterator(source_dir() / dir)) {
            auto ext = e.path().extension();
            if (ext != ".cpp" && ext != ".hpp")
                continue;
            ++files;
            std::ifstream in(e.path());
            std::string line;
            for (int n = 1; std::getline(in, line); ++n) {
                if (line.find("tokens_.end()") != std::string::npos) // an iterator, not a token
                    continue;
                if (std::regex_search(line, plain_compare))
                    found.push_back(e.path().string() + ":" + std::to_string(n) + ": " + line);
            }
        }
    }
    CHECK(files > 50);
    for (const auto& f : found)
        UNSCOPED_INFO(f);
    CHECK(found.empty());
    // The search does find a plain comparison (so it can fail).
    CHECK(std::regex_search("if (token != cfg_.secret)", plain_compare));
    CHECK(std::regex_search("ok = header == secret;", plain_compare));
    // The helper: equal, different at the first or last byte, different lengths.
    using tandem::adapters::http::secret_equals;
    std::string a(64, 'k');
    CHECK(secret_equals(a, a));
    for (std::size_t i : {std::size_t{0}, std::size_t{31}, std::size_t{63}}) {
        auto b = a;
        b[i] = 'j';
        CHECK_FALSE(secret_equals(a, b));
    }
    CHECK_FALSE(secret_equals(a, a.substr(0, 63)));
    CHECK_FALSE(secret_equals(a, ""));
    CHECK(secret_equals("", ""));
}
