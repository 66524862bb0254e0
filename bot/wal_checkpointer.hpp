#pragma once
// Checkpoints of an SQLite WAL file (copying its pages into the database file, with an
// fsync of each) on a thread and connection of their own. Run inside a commit, as SQLite
// does by default, a checkpoint holds that commit, and every save queued behind it, for its
// fsyncs (tens of ms measured under load, docs/performance.md "The webhook, fourth look").
// Used by the conversation store and the Telegram update log.
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

struct sqlite3;

namespace tandem::bot {

class wal_checkpointer {
  public:
    // SQLite's default: a checkpoint is asked for once the WAL holds this many pages.
    static constexpr int checkpoint_pages = 1000;
    // A WAL this long (the thread not keeping up) is checkpointed by the committing thread
    // itself, as SQLite would, so it cannot grow without bound.
    static constexpr int inline_pages = 20 * checkpoint_pages;

    wal_checkpointer() = default;
    wal_checkpointer(const wal_checkpointer&) = delete;
    wal_checkpointer& operator=(const wal_checkpointer&) = delete;
    ~wal_checkpointer() { stop(); }

    // Opens a connection of its own to `path` (a WAL file already), turns off the automatic
    // checkpoints of `writer` and hooks its commits, which then ask this thread for a
    // PASSIVE checkpoint: it copies what it can without waiting for or blocking the writer;
    // one that could not finish is asked for again after a later commit. Commits stay as
    // durable as they were. Throws store_error when the connection cannot be opened.
    // `writer` must be closed, or its hook removed, before this object is destroyed.
    void start(sqlite3* writer, const std::string& path);

    // Stops the thread and closes its connection; safe to call twice.
    void stop();

  private:
    static int on_commit(void* self, sqlite3* db, const char* name, int pages);
    void run();

    sqlite3* db_ = nullptr; // used on the thread only
    std::mutex mu_;
    std::condition_variable cv_;
    bool wanted_ = false;
    bool stop_ = false;
    std::thread thread_;
};

} // namespace tandem::bot
