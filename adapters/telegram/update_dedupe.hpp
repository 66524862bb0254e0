// The Telegram update log: remembers which update_ids were accepted, so that an update
// Telegram delivers again (it retries whenever it did not see a 2xx in time) never gets a
// second reply, also across a restart of `tandem serve`. Each record knows the conversation
// its update belongs to, so that forgetting a conversation ("forget me") removes its
// records too.
//
// Two ways to use it, chosen by the store (docs/hardening.md, docs/deployment.md):
// - One instance (store.kind "sqlite" or "memory"): a durable inbox. An update is recorded
//   with its payload before the webhook acknowledges it and marked answered once its reply
//   was sent, so updates acknowledged but not yet answered when the process died are
//   answered after a restart (accept, answered, unanswered).
// - Several instances on one Redis (store.kind "redis"): acknowledged after the turn. An
//   update is claimed for a lease, confirmed once its turn is committed and its reply sent,
//   released when that failed (claim, confirm, release); Telegram redelivers what got no
//   200, to any instance, so no instance holds anything another one cannot finish.
#pragma once

#include "bot/conversation_store.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace tandem::adapters::telegram {

enum class update_status {
    fresh,    // first time seen: recorded now, not yet answered
    pending,  // seen before and not yet answered (queued, running, or left by a crash)
    answered, // seen before and answered (or deliberately not answered)
};

struct pending_update {
    std::int64_t update_id = 0;
    std::string payload; // the update's JSON as received
};

// Thread-safe. Every method throws bot::store_error when a persistent store cannot be
// read or written (disk full, file gone, Redis unreachable); nothing is half-recorded then.
class update_dedupe {
  public:
    virtual ~update_dedupe() = default;

    // --- The inbox (one instance) ---
    // Records update_id of conversation (the chat id as text; empty for updates of no chat),
    // with its raw payload (kept until it is answered), at `now` (unix seconds) unless it
    // was seen before; durable when it returns. Says which it was.
    virtual update_status accept(std::int64_t update_id, const std::string& conversation,
                                 std::string_view payload, std::int64_t now) = 0;
    update_status accept(std::int64_t update_id, std::string_view payload, std::int64_t now) {
        return accept(update_id, std::string(), payload, now);
    }
    // The update was answered: its payload is dropped; the id is remembered.
    virtual void answered(std::int64_t update_id) = 0;
    // The same two for the webhook's coroutines: they never block the calling thread. The
    // SQLite log commits them on a writer thread of its own, every call queued meanwhile in
    // one transaction (group commit); a call resumes, on its own executor, once its batch is
    // committed, and a failed batch throws bot::store_error in every call of it. payload
    // and conversation must stay valid until the call resumes. The others call the
    // synchronous ones.
    virtual boost::asio::awaitable<update_status> async_accept(std::int64_t update_id,
                                                               const std::string& conversation,
                                                               std::string_view payload,
                                                               std::int64_t now);
    virtual boost::asio::awaitable<void> async_answered(std::int64_t update_id);
    // Returns once every call queued so far is committed and its caller told (posted to its
    // executor): at shutdown, before the executors those calls resume on go away.
    virtual void settle() {}
    // Updates accepted but not answered, oldest first (for the start-up replay).
    virtual std::vector<pending_update> unanswered() = 0;
    // Makes (and takes back) a write the size of an update: throws bot::store_error when an
    // update could not be recorded now (readiness while the store was failing).
    virtual void probe(std::int64_t now) { (void)now; }

    // Records update_id as seen and answered: true the first time, false for a repeat.
    virtual bool first_time(std::int64_t update_id, const std::string& conversation,
                            std::int64_t now) {
        if (accept(update_id, conversation, {}, now) != update_status::fresh)
            return false;
        answered(update_id);
        return true;
    }
    bool first_time(std::int64_t update_id, std::int64_t now) {
        return first_time(update_id, std::string(), now);
    }

    // Deletes the answered records of a conversation (an update still waiting for its answer
    // keeps its record until answered; Redis holds no such thing and deletes them all);
    // returns how many went.
    virtual std::size_t forget(const std::string& conversation) = 0;
    // Ids currently remembered.
    virtual std::size_t size() = 0;

    // --- Acknowledging after the turn (several instances behind a load balancer) ---
    // An update is claimed for a while (lease_seconds), then confirmed once its turn is
    // committed and its reply sent, or released when that failed (so Telegram's redelivery
    // is answered). A claim that is neither confirmed nor released (the instance died)
    // lapses after the lease, and the redelivery is answered by another instance.
    enum class claim_result { first, repeat, busy };
    // first: claimed now; repeat: already answered; busy: claimed by someone else.
    virtual claim_result claim(std::int64_t update_id, const std::string& conversation,
                               std::int64_t now, std::int64_t lease_seconds);
    virtual void confirm(std::int64_t update_id, const std::string& conversation, std::int64_t now);
    // Removes the record of update_id (claimed or not).
    virtual void release(std::int64_t update_id, const std::string& conversation) = 0;
};

// The last `window` ids, in memory (tests, and store.kind "memory"; nothing survives a
// restart, so unanswered() is only what this process has not answered yet).
std::shared_ptr<update_dedupe> make_memory_dedupe(std::size_t window);

// A "telegram_updates" table in the SQLite file at path, a file of its own (`tandem serve`:
// telegram.update_log in the data folder), created owner-only (0600) like the store's, so
// that its commits never wait for the conversation store's. Ids older than
// retention_seconds are pruned; Telegram keeps an undelivered update for at most 24 hours,
// so two days is ample. max_bytes > 0 caps the file (SQLite's max_page_count; beyond it
// writes fail as on a full disk).
// migrate_from: a file that may still hold the log of an older version (the conversation
// store's file, where the log used to live); its rows, answered or not, move into this
// file and its table is dropped, at open (see update_dedupe.cpp for why a crash half way
// loses or doubles nothing). Throws bot::store_error when a file cannot be opened or the
// move fails.
std::shared_ptr<update_dedupe> make_sqlite_dedupe(const std::string& path,
                                                  std::int64_t retention_seconds = 2 * 86400,
                                                  std::int64_t max_bytes = 0,
                                                  const std::string& migrate_from = {});

// In Redis, shared by every instance of tandem (store.kind "redis"): one key per update,
// key_prefix + "tg:u:" + update_id, set with SET NX EX retention_seconds (Redis expires it),
// and per conversation a set key_prefix + "tg:chat:" + conversation of its update ids, so
// forget() finds them. Payloads are never kept (no inbox: with several instances the
// acknowledgement waits for the turn instead), so unanswered() is always empty. Does not
// connect until first used.
std::shared_ptr<update_dedupe> make_redis_dedupe(const bot::redis_options& options,
                                                 std::int64_t retention_seconds = 2 * 86400);

} // namespace tandem::adapters::telegram
