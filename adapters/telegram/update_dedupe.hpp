// Remembers which Telegram update_ids were already accepted, so that an update Telegram
// delivers again (it retries whenever it did not see a 2xx in time) never gets a second
// reply, also across a restart of `tandem serve`.
#pragma once

#include "bot/conversation_store.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace tandem::adapters::telegram {

// Thread-safe. Each record knows the conversation its update belongs to, so that forgetting
// a conversation ("forget me") removes its records too: nothing says it ever wrote.
class update_dedupe {
  public:
    virtual ~update_dedupe() = default;
    // Records update_id, of conversation (the chat id as text; empty for updates of no
    // chat), as seen at `now` (unix seconds). True the first time, false for a repeat.
    // Throws bot::store_error when a persistent store cannot be read or written.
    virtual bool first_time(std::int64_t update_id, const std::string& conversation,
                            std::int64_t now) = 0;
    bool first_time(std::int64_t update_id, std::int64_t now) {
        return first_time(update_id, std::string(), now);
    }
    // Deletes the records of a conversation; returns how many went.
    // Throws bot::store_error when a persistent store cannot be written.
    virtual std::size_t forget(const std::string& conversation) = 0;
    // Ids currently remembered.
    virtual std::size_t size() = 0;

    // Acknowledging after the turn (several instances behind a load balancer): an update is
    // claimed for a while (lease_seconds), then confirmed once its turn is committed and
    // its reply sent, or released when that failed (so Telegram's redelivery is answered).
    // A claim that is neither confirmed nor released (the instance died) lapses after the
    // lease, and the redelivery is answered by another instance.
    enum class claim_result { first, repeat, busy };
    // first: claimed now; repeat: already answered; busy: claimed by someone else.
    virtual claim_result claim(std::int64_t update_id, const std::string& conversation,
                               std::int64_t now, std::int64_t lease_seconds);
    virtual void confirm(std::int64_t update_id, const std::string& conversation, std::int64_t now);
    // Removes the record of update_id (claimed or not).
    virtual void release(std::int64_t update_id, const std::string& conversation) = 0;
};

// The last `window` ids, in memory (tests, and store.kind "memory").
std::shared_ptr<update_dedupe> make_memory_dedupe(std::size_t window);

// A "telegram_updates" table in the SQLite file at path (the conversation store's file, so
// state and dedupe live and die together). Ids older than retention_seconds are pruned;
// Telegram keeps an undelivered update for at most 24 hours, so two days is ample.
// Throws bot::store_error when the file cannot be opened.
std::shared_ptr<update_dedupe> make_sqlite_dedupe(const std::string& path,
                                                  std::int64_t retention_seconds = 2 * 86400);

// In Redis, shared by every instance of tandem (store.kind "redis"): one key per update,
// key_prefix + "tg:u:" + update_id, set with SET NX EX retention_seconds (Redis expires it),
// and per conversation a set key_prefix + "tg:chat:" + conversation of its update ids, so
// forget() finds them. Does not connect until first used.
std::shared_ptr<update_dedupe> make_redis_dedupe(const bot::redis_options& options,
                                                 std::int64_t retention_seconds = 2 * 86400);

} // namespace tandem::adapters::telegram
