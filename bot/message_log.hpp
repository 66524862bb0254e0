// A log of platform messages by id, kept by a channel adapter: an inbox of messages received
// but not answered yet (with what is needed to answer them after a restart), and, once
// answered, the ids alone (so a message delivered again gets no second answer). Each record
// knows its conversation, so that forgetting a conversation ("forget me") removes its records.
//
// Platform-free: each adapter chooses a table and what a payload holds (updates as
// received; what is needed to finish a deferred answer). The SQLite log commits the async
// calls on a writer thread of its own, in batches (group commit).
#pragma once

#include "bot/conversation_store.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace tandem::bot {

enum class message_status {
    fresh,    // first time seen: recorded now, not yet answered
    pending,  // seen before and not yet answered (queued, running, or left by a crash)
    answered, // seen before and answered (or deliberately not answered)
};

struct logged_message {
    std::int64_t id = 0;
    std::string payload;      // as recorded (the platform's message, or what replays it)
    std::string conversation; // as recorded
    std::int64_t seen_at = 0; // when it was recorded (unix seconds)
};

// Thread-safe. Every method throws store_error when a persistent store cannot be
// read or written (disk full, file gone, Redis unreachable); nothing is half-recorded then.
class message_log {
  public:
    virtual ~message_log() = default;

    // --- The inbox (one instance) ---
    // Records update_id (a message id) of conversation (empty for messages of no conversation),
    // with its raw payload (kept until it is answered), at `now` (unix seconds) unless it
    // was seen before; durable when it returns. Says which it was.
    virtual message_status accept(std::int64_t update_id, const std::string& conversation,
                                  std::string_view payload, std::int64_t now) = 0;
    message_status accept(std::int64_t update_id, std::string_view payload, std::int64_t now) {
        return accept(update_id, std::string(), payload, now);
    }
    // The message was answered: its payload is dropped; the id is remembered.
    virtual void answered(std::int64_t update_id) = 0;
    // The same two for the webhook's coroutines: they never block the calling thread. The
    // SQLite log commits them on a writer thread of its own, every call queued meanwhile in
    // one transaction (group commit); a call resumes, on its own executor, once its batch is
    // committed, and a failed batch throws store_error in every call of it. payload
    // and conversation must stay valid until the call resumes. The others call the
    // synchronous ones.
    virtual boost::asio::awaitable<message_status> async_accept(std::int64_t update_id,
                                                                const std::string& conversation,
                                                                std::string_view payload,
                                                                std::int64_t now);
    virtual boost::asio::awaitable<void> async_answered(std::int64_t update_id);
    // Returns once every call queued so far is committed and its caller told (posted to its
    // executor): at shutdown, before the executors those calls resume on go away.
    virtual void settle() {}
    // Messages accepted but not answered, in id order (for the start-up replay).
    virtual std::vector<logged_message> unanswered() = 0;
    // Makes (and takes back) a write the size of an update: throws store_error when an
    // update could not be recorded now (readiness while the store was failing).
    virtual void probe(std::int64_t now) { (void)now; }

    // Records update_id as seen and answered: true the first time, false for a repeat.
    virtual bool first_time(std::int64_t update_id, const std::string& conversation,
                            std::int64_t now) {
        if (accept(update_id, conversation, {}, now) != message_status::fresh)
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
    // committed and its reply sent, or released when that failed (so the platform's redelivery
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
std::shared_ptr<message_log> make_memory_message_log(std::size_t window);

struct sqlite_log_options {
    std::string path;  // the file, created owner-only (0600; its folder 0700) when missing
    std::string table; // letters, digits and '_' only
    std::string what;  // names the log in errors ("the update log")
    // Records older than this (answered or not) are pruned when a record is added, once
    // every prune_every records (1: every time).
    std::int64_t retention_seconds = 2 * 86400;
    int prune_every = 256;
    // > 0 caps the file (SQLite's max_page_count; beyond it writes fail as on a full disk).
    std::int64_t max_bytes = 0;
    // A file that may still hold this table from an older version (the conversation
    // store's file); its rows move here and its table is dropped, at open.
    std::string migrate_from;
};

// A table in a SQLite file of its own (so that its commits never wait for the conversation
// store's). Throws store_error when the file cannot be opened or the move fails.
std::shared_ptr<message_log> make_sqlite_message_log(const sqlite_log_options& options);

} // namespace tandem::bot
