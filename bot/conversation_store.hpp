// Where conversation state lives between turns. Implementations are thread-safe.
// Keys are "channel:conversation_id"; values are the JSON of conversation_state.
//
// Versions: every stored value carries a version, bumped by each save. A turn loads the
// value with its version and saves with save_if(expected version): when another writer (a
// second instance of tandem sharing the store) saved the conversation in between, save_if
// writes nothing and reports the conflict, and the turn is run again on the fresh state. So
// the turns of one conversation apply one after the other, each exactly once, across
// processes (tests/bot/store_conformance_test.cpp proves it for every store).
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

    struct versioned {
        std::string json;
        std::uint64_t version = 0; // >= 1 for a stored value
    };
    // The value with its version; nothing when there is none.
    virtual std::optional<versioned> load_versioned(const std::string& key);
    // Compare-and-set: saves only when the stored version is still `expected` (0: nothing is
    // stored). Returns the new version, or nothing when another writer saved (or erased) the
    // conversation meanwhile: then nothing was written. Durable when it returns.
    // The defaults (load, then save) suit a store that one process uses alone, where the
    // caller serialises turns of a conversation; every shipped store overrides them.
    virtual std::optional<std::uint64_t> save_if(const std::string& key,
                                                 const std::string& state_json,
                                                 std::int64_t last_active, std::uint64_t expected);
    // Can the store be reached right now? (/readyz). Never throws.
    virtual bool healthy() { return true; }

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

// Where a Redis server is and how to talk to it (store.kind "redis").
struct redis_options {
    std::string host = "127.0.0.1";
    int port = 6379;
    std::string unix_socket; // when set, used instead of host and port
    int database = 0;        // SELECT
    std::string password;    // AUTH when not empty (read from the environment by the caller)
    std::string key_prefix = "tandem:";
    int connect_timeout_ms = 1000;
    int command_timeout_ms = 2000;
    int pool_size = 8; // connections kept open at most
};

// Conversations in Redis: one hash per conversation (state and version) under
// key_prefix + "c:" + key, and a sorted set key_prefix + "idle" of last activity. Saves and
// erases are Lua scripts, so each is atomic. Does not connect until first used; every call
// that cannot reach Redis throws store_error (a broken connection is dropped and the next
// call reconnects). How durable a save is depends on the server's persistence settings
// (appendonly yes and appendfsync everysec or always: docs/deployment.md).
std::shared_ptr<conversation_store> make_redis_store(const redis_options& options);

} // namespace tandem::bot
