// The asynchronous seam between adapters and the core.
#pragma once

#include "bot/message.hpp"

#include <boost/asio/awaitable.hpp>

namespace tandem::bot {

// Runs turns. Turns of one conversation (channel + conversation_id) run strictly in the
// order handle() was called; turns of different conversations run in parallel on the
// service's thread pool. handle() never throws for a failed turn: the result then has
// error = true and a kind apology as its reply. It resumes the caller on the caller's
// executor.
class turn_service {
  public:
    virtual ~turn_service() = default;
    virtual boost::asio::awaitable<turn_result> handle(inbound_message msg) = 0;
    // Deletes everything stored for the conversation (the "forget me" path for
    // channel commands such as Telegram's /forget). Returns true when anything existed.
    virtual boost::asio::awaitable<bool> forget(conversation_ref ref) = 0;
};

} // namespace tandem::bot
