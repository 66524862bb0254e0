#include "widget_test_support.hpp"

#include "adapters/widget/widget_connection.hpp"

#include <catch2/catch.hpp>

using namespace tandem;
namespace net = boost::asio;
using adapters::widget::widget_config;
using adapters::widget::widget_connection;
using adapters::widget::widget_hub;

namespace {

struct conn_fixture {
    test::core_fixture core;
    net::io_context ioc;
    std::shared_ptr<widget_hub> hub;
    conn_fixture() { hub = std::make_shared<widget_hub>(widget_config{}, *core.service); }
    std::shared_ptr<widget_connection> open() {
        return std::make_shared<widget_connection>(hub, ioc.get_executor());
    }
    std::vector<nlohmann::json> send(widget_connection& c, const std::string& raw) {
        test::run_until_done(ioc, c.handle(raw));
        auto q = c.outbox().drain();
        return {q.begin(), q.end()};
    }
};

std::vector<std::string> types(const std::vector<nlohmann::json>& frames) {
    std::vector<std::string> out;
    for (const auto& f : frames)
        out.push_back(f["type"]);
    return out;
}

} // namespace

TEST_CASE("widget connection: start, talk, resend, forget over one socket", "[widget][socket]") {
    conn_fixture f;
    auto c = f.open();
    auto out = f.send(*c, R"({"type":"message","client_msg_id":"m1","text":"hi"})");
    REQUIRE(out.size() == 1);
    CHECK(out[0]["code"] == "no_session");
    CHECK(out[0]["client_msg_id"] == "m1");

    out = f.send(*c, R"({"type":"start","language":"en"})");
    REQUIRE(types(out) == std::vector<std::string>{"ready"});
    auto sid = out[0]["session_id"].get<std::string>();
    CHECK(c->session() == sid);

    out = f.send(*c, R"({"type":"message","client_msg_id":"m1","text":"hi"})");
    CHECK(types(out) == std::vector<std::string>{"user", "typing", "ack", "bot", "typing"});
    out = f.send(*c, R"({"type":"message","client_msg_id":"m1","text":"hi"})");
    REQUIRE(types(out) == std::vector<std::string>{"ack"});
    CHECK(out[0]["duplicate"] == true);
    CHECK(out[0]["seq"] == 1);

    out = f.send(*c, R"({"type":"ping"})");
    CHECK(types(out) == std::vector<std::string>{"pong"});

    out = f.send(*c, R"({"type":"forget"})");
    CHECK(types(out) == std::vector<std::string>{"forgotten"});
    CHECK(c->session().empty());
    CHECK(f.hub->stats().sessions == 0);
    c->close();
}

TEST_CASE("widget connection: a second connection resumes where the first stopped",
          "[widget][socket]") {
    conn_fixture f;
    auto a = f.open();
    auto sid = f.send(*a, R"({"type":"start"})")[0]["session_id"].get<std::string>();
    f.send(*a, R"({"type":"message","client_msg_id":"m1","text":"hi"})");
    a->close();
    CHECK(f.hub->stats().subscribers == 0);

    auto b = f.open();
    auto out = f.send(*b, R"({"type":"resume","session_id":")" + sid + R"(","last_seq":1})");
    REQUIRE(types(out) == std::vector<std::string>{"ready", "bot"});
    CHECK(out[1]["seq"] == 2);
    out = f.send(*b, R"({"type":"resume","session_id":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"})");
    REQUIRE(types(out) == std::vector<std::string>{"error"});
    CHECK(out[0]["code"] == "unknown_session");
    b->close();
}

TEST_CASE("widget connection: the HTTP fallback names its session in each request",
          "[widget][http]") {
    conn_fixture f;
    std::string sid;
    {
        auto c = f.open();
        sid = f.send(*c, R"({"type":"start"})")[0]["session_id"].get<std::string>();
        c->close();
    }
    {
        // One request: a message; the answer holds the echo, the ack and the reply.
        auto c = f.open();
        auto out = f.send(*c, R"({"type":"message","session_id":")" + sid +
                                  R"(","last_seq":0,"client_msg_id":"h1","text":"hi"})");
        CHECK(types(out) == std::vector<std::string>{"user", "typing", "ack", "bot", "typing"});
        c->close();
    }
    {
        // A poll with nothing new waits; with news it returns them without a ready frame.
        auto c = f.open();
        auto out = f.send(*c, R"({"type":"poll","session_id":")" + sid + R"(","last_seq":1})");
        REQUIRE(types(out) == std::vector<std::string>{"bot"});
        c->close();
    }
    {
        auto c = f.open();
        auto out = f.send(*c, R"({"type":"forget","session_id":")" + sid + R"("})");
        CHECK(types(out) == std::vector<std::string>{"forgotten"});
        c->close();
    }
    CHECK(f.hub->stats().sessions == 0);
}

TEST_CASE("widget connection: bad frames get an error frame and the connection goes on",
          "[widget][socket][bad-input]") {
    conn_fixture f;
    auto c = f.open();
    for (std::string raw : {"not json", "[1,2]", R"({"type":"dance"})", R"({"type":7})",
                            R"({"type":"resume","session_id":"../../etc"})",
                            R"({"type":"message","client_msg_id":"x","text":42})"}) {
        auto out = f.send(*c, raw);
        REQUIRE(out.size() == 1);
        CHECK(out[0]["type"] == "error");
    }
    CHECK(types(f.send(*c, R"({"type":"start"})")) == std::vector<std::string>{"ready"});
    c->close();
}

TEST_CASE("widget connection: a listener that falls behind closes its outbox", "[widget][socket]") {
    conn_fixture f;
    auto c = f.open();
    auto sid = f.send(*c, R"({"type":"start"})")[0]["session_id"].get<std::string>();
    // Nobody drains: fill the mailbox beyond its capacity.
    for (std::size_t i = 0; i < f.hub->config().history_limit + 80; ++i)
        c->push({{"type", "typing"}, {"on", true}});
    CHECK(c->outbox().closed());
    c->close();
}
