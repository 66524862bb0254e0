// The widget's wire protocol: JSON objects, one per WebSocket text message or HTTP body.
// The same frames travel over both transports. Documented in docs/widget.md.
//
// Client -> server                          Server -> client
//   start   {language?}                       ready     {session_id, resumed, first_seq,
//   resume  {session_id, last_seq}                       last_seq, reset?, gap?}
//   message {client_msg_id, text | option_id} user       {seq, client_msg_id, text}
//   forget  {}                                bot       {seq, texts, options, end, reply_to?}
//   poll    {session_id, last_seq} (HTTP)     ack       {client_msg_id, seq, duplicate}
//   ping    {}                                typing    {on}
//                                             forgotten {texts?}
//                                             error     {code, message, client_msg_id?}
//                                             pong      {}
// "user" and "bot" frames are the conversation: each carries the session's next seq and is
// kept for resume. The others describe the moment and carry no seq. Over HTTP every
// frame also names its session_id; over a WebSocket the session is the socket's.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace tandem::adapters::widget {

enum class frame_type { start, resume, message, forget, poll, ping };

struct client_frame {
    frame_type type = frame_type::ping;
    std::string session_id;     // resume, poll; optional on message/forget
    std::uint64_t last_seq = 0; // resume, poll; on HTTP messages: what the client has seen
    std::string client_msg_id;  // message
    std::string text;           // message (trimmed, valid UTF-8)
    std::string option_id;      // message: a pressed option instead of text
    std::string language;       // start: the page's language hint ("en", "es-MX")
};

struct frame_error {
    std::string code;    // stable: bad_json, bad_frame, unknown_type, too_long, ...
    std::string message; // for developers; the widget shows its own words
};

struct frame_limits {
    std::size_t max_frame_bytes = 16384;
    std::size_t max_text_chars = 2000;
};

// Parses and validates one client frame. Never throws.
std::variant<client_frame, frame_error> parse_client_frame(std::string_view raw,
                                                           const frame_limits& limits);

// Session ids are 32 characters of base64url; anything else is never a session.
bool plausible_session_id(std::string_view s);

nlohmann::json error_frame(std::string_view code, std::string_view message,
                           std::string_view client_msg_id = {});

} // namespace tandem::adapters::widget
