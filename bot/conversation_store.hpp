// Where conversation state lives between turns. Implementations are thread-safe.
// Keys are "channel:conversation_id"; values are the JSON of conversation_state.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

namespace tandem::bot {

// Thrown when the store cannot read or write (disk full, unwritable folder, corrupt file).
class store_error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

class conversation_store {
  public:
    virtual ~conversation_store() = default;
    virtual std::optional<std::string> load(const std::string& key) = 0;
    // Durable when it returns (committed; survives the process being killed).
    virtual void save(const std::string& key, const std::string& state_json,
                      std::int64_t last_active) = 0;
    // Returns true when something was deleted.
    virtual bool erase(const std::string& key) = 0;
    // Deletes conversations whose last activity is before cutoff; returns how many.
    virtual std::size_t erase_idle_before(std::int64_t cutoff) = 0;
    virtual std::size_t size() = 0;

    // How many saves were made and in how many commits (a store that commits several
    // conversations' saves together has fewer commits than writes). Zero when not counted.
    struct write_stats {
        std::uint64_t writes = 0;
        std::uint64_t commits = 0;
    };
    virtual write_stats stats() const { return {}; }
};

// In-memory store (tests, and `--store memory`).
std::shared_ptr<conversation_store> make_memory_store();

// SQLite store in one file (WAL mode); the file is created owner-only (0600) and its
// folder 0700. Throws store_error when the file cannot be opened or created.
// Saves made at the same time from several threads are group-committed: one transaction
// (and one fsync) for all of them; each save() still returns only once it is committed.
// synchronous_full: fsync every commit (survives power loss) instead of WAL's NORMAL
// (survives the process being killed).
// max_bytes > 0 caps the file (SQLite's max_page_count): beyond it saves fail with
// store_error as on a full disk.
std::shared_ptr<conversation_store> make_sqlite_store(const std::string& path,
                                                      bool synchronous_full = false,
                                                      std::int64_t max_bytes = 0);

} // namespace tandem::bot
