// One conversation on several channels. "/link" in one chat gives a short code; "/link
// CODE" in another chat (another channel, or the same one) makes that chat continue the
// first one's conversation: both then read and write one conversation state, so a
// reflection started in the console or the website widget goes on in Telegram or Discord.
//
// How it is stored, with nothing but the conversation_store interface (so every store
// supports it as it is):
// - the code: a record under code_key(code) naming the conversation it opens, valid for
//   code_life_seconds and used at most once (erase() succeeds for one caller only);
// - the joining chat: its own key holds a state with only linked_to set;
// - the conversation: its state lists the chats that joined it (conversation_state::linked)
//   so that "forget me", from any of them, deletes all of them.
// The turn logic is in turn_processor; this file holds the parts that need no store.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tandem::bot::linking {

struct command {
    enum class kind { none, issue, redeem, unlink };
    kind what = kind::none;
    std::string code; // redeem: the code as 8 canonical characters; empty when malformed
};

// "/link", "/link CODE", "/unlink", in any case, with an optional "@botname" after the
// command word (group chats). Anything else is kind::none.
command parse(std::string_view text);

// 8 characters from an alphabet without look-alikes (no 0/O, 1/I/L), from the operating
// system's random source: 31^8 (about 8.5e11) codes, each valid for 10 minutes.
std::string new_code();
// "ABCD-EFGH": how a code is shown. parse() accepts it with or without the dash, in any
// case and with spaces.
std::string display(const std::string& code);
// The store key of a code's record. Its "~" keeps it apart from every "channel:id" key.
std::string code_key(const std::string& code);
constexpr std::int64_t code_life_seconds = 600;

struct code_record {
    std::string target; // the conversation's key
    std::int64_t expires = 0;
};
std::string record_json(const code_record& r);
// Nothing when the stored text is not a code record.
std::optional<code_record> parse_record(const std::string& json);

} // namespace tandem::bot::linking
