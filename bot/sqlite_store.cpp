#include "bot/conversation_store.hpp"

#include <sqlite3.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <mutex>

namespace tandem::bot {
namespace {

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

class sqlite_store final : public conversation_store {
  public:
    sqlite_store(const std::string& path, bool full) {
        namespace fs = std::filesystem;
        fs::path p(path);
        std::error_code ec;
        if (p.has_parent_path() && !fs::exists(p.parent_path(), ec)) {
            fs::create_directories(p.parent_path(), ec);
            if (ec)
                throw store_error("cannot create the data folder " + p.parent_path().string() +
                                  ": " + ec.message());
            ::chmod(p.parent_path().c_str(), 0700);
        }
        // Create the file owner-only before SQLite opens it; SQLite gives its -wal and
        // -shm files the same permissions.
        int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0)
            throw store_error("cannot open or create " + path + ": " + std::strerror(errno));
        ::close(fd);
        if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                            nullptr) != SQLITE_OK) {
            std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
            sqlite3_close(db_);
            throw store_error("cannot open " + path + ": " + msg);
        }
        sqlite3_busy_timeout(db_, 5000);
        exec("PRAGMA journal_mode=WAL");
        exec(full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
        exec("CREATE TABLE IF NOT EXISTS conversations ("
             " key TEXT PRIMARY KEY, state TEXT NOT NULL, last_active INTEGER NOT NULL)");
        exec("CREATE INDEX IF NOT EXISTS conversations_last_active ON conversations(last_active)");
        load_ = std::make_unique<statement>(db_, "SELECT state FROM conversations WHERE key=?1");
        save_ = std::make_unique<statement>(
            db_, "INSERT INTO conversations(key, state, last_active) VALUES(?1, ?2, ?3) "
                 "ON CONFLICT(key) DO UPDATE SET state=excluded.state, "
                 "last_active=excluded.last_active");
        erase_ = std::make_unique<statement>(db_, "DELETE FROM conversations WHERE key=?1");
        sweep_ = std::make_unique<statement>(db_, "DELETE FROM conversations WHERE last_active<?1");
        count_ = std::make_unique<statement>(db_, "SELECT COUNT(*) FROM conversations");
    }

    ~sqlite_store() override {
        load_.reset();
        save_.reset();
        erase_.reset();
        sweep_.reset();
        count_.reset();
        sqlite3_close(db_);
    }

    std::optional<std::string> load(const std::string& key) override {
        std::lock_guard lock(mu_);
        auto* st = load_->get();
        reset_guard g(st);
        sqlite3_bind_text(st, 1, key.data(), static_cast<int>(key.size()), SQLITE_STATIC);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
            return std::nullopt;
        if (rc != SQLITE_ROW)
            fail("read");
        const auto* txt = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
        return std::string(txt ? txt : "", static_cast<std::size_t>(sqlite3_column_bytes(st, 0)));
    }

    void save(const std::string& key, const std::string& json, std::int64_t last) override {
        std::lock_guard lock(mu_);
        auto* st = save_->get();
        reset_guard g(st);
        sqlite3_bind_text(st, 1, key.data(), static_cast<int>(key.size()), SQLITE_STATIC);
        sqlite3_bind_text(st, 2, json.data(), static_cast<int>(json.size()), SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, last);
        if (sqlite3_step(st) != SQLITE_DONE)
            fail("write");
    }

    bool erase(const std::string& key) override {
        std::lock_guard lock(mu_);
        auto* st = erase_->get();
        reset_guard g(st);
        sqlite3_bind_text(st, 1, key.data(), static_cast<int>(key.size()), SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            fail("delete");
        return sqlite3_changes(db_) > 0;
    }

    std::size_t erase_idle_before(std::int64_t cutoff) override {
        std::lock_guard lock(mu_);
        auto* st = sweep_->get();
        reset_guard g(st);
        sqlite3_bind_int64(st, 1, cutoff);
        if (sqlite3_step(st) != SQLITE_DONE)
            fail("delete");
        return static_cast<std::size_t>(sqlite3_changes(db_));
    }

    std::size_t size() override {
        std::lock_guard lock(mu_);
        auto* st = count_->get();
        reset_guard g(st);
        if (sqlite3_step(st) != SQLITE_ROW)
            fail("read");
        return static_cast<std::size_t>(sqlite3_column_int64(st, 0));
    }

  private:
    struct reset_guard {
        sqlite3_stmt* st;
        ~reset_guard() {
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
        }
    };

    void exec(const char* sql) {
        char* err = nullptr;
        if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
            std::string msg = err ? err : "unknown error";
            sqlite3_free(err);
            throw store_error(std::string("sqlite: ") + msg);
        }
    }

    [[noreturn]] void fail(const char* what) {
        throw store_error(std::string("conversation store ") + what +
                          " failed: " + sqlite3_errmsg(db_));
    }

    std::mutex mu_;
    sqlite3* db_ = nullptr;
    std::unique_ptr<statement> load_, save_, erase_, sweep_, count_;
};

} // namespace

std::shared_ptr<conversation_store> make_sqlite_store(const std::string& path, bool full) {
    return std::make_shared<sqlite_store>(path, full);
}

} // namespace tandem::bot
