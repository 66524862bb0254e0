#include "bot/conversation_store.hpp"
#include "bot/private_file.hpp"
#include "bot/wal_checkpointer.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

namespace tandem::bot {
namespace {

struct db_closer {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using db_handle = std::unique_ptr<sqlite3, db_closer>;

class statement {
  public:
    statement(sqlite3* db, const char* sql) {
        if (sqlite3_prepare_v2(db, sql, -1, &st_, nullptr) != SQLITE_OK)
            throw store_error(std::string("sqlite prepare failed: ") + sqlite3_errmsg(db));
    }
    ~statement() { sqlite3_finalize(st_); }
    statement(const statement&) = delete;
    statement& operator=(const statement&) = delete;
    sqlite3_stmt* get() { return st_; }

  private:
    sqlite3_stmt* st_ = nullptr;
};

// Resets a statement (and drops its bindings) when a call ends, however it ends.
struct reset_guard {
    sqlite3_stmt* st;
    ~reset_guard() {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
};

void exec(sqlite3* db, const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
        std::string msg = err ? err : "unknown error";
        sqlite3_free(err);
        throw store_error(std::string("sqlite: ") + msg);
    }
}

db_handle open_db(const std::string& path) {
    sqlite3* raw = nullptr;
    int rc =
        sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
    db_handle db(raw); // closed on every path, also when opening failed
    if (rc != SQLITE_OK)
        throw store_error("cannot open " + path + ": " +
                          (raw ? sqlite3_errmsg(raw) : "out of memory"));
    sqlite3_busy_timeout(raw, 5000);
    return db;
}

// Two connections to one WAL file: the writer commits, the reader serves load() and size()
// without waiting behind a commit's fsync.
//
// Group commit: save() is durable when it returns, as before, but saves that arrive while a
// commit is in progress are committed together in the next transaction (one WAL append and,
// with synchronous=FULL, one fsync for all of them). The first waiting caller leads: it
// commits everything queued while the others wait for their batch's outcome. A failed
// transaction is rolled back and every save in it throws store_error, so a failed turn
// leaves nothing half-applied.
class sqlite_store final : public conversation_store {
  public:
    sqlite_store(const std::string& path, bool full, std::int64_t max_bytes) {
        create_private_file(path, "the conversation store");
        // Members are destroyed in reverse order, statements before their connections, also
        // when this constructor throws half way.
        writer_ = open_db(path);
        exec(writer_.get(), "PRAGMA journal_mode=WAL");
        // Deleted rows ("forget me", expiry) are overwritten with zeros, not left readable
        // in free pages of the file.
        exec(writer_.get(), "PRAGMA secure_delete=ON");
        exec(writer_.get(), full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
        if (max_bytes > 0)
            exec(writer_.get(), ("PRAGMA max_page_count=" +
                                 std::to_string(std::max<std::int64_t>(1, max_bytes / 4096)))
                                    .c_str());
        exec(writer_.get(), "CREATE TABLE IF NOT EXISTS conversations ("
                            " key TEXT PRIMARY KEY, state TEXT NOT NULL,"
                            " last_active INTEGER NOT NULL, version INTEGER NOT NULL DEFAULT 1)");
        // Files from before versions: add the column (every stored row starts at version 1).
        {
            sqlite3_stmt* probe = nullptr;
            int rc = sqlite3_prepare_v2(writer_.get(), "SELECT version FROM conversations LIMIT 0",
                                        -1, &probe, nullptr);
            sqlite3_finalize(probe);
            if (rc != SQLITE_OK)
                exec(writer_.get(),
                     "ALTER TABLE conversations ADD COLUMN version INTEGER NOT NULL DEFAULT 1");
        }
        exec(writer_.get(), "CREATE INDEX IF NOT EXISTS conversations_last_active ON "
                            "conversations(last_active)");
        reader_ = open_db(path);
        checkpointer_.start(writer_.get(), path);
        save_ = std::make_unique<statement>(
            writer_.get(), "INSERT INTO conversations(key, state, last_active, version) "
                           "VALUES(?1, ?2, ?3, 1) ON CONFLICT(key) DO UPDATE SET "
                           "state=excluded.state, last_active=excluded.last_active, "
                           "version=version+1");
        insert_new_ = std::make_unique<statement>(
            writer_.get(), "INSERT INTO conversations(key, state, last_active, version) "
                           "VALUES(?1, ?2, ?3, 1) ON CONFLICT(key) DO NOTHING");
        update_if_ = std::make_unique<statement>(
            writer_.get(), "UPDATE conversations SET state=?2, last_active=?3, version=version+1 "
                           "WHERE key=?1 AND version=?4");
        begin_ = std::make_unique<statement>(writer_.get(), "BEGIN IMMEDIATE");
        commit_ = std::make_unique<statement>(writer_.get(), "COMMIT");
        erase_ =
            std::make_unique<statement>(writer_.get(), "DELETE FROM conversations WHERE key=?1");
        sweep_ = std::make_unique<statement>(writer_.get(),
                                             "DELETE FROM conversations WHERE last_active<?1");
        load_ = std::make_unique<statement>(
            reader_.get(), "SELECT state, version FROM conversations WHERE key=?1");
        count_ = std::make_unique<statement>(reader_.get(), "SELECT COUNT(*) FROM conversations");
    }

    std::optional<std::string> load(const std::string& key) override {
        auto v = load_versioned(key);
        if (!v)
            return std::nullopt;
        return std::move(v->json);
    }

    std::optional<versioned> load_versioned(const std::string& key) override {
        std::lock_guard lock(read_mu_);
        auto* st = load_->get();
        reset_guard g{st};
        sqlite3_bind_text(st, 1, key.data(), static_cast<int>(key.size()), SQLITE_STATIC);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
            return std::nullopt;
        if (rc != SQLITE_ROW)
            fail(reader_.get(), "read");
        const auto* txt = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
        versioned out;
        out.json.assign(txt ? txt : "", static_cast<std::size_t>(sqlite3_column_bytes(st, 0)));
        out.version = static_cast<std::uint64_t>(sqlite3_column_int64(st, 1));
        return out;
    }

    void save(const std::string& key, const std::string& json, std::int64_t last) override {
        waiter me{&key, &json, last, -1, std::nullopt, false, nullptr};
        enqueue(me);
    }

    std::optional<std::uint64_t> save_if(const std::string& key, const std::string& json,
                                         std::int64_t last, std::uint64_t expected) override {
        waiter me{&key,         &json, last,   static_cast<std::int64_t>(expected),
                  std::nullopt, false, nullptr};
        enqueue(me);
        return me.result;
    }

  private:
    struct waiter {
        const std::string* key;
        const std::string* json;
        std::int64_t last;
        std::int64_t expected;               // -1: unconditional
        std::optional<std::uint64_t> result; // the new version; nothing on a conflict
        bool done = false;
        std::exception_ptr error;
    };

    void enqueue(waiter& me) {
        std::unique_lock lk(queue_mu_);
        queue_.push_back(&me);
        while (!me.done) {
            if (leading_) {
                queue_cv_.wait(lk);
                continue;
            }
            // Lead: commit everything queued so far (this save included) in one transaction.
            leading_ = true;
            std::vector<waiter*> batch;
            batch.swap(queue_);
            lk.unlock();
            std::exception_ptr error;
            try {
                commit_batch(batch);
            } catch (...) {
                error = std::current_exception();
            }
            lk.lock();
            for (auto* w : batch) {
                w->error = error;
                w->done = true;
            }
            leading_ = false;
            queue_cv_.notify_all();
        }
        if (me.error)
            std::rethrow_exception(me.error);
    }

  public:
    bool erase(const std::string& key) override {
        std::lock_guard lock(write_mu_);
        auto* st = erase_->get();
        reset_guard g{st};
        sqlite3_bind_text(st, 1, key.data(), static_cast<int>(key.size()), SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            fail(writer_.get(), "delete");
        bool erased = sqlite3_changes(writer_.get()) > 0;
        if (erased)
            scrub_wal();
        return erased;
    }

    std::size_t erase_idle_before(std::int64_t cutoff) override {
        std::lock_guard lock(write_mu_);
        auto* st = sweep_->get();
        reset_guard g{st};
        sqlite3_bind_int64(st, 1, cutoff);
        if (sqlite3_step(st) != SQLITE_DONE)
            fail(writer_.get(), "delete");
        auto n = static_cast<std::size_t>(sqlite3_changes(writer_.get()));
        if (n)
            scrub_wal();
        return n;
    }

    std::size_t size() override {
        std::lock_guard lock(read_mu_);
        auto* st = count_->get();
        reset_guard g{st};
        if (sqlite3_step(st) != SQLITE_ROW)
            fail(reader_.get(), "read");
        return static_cast<std::size_t>(sqlite3_column_int64(st, 0));
    }

    write_stats stats() const override { return {writes_.load(), commits_.load()}; }

  private:
    void commit_batch(const std::vector<waiter*>& batch) {
        std::lock_guard lock(write_mu_);
        sqlite3* db = writer_.get();
        {
            reset_guard g{begin_->get()};
            if (sqlite3_step(begin_->get()) != SQLITE_DONE)
                fail(db, "write");
        }
        try {
            for (auto* w : batch) {
                auto* st = w->expected < 0    ? save_->get()
                           : w->expected == 0 ? insert_new_->get()
                                              : update_if_->get();
                reset_guard g{st};
                sqlite3_bind_text(st, 1, w->key->data(), static_cast<int>(w->key->size()),
                                  SQLITE_STATIC);
                sqlite3_bind_text(st, 2, w->json->data(), static_cast<int>(w->json->size()),
                                  SQLITE_STATIC);
                sqlite3_bind_int64(st, 3, w->last);
                if (w->expected > 0)
                    sqlite3_bind_int64(st, 4, w->expected);
                if (sqlite3_step(st) != SQLITE_DONE)
                    fail(db, "write");
                w->result.reset();
                if (sqlite3_changes(db) == 1)
                    w->result = static_cast<std::uint64_t>(w->expected + 1);
            }
            reset_guard g{commit_->get()};
            if (sqlite3_step(commit_->get()) != SQLITE_DONE)
                fail(db, "write");
        } catch (...) {
            if (!sqlite3_get_autocommit(db))
                sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
            throw;
        }
        writes_ += batch.size();
        ++commits_;
    }

    // After a delete: copy the zeroed pages into the database file and empty the WAL, whose
    // older frames still hold the deleted rows. Best effort (a reader in the middle of a
    // read makes it partial; the next delete or SQLite's own checkpoint finishes the job).
    // Callers hold write_mu_.
    void scrub_wal() {
        sqlite3_wal_checkpoint_v2(writer_.get(), nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr,
                                  nullptr);
    }

    [[noreturn]] static void fail(sqlite3* db, const char* what) {
        throw store_error(std::string("conversation store ") + what +
                          " failed: " + sqlite3_errmsg(db));
    }

    // Declared first, destroyed last: its thread stops after the writer connection closed.
    wal_checkpointer checkpointer_;
    // Declared before the statements, destroyed after: the statements below go before their
    // connections.
    db_handle writer_, reader_;
    std::unique_ptr<statement> save_, insert_new_, update_if_, begin_, commit_, erase_, sweep_,
        load_, count_;
    std::mutex write_mu_; // the writer connection
    std::mutex read_mu_;  // the reader connection
    std::mutex queue_mu_; // the group-commit queue
    std::condition_variable queue_cv_;
    std::vector<waiter*> queue_;
    bool leading_ = false;
    std::atomic<std::uint64_t> writes_{0}, commits_{0};
};

} // namespace

std::shared_ptr<conversation_store> make_sqlite_store(const std::string& path, bool full,
                                                      std::int64_t max_bytes) {
    return std::make_shared<sqlite_store>(path, full, max_bytes);
}

} // namespace tandem::bot
