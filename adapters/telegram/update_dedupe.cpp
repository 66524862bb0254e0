#include "adapters/telegram/update_dedupe.hpp"

#include "bot/conversation_store.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <deque>
#include <map>
#include <mutex>
#include <unordered_set>

namespace tandem::adapters::telegram {

namespace {

class memory_dedupe final : public update_dedupe {
  public:
    explicit memory_dedupe(std::size_t window) : window_(window == 0 ? 1 : window) {}

    update_status accept(std::int64_t update_id, std::string_view payload, std::int64_t) override {
        std::lock_guard lock(mu_);
        if (seen_.count(update_id))
            return unanswered_.count(update_id) ? update_status::pending : update_status::answered;
        seen_.insert(update_id);
        unanswered_[update_id] = std::string(payload);
        order_.push_back(update_id);
        while (order_.size() > window_) {
            seen_.erase(order_.front());
            unanswered_.erase(order_.front());
            order_.pop_front();
        }
        return update_status::fresh;
    }
    void answered(std::int64_t update_id) override {
        std::lock_guard lock(mu_);
        unanswered_.erase(update_id);
    }
    std::vector<pending_update> unanswered() override {
        std::lock_guard lock(mu_);
        std::vector<pending_update> out;
        for (const auto& [id, payload] : unanswered_)
            out.push_back({id, payload});
        return out;
    }
    std::size_t size() override {
        std::lock_guard lock(mu_);
        return seen_.size();
    }

  private:
    std::size_t window_;
    std::mutex mu_;
    std::unordered_set<std::int64_t> seen_;
    std::map<std::int64_t, std::string> unanswered_;
    std::deque<std::int64_t> order_;
};

class sqlite_dedupe final : public update_dedupe {
  public:
    sqlite_dedupe(const std::string& path, std::int64_t retention, std::int64_t max_bytes)
        : retention_(retention) {
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
            if (max_bytes > 0) {
                // A quota, and the way the tests make a disk "full".
                std::int64_t pages = std::max<std::int64_t>(1, max_bytes / 4096);
                exec(("PRAGMA max_page_count=" + std::to_string(pages)).c_str());
            }
            exec("CREATE TABLE IF NOT EXISTS telegram_updates (update_id INTEGER PRIMARY KEY,"
                 " seen_at INTEGER NOT NULL, payload TEXT)");
            if (!has_payload_column())
                exec("ALTER TABLE telegram_updates ADD COLUMN payload TEXT"); // older files
            // A NULL payload means answered (rows from older files were all answered).
            insert_ = prepare("INSERT OR IGNORE INTO telegram_updates (update_id, seen_at,"
                              " payload) VALUES (?1, ?2, ?3)");
            status_ = prepare("SELECT payload IS NULL FROM telegram_updates WHERE update_id = ?1");
            answer_ = prepare("UPDATE telegram_updates SET payload = NULL WHERE update_id = ?1");
            unanswered_ = prepare("SELECT update_id, payload FROM telegram_updates WHERE payload"
                                  " IS NOT NULL ORDER BY update_id");
            prune_ = prepare("DELETE FROM telegram_updates WHERE seen_at < ?1");
            count_ = prepare("SELECT COUNT(*) FROM telegram_updates");
        } catch (...) {
            close();
            throw;
        }
    }
    ~sqlite_dedupe() override { close(); }

