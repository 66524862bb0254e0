#include "adapters/telegram/update_dedupe.hpp"

#include "bot/conversation_store.hpp"

#include <sqlite3.h>

#include "bot/redis_client.hpp"
#include <deque>
#include <mutex>

#include <unordered_map>

namespace tandem::adapters::telegram {

namespace {

class memory_dedupe final : public update_dedupe {
  public:
    explicit memory_dedupe(std::size_t window) : window_(window == 0 ? 1 : window) {}

    bool first_time(std::int64_t update_id, const std::string& conversation,
                    std::int64_t) override {
        std::lock_guard lock(mu_);
        if (!seen_.emplace(update_id, conversation).second)
            return false;
        order_.push_back(update_id);
        while (order_.size() > window_) {
            seen_.erase(order_.front());
            order_.pop_front();
        }
        return true;
    }
    void release(std::int64_t update_id, const std::string&) override {
        std::lock_guard lock(mu_);
        if (seen_.erase(update_id))
            std::erase(order_, update_id);
    }
    std::size_t forget(const std::string& conversation) override {
        std::lock_guard lock(mu_);
        std::size_t before = seen_.size();
        std::erase_if(seen_, [&](const auto& kv) { return kv.second == conversation; });
        std::erase_if(order_, [&](std::int64_t id) { return !seen_.count(id); });
        return before - seen_.size();
    }
    std::size_t size() override {
        std::lock_guard lock(mu_);
        return seen_.size();
    }

  private:
    std::size_t window_;
    std::mutex mu_;
    std::unordered_map<std::int64_t, std::string> seen_; // update id -> conversation
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
                 " seen_at INTEGER NOT NULL, conversation TEXT NOT NULL DEFAULT '')");
            // Logs from before records knew their conversation get the column.
            sqlite3_stmt* probe = nullptr;
            int rc = sqlite3_prepare_v2(db_, "SELECT conversation FROM telegram_updates LIMIT 0",
                                        -1, &probe, nullptr);
            sqlite3_finalize(probe);
            if (rc != SQLITE_OK)
                exec("ALTER TABLE telegram_updates ADD COLUMN conversation TEXT NOT NULL "
                     "DEFAULT ''");
            exec("CREATE INDEX IF NOT EXISTS telegram_updates_conversation ON "
                 "telegram_updates(conversation)");
            insert_ = prepare("INSERT OR IGNORE INTO telegram_updates (update_id, seen_at,"
                              " conversation) VALUES (?1, ?2, ?3)");
            forget_ = prepare("DELETE FROM telegram_updates WHERE conversation = ?1");
            release_ = prepare("DELETE FROM telegram_updates WHERE update_id = ?1");
            prune_ = prepare("DELETE FROM telegram_updates WHERE seen_at < ?1");
            count_ = prepare("SELECT COUNT(*) FROM telegram_updates");
        } catch (...) {
            close();
            throw;
        }
    }
    ~sqlite_dedupe() override { close(); }

    bool first_time(std::int64_t update_id, const std::string& conversation,
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
        sqlite3_bind_text(insert_, 3, conversation.data(), static_cast<int>(conversation.size()),
                          SQLITE_TRANSIENT);
        step_done(insert_);
        return sqlite3_changes(db_) == 1;
    }

    void release(std::int64_t update_id, const std::string&) override {
        std::lock_guard lock(mu_);
        sqlite3_bind_int64(release_, 1, update_id);
        step_done(release_);
    }

    std::size_t forget(const std::string& conversation) override {
        std::lock_guard lock(mu_);
        sqlite3_bind_text(forget_, 1, conversation.data(), static_cast<int>(conversation.size()),
                          SQLITE_TRANSIENT);
        step_done(forget_);
        return static_cast<std::size_t>(sqlite3_changes(db_));
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
        for (auto* s : {insert_, prune_, count_, forget_, release_})
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
    sqlite3_stmt* forget_ = nullptr;
    sqlite3_stmt* release_ = nullptr;
    int since_prune_ = 0;
};

// KEYS: the update's key, the conversation's set. ARGV: conversation, retention, update id.
// An update's key holds "d" (answered) or "c" (claimed, while its lease lasts).
constexpr const char* seen_script = R"lua(
if not redis.call('SET', KEYS[1], 'd', 'NX', 'EX', ARGV[2]) then return 0 end
if ARGV[1] ~= '' then
  redis.call('SADD', KEYS[2], ARGV[3])
  redis.call('EXPIRE', KEYS[2], ARGV[2])
end
return 1
)lua";

