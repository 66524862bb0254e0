#include "adapters/telegram/update_dedupe.hpp"

#include "bot/conversation_store.hpp"

#include <sqlite3.h>

#include <deque>
#include <mutex>
#include <unordered_set>

namespace tandem::adapters::telegram {

namespace {

class memory_dedupe final : public update_dedupe {
  public:
    explicit memory_dedupe(std::size_t window) : window_(window == 0 ? 1 : window) {}

    bool first_time(std::int64_t update_id, std::int64_t) override {
        std::lock_guard lock(mu_);
        if (!seen_.insert(update_id).second)
            return false;
        order_.push_back(update_id);
        while (order_.size() > window_) {
            seen_.erase(order_.front());
            order_.pop_front();
        }
        return true;
    }
    std::size_t size() override {
        std::lock_guard lock(mu_);
        return seen_.size();
    }

  private:
    std::size_t window_;
    std::mutex mu_;
    std::unordered_set<std::int64_t> seen_;
    std::deque<std::int64_t> order_;
};

class sqlite_dedupe final : public update_dedupe {
  public:
    sqlite_dedupe(const std::string& path, std::int64_t retention) : retention_(retention) {
        if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                            nullptr) != SQLITE_OK) {
            std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
            sqlite3_close(db_);
            throw bot::store_error("cannot open " + path + ": " + msg);
        }
        try {
            sqlite3_busy_timeout(db_, 2000);
            exec("PRAGMA journal_mode=WAL");
            exec("PRAGMA synchronous=NORMAL");
            exec("CREATE TABLE IF NOT EXISTS telegram_updates (update_id INTEGER PRIMARY KEY,"
                 " seen_at INTEGER NOT NULL)");
            insert_ = prepare("INSERT OR IGNORE INTO telegram_updates (update_id, seen_at)"
                              " VALUES (?1, ?2)");
            prune_ = prepare("DELETE FROM telegram_updates WHERE seen_at < ?1");
            count_ = prepare("SELECT COUNT(*) FROM telegram_updates");
        } catch (...) {
            close();
            throw;
        }
    }
    ~sqlite_dedupe() override { close(); }

    bool first_time(std::int64_t update_id, std::int64_t now) override {
        std::lock_guard lock(mu_);
        // Pruning now and then keeps the table at roughly two days of updates.
        if (++since_prune_ >= 256) {
            since_prune_ = 0;
            sqlite3_bind_int64(prune_, 1, now - retention_);
            step_done(prune_);
        }
        sqlite3_bind_int64(insert_, 1, update_id);
        sqlite3_bind_int64(insert_, 2, now);
        step_done(insert_);
        return sqlite3_changes(db_) == 1;
    }

    std::size_t size() override {
        std::lock_guard lock(mu_);
        std::size_t n = 0;
        if (sqlite3_step(count_) == SQLITE_ROW)
            n = static_cast<std::size_t>(sqlite3_column_int64(count_, 0));
        sqlite3_reset(count_);
        return n;
    }

  private:
    void close() {
        for (auto* s : {insert_, prune_, count_})
            sqlite3_finalize(s); // null is a no-op
        sqlite3_close(db_);
        db_ = nullptr;
    }
    void exec(const char* sql) {
        char* err = nullptr;
        if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
            std::string msg = err ? err : sqlite3_errmsg(db_);
            sqlite3_free(err);
            throw bot::store_error("telegram update log: " + msg);
        }
    }
    sqlite3_stmt* prepare(const char* sql) {
        sqlite3_stmt* s = nullptr;
        if (sqlite3_prepare_v2(db_, sql, -1, &s, nullptr) != SQLITE_OK)
            throw bot::store_error(std::string("telegram update log: ") + sqlite3_errmsg(db_));
        return s;
    }
    void step_done(sqlite3_stmt* s) {
        int rc = sqlite3_step(s);
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
        if (rc != SQLITE_DONE)
            throw bot::store_error(std::string("telegram update log: ") + sqlite3_errmsg(db_));
    }

    std::int64_t retention_;
    std::mutex mu_;
    sqlite3* db_ = nullptr;
    sqlite3_stmt* insert_ = nullptr;
    sqlite3_stmt* prune_ = nullptr;
    sqlite3_stmt* count_ = nullptr;
    int since_prune_ = 0;
};

} // namespace

std::shared_ptr<update_dedupe> make_memory_dedupe(std::size_t window) {
    return std::make_shared<memory_dedupe>(window);
}

std::shared_ptr<update_dedupe> make_sqlite_dedupe(const std::string& path,
                                                  std::int64_t retention_seconds) {
    return std::make_shared<sqlite_dedupe>(path, retention_seconds);
}

} // namespace tandem::adapters::telegram
