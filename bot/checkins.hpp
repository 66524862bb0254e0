// Consent-first check-ins: after a reflection the user may ask tandem to check in later.
// The dialog engine records the opt-in in the conversation state; the turn processor
// mirrors it into a checkin_store (one pending check-in per conversation), and
// bot_service sends due ones through the channel's proactive_sink. Everything here is
// platform-free; adapters implement proactive_sink.
#pragma once

#include "bot/message.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace tandem::bot {

struct checkin_entry {
    std::string key;         // conversation key ("channel:id")
    conversation_ref ref;    // where to send it
    std::string dialog;      // the dialog that opens the check-in
    std::int64_t due_at = 0; // unix seconds
    int attempts = 0;        // deliveries tried so far
};

// Thread-safe. Survives restarts when backed by SQLite.
class checkin_store {
  public:
    virtual ~checkin_store() = default;
    // Replaces any pending check-in of the same conversation.
    virtual void schedule(const checkin_entry& e) = 0;
    virtual bool cancel(const std::string& key) = 0;
    // Removes and returns up to max check-ins due at or before now, oldest first.
    virtual std::vector<checkin_entry> take_due(std::int64_t now, std::size_t max) = 0;
    virtual std::size_t size() = 0;
};

std::shared_ptr<checkin_store> make_memory_checkin_store();
// A "checkins" table in the given SQLite file (may be the conversation store's file).
std::shared_ptr<checkin_store> make_sqlite_checkin_store(const std::string& path);

// Implemented by a channel adapter that can reach a user unprompted (Telegram sends a
// message to the chat; the widget sends when the visitor is connected).
class proactive_sink {
  public:
    virtual ~proactive_sink() = default;
    // True when the message was handed to the platform.
    virtual boost::asio::awaitable<bool> deliver(conversation_ref ref, outbound_message msg) = 0;
    // The conversation of this channel's chat ref was deleted from another chat linked to it
    // ("forget me" there): drop what the channel itself keeps about the chat (a widget
    // session and its history, a Telegram chat's update ids). Must not block.
    virtual void forgotten(const conversation_ref& ref) { (void)ref; }
};

// Moves a due time out of quiet hours: [start_hour, end_hour) local time, where local =
// UTC + utc_offset_minutes. start == end means no quiet hours.
std::int64_t outside_quiet_hours(std::int64_t due, int start_hour, int end_hour,
                                 int utc_offset_minutes);

} // namespace tandem::bot