    update_status accept(std::int64_t update_id, std::string_view payload,
                         std::int64_t now) override {
        std::lock_guard lock(mu_);
        // Pruning now and then keeps the table at roughly two days of updates.
        if (++since_prune_ >= 256) {
            since_prune_ = 0;
            sqlite3_bind_int64(prune_, 1, now - retention_);
            step_done(prune_);
        }
        sqlite3_bind_int64(insert_, 1, update_id);
        sqlite3_bind_int64(insert_, 2, now);
        if (payload.empty())
            sqlite3_bind_null(insert_, 3);
        else
            sqlite3_bind_text(insert_, 3, payload.data(), static_cast<int>(payload.size()),
                              SQLITE_TRANSIENT);
        step_done(insert_);
        if (sqlite3_changes(db_) == 1)
            return update_status::fresh;
        sqlite3_bind_int64(status_, 1, update_id);
        int rc = sqlite3_step(status_);
        bool done = rc == SQLITE_ROW && sqlite3_column_int(status_, 0) != 0;
        sqlite3_reset(status_);
        sqlite3_clear_bindings(status_);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            throw bot::store_error(std::string("telegram update log: ") + sqlite3_errmsg(db_));
        return done || rc == SQLITE_DONE ? update_status::answered : update_status::pending;
    }

    void answered(std::int64_t update_id) override {
        std::lock_guard lock(mu_);
        sqlite3_bind_int64(answer_, 1, update_id);
        step_done(answer_);
    }

    void probe(std::int64_t now) override {
        std::lock_guard lock(mu_);
        // Committed (so a full disk shows in the WAL too), and leaves nothing behind; 8 KB, so
        // it needs pages of its own: room for it is room for several updates.
        exec(("BEGIN IMMEDIATE; INSERT INTO telegram_updates (update_id, seen_at, payload) "
              "VALUES (-9223372036854775807, " +
              std::to_string(now) +
              ", hex(randomblob(4096))); DELETE FROM telegram_updates WHERE update_id = "
              "-9223372036854775807; COMMIT;")
                 .c_str());
    }

    std::vector<pending_update> unanswered() override {
        std::lock_guard lock(mu_);
        std::vector<pending_update> out;
        int rc = 0;
        while ((rc = sqlite3_step(unanswered_)) == SQLITE_ROW) {
            pending_update p;
            p.update_id = sqlite3_column_int64(unanswered_, 0);
            if (const auto* t = sqlite3_column_text(unanswered_, 1))
                p.payload.assign(reinterpret_cast<const char*>(t),
                                 static_cast<std::size_t>(sqlite3_column_bytes(unanswered_, 1)));
            out.push_back(std::move(p));
        }
        sqlite3_reset(unanswered_);
        if (rc != SQLITE_DONE)
            throw bot::store_error(std::string("telegram update log: ") + sqlite3_errmsg(db_));
        return out;
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
        for (auto* s : {insert_, status_, answer_, unanswered_, prune_, count_})
            sqlite3_finalize(s); // null is a no-op
        sqlite3_close(db_);
        db_ = nullptr;
    }
    void exec(const char* sql) {
        char* err = nullptr;
        if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
            std::string msg = err ? err : sqlite3_errmsg(db_);
            sqlite3_free(err);
            if (!sqlite3_get_autocommit(db_))
                sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
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
    bool has_payload_column() {
        auto* s = prepare("PRAGMA table_info(telegram_updates)");
        bool found = false;
        while (sqlite3_step(s) == SQLITE_ROW)
            if (const auto* name = sqlite3_column_text(s, 1))
                found = found || std::string(reinterpret_cast<const char*>(name)) == "payload";
        sqlite3_finalize(s);
        return found;
    }

    sqlite3_stmt* insert_ = nullptr;
    sqlite3_stmt* status_ = nullptr;
    sqlite3_stmt* answer_ = nullptr;
    sqlite3_stmt* unanswered_ = nullptr;
    sqlite3_stmt* prune_ = nullptr;
    sqlite3_stmt* count_ = nullptr;
    int since_prune_ = 0;
};

} // namespace

std::shared_ptr<update_dedupe> make_memory_dedupe(std::size_t window) {
    return std::make_shared<memory_dedupe>(window);
}

std::shared_ptr<update_dedupe> make_sqlite_dedupe(const std::string& path,
                                                  std::int64_t retention_seconds,
                                                  std::int64_t max_bytes) {
    return std::make_shared<sqlite_dedupe>(path, retention_seconds, max_bytes);
}

} // namespace tandem::adapters::telegram