// KEYS: the update's key, the conversation's set. ARGV: conversation, lease, update id,
// retention. 1: claimed, 0: answered already, 2: claimed by someone else.
constexpr const char* claim_script = R"lua(
local cur = redis.call('GET', KEYS[1])
if cur == 'c' then return 2 end
if cur then return 0 end
redis.call('SET', KEYS[1], 'c', 'EX', ARGV[2])
if ARGV[1] ~= '' then
  redis.call('SADD', KEYS[2], ARGV[3])
  redis.call('EXPIRE', KEYS[2], ARGV[4])
end
return 1
)lua";

// KEYS: the update's key, the conversation's set. ARGV: update id.
constexpr const char* release_script = R"lua(
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
return 1
)lua";

// KEYS: the conversation's set. ARGV: the update keys' prefix.
constexpr const char* forget_script = R"lua(
local ids = redis.call('SMEMBERS', KEYS[1])
local n = 0
for _, id in ipairs(ids) do n = n + redis.call('DEL', ARGV[1] .. id) end
redis.call('DEL', KEYS[1])
return n
)lua";

class redis_dedupe final : public update_dedupe {
  public:
    redis_dedupe(const bot::redis_options& o, std::int64_t retention)
        : db_(o), updates_(o.key_prefix + "tg:u:"), chats_(o.key_prefix + "tg:chat:"),
          retention_(retention < 1 ? 1 : retention) {}

    bool first_time(std::int64_t update_id, const std::string& conversation,
                    std::int64_t) override {
        auto id = std::to_string(update_id);
        // Not retried on a broken connection: had it run, a retry would call it a repeat.
        return db_.eval(seen_script, {updates_ + id, chats_ + conversation},
                        {conversation, std::to_string(retention_), id}, false)
                   .integer == 1;
    }

    claim_result claim(std::int64_t update_id, const std::string& conversation, std::int64_t,
                       std::int64_t lease) override {
        auto id = std::to_string(update_id);
        // Not retried on a broken connection: had it run, a retry would call it busy.
        auto r = db_.eval(claim_script, {updates_ + id, chats_ + conversation},
                          {conversation, std::to_string(lease < 1 ? 1 : lease), id,
                           std::to_string(retention_)},
                          false)
                     .integer;
        return r == 1 ? claim_result::first : r == 2 ? claim_result::busy : claim_result::repeat;
    }

    void confirm(std::int64_t update_id, const std::string&, std::int64_t) override {
        // XX: an update whose conversation was forgotten meanwhile stays forgotten.
        db_.command({"SET", updates_ + std::to_string(update_id), "d", "XX", "EX",
                     std::to_string(retention_)},
                    true);
    }

    void release(std::int64_t update_id, const std::string& conversation) override {
        auto id = std::to_string(update_id);
        db_.eval(release_script, {updates_ + id, chats_ + conversation}, {id}, true);
    }

    std::size_t forget(const std::string& conversation) override {
        return static_cast<std::size_t>(
            db_.eval(forget_script, {chats_ + conversation}, {updates_}, true).integer);
    }

    // Counts the update keys (SCAN: never blocks the server for long).
    std::size_t size() override {
        std::size_t n = 0;
        std::string cursor = "0";
        do {
            auto r = db_.command({"SCAN", cursor, "MATCH", updates_ + "*", "COUNT", "1000"}, true);
            if (r.elements.size() != 2)
                throw bot::store_error("redis: unexpected SCAN reply");
            cursor = r.elements[0].str;
            n += r.elements[1].elements.size();
        } while (cursor != "0");
        return n;
    }

  private:
    bot::redis::client db_;
    std::string updates_, chats_;
    std::int64_t retention_;
};

} // namespace

update_dedupe::claim_result update_dedupe::claim(std::int64_t update_id,
                                                 const std::string& conversation, std::int64_t now,
                                                 std::int64_t) {
    // One process alone: nobody else can hold a claim, and a claim that fails is released.
    return first_time(update_id, conversation, now) ? claim_result::first : claim_result::repeat;
}

void update_dedupe::confirm(std::int64_t, const std::string&, std::int64_t) {}

std::shared_ptr<update_dedupe> make_memory_dedupe(std::size_t window) {
    return std::make_shared<memory_dedupe>(window);
}

std::shared_ptr<update_dedupe> make_sqlite_dedupe(const std::string& path,
                                                  std::int64_t retention_seconds) {
    return std::make_shared<sqlite_dedupe>(path, retention_seconds);
}

} // namespace tandem::adapters::telegram

namespace tandem::adapters::telegram {

std::shared_ptr<update_dedupe> make_redis_dedupe(const bot::redis_options& options,
                                                 std::int64_t retention_seconds) {
    return std::make_shared<redis_dedupe>(options, retention_seconds);
}

} // namespace tandem::adapters::telegram
