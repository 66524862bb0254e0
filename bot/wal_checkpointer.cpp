#include "bot/wal_checkpointer.hpp"

#include "bot/conversation_store.hpp"

#include <sqlite3.h>

namespace tandem::bot {

void wal_checkpointer::start(sqlite3* writer, const std::string& path) {
    sqlite3* raw = nullptr;
    int rc =
        sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
        std::string msg = raw ? sqlite3_errmsg(raw) : "out of memory";
        sqlite3_close(raw);
        throw store_error("cannot open " + path + " for checkpoints: " + msg);
    }
    db_ = raw;
    char* err = nullptr;
    if (sqlite3_exec(writer, "PRAGMA wal_autocheckpoint=0", nullptr, nullptr, &err) != SQLITE_OK) {
        std::string msg = err ? err : "unknown error";
        sqlite3_free(err);
        sqlite3_close(db_);
        db_ = nullptr;
        throw store_error("sqlite: " + msg);
    }
    sqlite3_wal_hook(writer, &wal_checkpointer::on_commit, this);
    thread_ = std::thread([this] { run(); });
}

void wal_checkpointer::stop() {
    {
        std::lock_guard lock(mu_);
        stop_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable())
        thread_.join();
    sqlite3_close(db_); // null is a no-op
    db_ = nullptr;
}

int wal_checkpointer::on_commit(void* self, sqlite3* db, const char*, int pages) {
    auto* me = static_cast<wal_checkpointer*>(self);
    if (pages >= inline_pages) {
        sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    } else if (pages >= checkpoint_pages) {
        {
            std::lock_guard lock(me->mu_);
            me->wanted_ = true;
        }
        me->cv_.notify_one();
    }
    return SQLITE_OK;
}

void wal_checkpointer::run() {
    std::unique_lock lock(mu_);
    for (;;) {
        cv_.wait(lock, [this] { return stop_ || wanted_; });
        if (stop_)
            return;
        wanted_ = false;
        lock.unlock();
        sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
        lock.lock();
    }
}

} // namespace tandem::bot
