// The Telegram update log: remembers which update_ids were accepted, so that an update
// Telegram delivers again (it retries whenever it did not see a 2xx in time) never gets a
// second reply, also across a restart of `tandem serve`; and, with SQLite, a durable inbox:
// an update is recorded with its payload before the webhook acknowledges it and marked
// answered once its reply was sent, so updates acknowledged but not yet answered when the
// process died are answered after a restart (see docs/hardening.md, "Faults and load").
#pragma once

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
// read or written (disk full, file gone); nothing is half-recorded then.
class update_dedupe {
  public:
    virtual ~update_dedupe() = default;
    // Records update_id (with its raw payload, kept until it is answered) at `now` (unix
    // seconds) unless it was seen before; durable when it returns. Says which it was.
    virtual update_status accept(std::int64_t update_id, std::string_view payload,
                                 std::int64_t now) = 0;
    // The update was answered: its payload is dropped; the id is remembered.
    virtual void answered(std::int64_t update_id) = 0;
    // Updates accepted but not answered, oldest first (for the start-up replay).
    virtual std::vector<pending_update> unanswered() = 0;
    // Ids currently remembered.
    virtual std::size_t size() = 0;
    // Makes (and takes back) a write the size of an update: throws bot::store_error when an
    // update could not be recorded now (readiness while the store was failing).
    virtual void probe(std::int64_t now) { (void)now; }

    // Records update_id as seen and answered: true the first time, false for a repeat.
    bool first_time(std::int64_t update_id, std::int64_t now) {
        if (accept(update_id, {}, now) != update_status::fresh)
            return false;
        answered(update_id);
        return true;
    }
};

// The last `window` ids, in memory (tests, and store.kind "memory"; nothing survives a
// restart, so unanswered() is only what this process has not answered yet).
std::shared_ptr<update_dedupe> make_memory_dedupe(std::size_t window);

// A "telegram_updates" table in the SQLite file at path (the conversation store's file, so
// state and the log live and die together). Ids older than retention_seconds are pruned;
// Telegram keeps an undelivered update for at most 24 hours, so two days is ample.
// max_bytes > 0 caps the file (SQLite's max_page_count; beyond it writes fail as on a full
// disk). Throws bot::store_error when the file cannot be opened.
std::shared_ptr<update_dedupe> make_sqlite_dedupe(const std::string& path,
                                                  std::int64_t retention_seconds = 2 * 86400,
                                                  std::int64_t max_bytes = 0);

} // namespace tandem::adapters::telegram
