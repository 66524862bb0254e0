// The widget's frame parser (every WebSocket message and /widget/api body goes through it).
#include "adapters/widget/widget_protocol.hpp"
#include "bot/normalizer.hpp"
#include "fuzz/fuzz_support.hpp"

#include <set>

using namespace tandem;
namespace wg = adapters::widget;

namespace {
std::size_t code_points(const std::string& s) {
    std::size_t n = 0;
    for (unsigned char c : s)
        n += (c & 0xC0) != 0x80;
    return n;
}
bool id_chars(const std::string& s, std::size_t max) {
    if (s.empty() || s.size() > max)
        return false;
    for (char c : s)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.' &&
            c != ':')
            return false;
    return true;
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const std::set<std::string> codes = {"too_large",    "bad_json",        "bad_frame",
                                                "unknown_type", "unknown_session", "too_long"};
    std::string_view raw(reinterpret_cast<const char*>(data), size);
    // Small limits too, so the fuzzer reaches them.
    for (wg::frame_limits limits : {wg::frame_limits{}, wg::frame_limits{64, 8}}) {
        auto parsed = wg::parse_client_frame(raw, limits);
        if (auto* err = std::get_if<wg::frame_error>(&parsed)) {
            fuzz::check(codes.count(err->code) == 1, "a rejection without a known error code");
            fuzz::check(!err->message.empty() && fuzz::valid_utf8(err->message),
                        "an error without a readable message");
            // The error frame the client gets is a JSON object with the code.
            auto frame = nlohmann::json::parse(wg::error_frame(err->code, err->message).dump());
            fuzz::check(frame["code"] == err->code, "an error frame without its code");
            continue;
        }
        fuzz::check(raw.size() <= limits.max_frame_bytes, "a frame over the size limit accepted");
        const auto& f = std::get<wg::client_frame>(parsed);
        fuzz::check(f.session_id.empty() || wg::plausible_session_id(f.session_id),
                    "an implausible session id accepted");
        fuzz::check(f.last_seq <= (std::uint64_t{1} << 53), "last_seq beyond 2^53");
        if (f.type == wg::frame_type::resume || f.type == wg::frame_type::poll)
            fuzz::check(!f.session_id.empty(), "resume or poll without a session");
        if (f.type == wg::frame_type::start && !f.language.empty())
            fuzz::check(id_chars(f.language, 35), "a language tag with odd characters");
        if (f.type == wg::frame_type::message) {
            fuzz::check(id_chars(f.client_msg_id, 64), "a bad client_msg_id accepted");
            fuzz::check(f.text.empty() != f.option_id.empty(),
                        "a message with both or neither text and option");
            if (!f.text.empty()) {
                fuzz::check(fuzz::valid_utf8(f.text), "text is not valid UTF-8");
                fuzz::check(code_points(f.text) <= limits.max_text_chars, "text over the limit");
                auto first = static_cast<unsigned char>(f.text.front());
                auto last = static_cast<unsigned char>(f.text.back());
                fuzz::check(!std::isspace(first) && !std::isspace(last), "text not trimmed");
                for (unsigned char c : f.text)
                    fuzz::check(c >= 0x20 || c == '\t' || c == '\n' || c == '\r',
                                "a control character in text");
            } else {
                fuzz::check(id_chars(f.option_id, 64), "a bad option id accepted");
            }
        } else {
            fuzz::check(f.text.empty() && f.option_id.empty(), "text on a frame that has none");
        }
    }
    return 0;
}
