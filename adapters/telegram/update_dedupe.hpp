// Remembers which Telegram update_ids were already accepted, so that an update Telegram
// delivers again (it retries whenever it did not see a 2xx in time) never gets a second
// reply, also across a restart of `tandem serve`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace tandem::adapters::telegram {

// Thread-safe.
class update_dedupe {
  public:
    virtual ~update_dedupe() = default;
    // Records update_id as seen at `now` (unix seconds). True the first time, false for a
    // repeat. Throws bot::store_error when a persistent store cannot be written.
    virtual bool first_time(std::int64_t update_id, std::int64_t now) = 0;
    // Ids currently remembered.
    virtual std::size_t size() = 0;
};

// The last `window` ids, in memory (tests, and store.kind "memory").
std::shared_ptr<update_dedupe> make_memory_dedupe(std::size_t window);

// A "telegram_updates" table in the SQLite file at path (the conversation store's file, so
// state and dedupe live and die together). Ids older than retention_seconds are pruned;
// Telegram keeps an undelivered update for at most 24 hours, so two days is ample.
// Throws bot::store_error when the file cannot be opened.
std::shared_ptr<update_dedupe> make_sqlite_dedupe(const std::string& path,
                                                  std::int64_t retention_seconds = 2 * 86400);

} // namespace tandem::adapters::telegram
