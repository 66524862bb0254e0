#include "bot/checkins.hpp"

#include "bot/conversation_store.hpp"
#include "bot/private_file.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <map>
#include <mutex>

namespace tandem::bot {

std::int64_t outside_quiet_hours(std::int64_t due, int start_hour, int end_hour,
                                 int utc_offset_minutes) {
    if (start_hour == end_hour)
        return due;
    const std::int64_t day = 86400;
    std::int64_t local = due + std::int64_t{utc_offset_minutes} * 60;
    std::int64_t sod = ((local % day) + day) % day; // seconds into the local day
    std::int64_t start = std::int64_t{start_hour} * 3600, end = std::int64_t{end_hour} * 3600;
    bool quiet = start < end ? (sod >= start && sod < end) : (sod >= start || sod < end);
    if (!quiet)
        return due;
    std::int64_t wait = end - sod;
    if (wait <= 0)
        wait += day;
    return due + wait;
}

namespace {

class memory_checkins final : public checkin_store {
  public:
    void schedule(const checkin_entry& e) override {
        std::lock_guard lock(mu_);
        rows_[e.key] = e;
    }
    bool cancel(const std::string& key) override {
        std::lock_guard lock(mu_);
        return rows_.erase(key) > 0;
    }
    std::vector<checkin_entry> take_due(std::int64_t now, std::size_t max) override {
        std::lock_guard lock(mu_);
        std::vector<checkin_entry> due;
        for (const auto& [k, e] : rows_)
            if (e.due_at <= now)
                due.push_back(e);
        std::sort(due.begin(), due.end(), [](const checkin_entry& a, const checkin_entry& b) {
            return a.due_at < b.due_at;
        });
        if (due.size() > max)
            due.resize(max);
        for (const auto& e : due)
            rows_.erase(e.key);
        return due;
    }
    std::size_t size() override {
        std::lock_guard lock(mu_);
        return rows_.size();
    }

  private:
    std::mutex mu_;
    std::map<std::string, checkin_entry> rows_;
};

class sqlite_checkins final : public checkin_store {
  public:
    explicit sqlite_checkins(const std::string& path) {
        // Owner-only, like the conversation store (they usually share the file).
        db_ = open_private_sqlite(path, "the check-ins", 5000);
        try {
            exec("PRAGMA journal_mode=WAL");
            exec("PRAGMA secure_delete=ON"); // a cancelled check-in leaves no readable row
            exec("CREATE TABLE IF NOT EXISTS checkins (key TEXT PRIMARY KEY, channel TEXT NOT "
                 "NULL, conversation TEXT NOT NULL, user TEXT NOT NULL, dialog TEXT NOT NULL,"
                 " due_at INTEGER NOT NULL, attempts INTEGER NOT NULL)");
            exec("CREATE INDEX IF NOT EXISTS checkins_due ON checkins(due_at)");
        } catch (...) {
            sqlite3_close(db_); // the destructor does not run when the constructor throws
            throw;
        }
    }
    ~sqlite_checkins() override { sqlite3_close(db_); }

    void schedule(const checkin_entry& e) override {
        std::lock_guard lock(mu_);
        run("INSERT OR REPLACE INTO checkins VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            [&](sqlite3_stmt* st) {
                bind(st, 1, e.key);
                bind(st, 2, e.ref.channel);
                bind(st, 3, e.ref.conversation_id);
                bind(st, 4, e.ref.user_id);
                bind(st, 5, e.dialog);
                sqlite3_bind_int64(st, 6, e.due_at);
                sqlite3_bind_int(st, 7, e.attempts);
            });
    }
    bool cancel(const std::string& key) override {
        std::lock_guard lock(mu_);
        run("DELETE FROM checkins WHERE key=?1", [&](sqlite3_stmt* st) { bind(st, 1, key); });
        return sqlite3_changes(db_) > 0;
    }
    std::vector<checkin_entry> take_due(std::int64_t now, std::size_t max) override {
        std::lock_guard lock(mu_);
        std::vector<checkin_entry> out;
        exec("BEGIN IMMEDIATE");
        try {
            sqlite3_stmt* st =
                prepare("SELECT key, channel, conversation, user, dialog, due_at, attempts "
                        "FROM checkins WHERE due_at<=?1 ORDER BY due_at LIMIT ?2");
            sqlite3_bind_int64(st, 1, now);
            sqlite3_bind_int64(st, 2, static_cast<sqlite3_int64>(max));
            int rc;
            while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                checkin_entry e;
                e.key = text(st, 0);
                e.ref.channel = text(st, 1);
                e.ref.conversation_id = text(st, 2);
                e.ref.user_id = text(st, 3);
                e.dialog = text(st, 4);
                e.due_at = sqlite3_column_int64(st, 5);
                e.attempts = sqlite3_column_int(st, 6);
                out.push_back(std::move(e));
            }
            sqlite3_finalize(st);
            if (rc != SQLITE_DONE)
                throw store_error(std::string("checkins: ") + sqlite3_errmsg(db_));
            for (const auto& e : out)
                run("DELETE FROM checkins WHERE key=?1",
                    [&](sqlite3_stmt* d) { bind(d, 1, e.key); });
            exec("COMMIT");
        } catch (...) {
            sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
            throw;
        }
        return out;
    }
    std::size_t size() override {
        std::lock_guard lock(mu_);
        sqlite3_stmt* st = prepare("SELECT COUNT(*) FROM checkins");
        std::size_t n = sqlite3_step(st) == SQLITE_ROW
                            ? static_cast<std::size_t>(sqlite3_column_int64(st, 0))
                            : 0;
        sqlite3_finalize(st);
        return n;
    }

  private:
    static void bind(sqlite3_stmt* st, int i, const std::string& s) {
        sqlite3_bind_text(st, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
    }
    static std::string text(sqlite3_stmt* st, int i) {
        const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st, i));
        return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(st, i))) : "";
    }
    sqlite3_stmt* prepare(const char* sql) {
        sqlite3_stmt* st = nullptr;
        if (sqlite3_prepare_v2(db_, sql, -1, &st, nullptr) != SQLITE_OK)
            throw store_error(std::string("checkins: ") + sqlite3_errmsg(db_));
        return st;
    }
    template <class Bind> void run(const char* sql, Bind b) {
        sqlite3_stmt* st = prepare(sql);
        b(st);
        int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
            throw store_error(std::string("checkins: ") + sqlite3_errmsg(db_));
    }
    void exec(const char* sql) {
        char* err = nullptr;
        if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
            std::string m = err ? err : "error";
            sqlite3_free(err);
            throw store_error("checkins: " + m);
        }
    }
    std::mutex mu_;
    sqlite3* db_ = nullptr;
};

} // namespace

std::shared_ptr<checkin_store> make_memory_checkin_store() {
    return std::make_shared<memory_checkins>();
}

std::shared_ptr<checkin_store> make_sqlite_checkin_store(const std::string& path) {
    return std::make_shared<sqlite_checkins>(path);
}

} // namespace tandem::bot
