#include "adapters/widget/widget_protocol.hpp"

#include <catch2/catch.hpp>

using namespace tandem::adapters::widget;

namespace {
std::string error_of(const std::string& raw, frame_limits l = {}) {
    auto r = parse_client_frame(raw, l);
    if (auto* e = std::get_if<frame_error>(&r))
        return e->code;
    return "";
}
client_frame frame_of(const std::string& raw) {
    auto r = parse_client_frame(raw, {});
    REQUIRE(std::holds_alternative<client_frame>(r));
    return std::get<client_frame>(r);
}
const std::string sid = "abcdefghijklmnopqrstuvwxyz012-_A";
// a + sid + b (built step by step: g++ 12 warns falsely about chained string +).
std::string with_sid(const char* a, const char* b) {
    std::string s = a;
    s += sid;
    s += b;
    return s;
}
} // namespace

TEST_CASE("widget protocol: valid frames", "[widget][protocol]") {
    CHECK(frame_of(R"({"type":"start"})").type == frame_type::start);
    CHECK(frame_of(R"({"type":"start","language":"es-MX"})").language == "es-MX");
    auto r = frame_of(with_sid(R"({"type":"resume","session_id":")", R"(","last_seq":41})"));
    CHECK(r.type == frame_type::resume);
    CHECK(r.session_id == sid);
    CHECK(r.last_seq == 41);
    auto m =
        frame_of(R"({"type":"message","client_msg_id":"9b2c-1","text":"  I feel far apart \n"})");
    CHECK(m.text == "I feel far apart");
    CHECK(m.client_msg_id == "9b2c-1");
    auto o = frame_of(R"({"type":"message","client_msg_id":"x","option_id":"distant"})");
    CHECK(o.option_id == "distant");
    CHECK(o.text.empty());
    CHECK(frame_of(R"({"type":"message","client_msg_id":"x","text":"ü 🙂 ok"})").text ==
          "ü 🙂 ok");
    CHECK(frame_of(R"({"type":"ping","extra":"ignored"})").type == frame_type::ping);
}

TEST_CASE("widget protocol: malformed JSON, wrong types and bad values are refused",
          "[widget][protocol][bad-input]") {
    CHECK(error_of("") == "bad_json");
    CHECK(error_of("{") == "bad_json");
    CHECK(error_of("nul") == "bad_json");
    CHECK(error_of("[]") == "bad_frame");
    CHECK(error_of("\"start\"") == "bad_frame");
    CHECK(error_of("{}") == "bad_frame");
    CHECK(error_of(R"({"type":1})") == "bad_frame");
    CHECK(error_of(R"({"type":"shutdown"})") == "unknown_type");
    CHECK(error_of(R"({"type":"resume"})") == "bad_frame");
    CHECK(error_of(R"({"type":"resume","session_id":42})") == "bad_frame");
    CHECK(error_of(R"({"type":"resume","session_id":"short"})") == "unknown_session");
    CHECK(error_of(with_sid(R"({"type":"resume","session_id":")", R"(","last_seq":-1})")) ==
          "bad_frame");
    CHECK(error_of(with_sid(R"({"type":"resume","session_id":")", R"(","last_seq":"3"})")) ==
          "bad_frame");
    CHECK(error_of(with_sid(R"({"type":"resume","session_id":")", R"(","last_seq":1.5})")) ==
          "bad_frame");
    CHECK(error_of(R"({"type":"start","language":"<script>"})") == "bad_frame");
    CHECK(error_of(R"({"type":"message","text":"hi"})") == "bad_frame");
    CHECK(error_of(R"({"type":"message","client_msg_id":"","text":"hi"})") == "bad_frame");
    CHECK(error_of(R"({"type":"message","client_msg_id":"a b","text":"hi"})") == "bad_frame");
    CHECK(error_of(R"({"type":"message","client_msg_id":"x"})") == "bad_frame");
    CHECK(error_of(R"({"type":"message","client_msg_id":"x","text":"hi","option_id":"a"})") ==
          "bad_frame");
    CHECK(error_of(R"({"type":"message","client_msg_id":"x","text":"   "})") == "bad_frame");
    CHECK(error_of(R"({"type":"message","client_msg_id":"x","text":["hi"]})") == "bad_frame");
    CHECK(error_of(R"({"type":"message","client_msg_id":"x","text":"a\u0000b"})") == "bad_frame");
    CHECK(error_of(R"({"type":"message","client_msg_id":"x","text":"\ud800"})") != "");
    CHECK(error_of("{\"type\":\"message\",\"client_msg_id\":\"x\",\"text\":\"\xff\xfe\"}") != "");
    CHECK(error_of(R"({"type":"message","client_msg_id":"x","option_id":{}})") == "bad_frame");
}

TEST_CASE("widget protocol: size limits", "[widget][protocol][bad-input]") {
    frame_limits l;
    l.max_frame_bytes = 2000;
    l.max_text_chars = 10;
    CHECK(error_of(std::string(2001, ' '), l) == "too_large");
    CHECK(error_of(R"({"type":"message","client_msg_id":"x","text":"0123456789"})", l) == "");
    CHECK(error_of(R"({"type":"message","client_msg_id":"x","text":"01234567890"})", l) ==
          "too_long");
    // Characters, not bytes: ten two-byte letters fit.
    CHECK(error_of(R"({"type":"message","client_msg_id":"x","text":"ééééééééé"})", l) == "");
    CHECK(error_of(std::string(R"({"type":"message","client_msg_id":")")
                       .append(65, 'a')
                       .append(R"(","text":"hi"})"),
                   l) == "bad_frame");
}

TEST_CASE("widget protocol: session ids", "[widget][protocol]") {
    CHECK(plausible_session_id(sid));
    CHECK_FALSE(plausible_session_id(""));
    CHECK_FALSE(plausible_session_id(sid + "A"));
    CHECK_FALSE(plausible_session_id("abcdefghijklmnopqrstuvwxyz012/_A"));
    auto e = error_frame("bad_json", "frame is not valid JSON", "m1");
    CHECK(e["type"] == "error");
    CHECK(e["client_msg_id"] == "m1");
}
