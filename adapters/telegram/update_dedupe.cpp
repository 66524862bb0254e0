#include "adapters/telegram/update_dedupe.hpp"

#include "bot/conversation_store.hpp"
#include "bot/redis_client.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <deque>
#include <map>
#include <mutex>
#include <unordered_map>

namespace tandem::adapters::telegram {

namespace {

class memory_dedupe final : public update_dedupe {
  public:
    explicit memory_dedupe(std::size_t window) : window_(window == 0 ? 1 : window) {}

    update_status accept(std::int64_t update_id, const std::string& conversation,
                         std::string_view payload, std::int64_t) override {
        std::lock_guard lock(mu_);
        if (seen_.count(update_id))
            return unanswered_.count(update_id) ? update_status::pending : update_status::answered;
        seen_.emplace(update_id, conversation);
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
    void release(std::int64_t update_id, const std::string&) override {
        std::lock_guard lock(mu_);
        unanswered_.erase(update_id);
        if (seen_.erase(update_id))
            std::erase(order_, update_id);
    }
    std::size_t forget(const std::string& conversation) override {
        std::lock_guard lock(mu_);
        std::size_t before = seen_.size();
        std::erase_if(seen_, [&](const auto& kv) {
            return kv.second == conversation && !unanswered_.count(kv.first);
        });
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
    std::map<std::int64_t, std::string> unanswered_;     // update id -> payload
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
                 " seen_at INTEGER NOT NULL, payload TEXT, conversation TEXT NOT NULL DEFAULT"
                 " '')");
            // Older files: from before the inbox, from before records knew their conversation.
            if (!has_column("payload"))
                exec("ALTER TABLE telegram_updates ADD COLUMN payload TEXT");
            if (!has_column("conversation"))
                exec("ALTER TABLE telegram_updates ADD COLUMN conversation TEXT NOT NULL "
                     "DEFAULT ''");
            exec("CREATE INDEX IF NOT EXISTS telegram_updates_conversation ON "
                 "telegram_updates(conversation)");
            // A NULL payload means answered (rows from older files were all answered).
            insert_ = prepare("INSERT OR IGNORE INTO telegram_updates (update_id, seen_at,"
                              " payload, conversation) VALUES (?1, ?2, ?3, ?4)");
            status_ = prepare("SELECT payload IS NULL FROM telegram_updates WHERE update_id = ?1");
            answer_ = prepare("UPDATE telegram_updates SET payload = NULL WHERE update_id = ?1");
            unanswered_ = prepare("SELECT update_id, payload FROM telegram_updates WHERE payload"
                                  " IS NOT NULL ORDER BY update_id");
            prune_ = prepare("DELETE FROM telegram_updates WHERE seen_at < ?1");
            count_ = prepare("SELECT COUNT(*) FROM telegram_updates");
            // An update still waiting for its answer keeps its record (and payload) until
            // it is answered: forgetting must not lose an acknowledged update.
            forget_ = prepare("DELETE FROM telegram_updates WHERE conversation = ?1 AND payload"
                              " IS NULL");
            release_ = prepare("DELETE FROM telegram_updates WHERE update_id = ?1");
        } catch (...) {
            close();
            throw;
        }
    }
    ~sqlite_dedupe() override { close(); }

    update_status accept(std::int64_t update_id, const std::string& conversation,
                         std::string_view payload, std::int64_t now) override {
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
        sqlite3_bind_text(insert_, 4, conversation.data(), static_cast<int>(conversation.size()),
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
        for (auto* s : {insert_, status_, answer_, unanswered_, prune_, count_, forget_, release_})
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
    bool has_column(const char* column) {
        auto* s = prepare("PRAGMA table_info(telegram_updates)");
        bool found = false;
        while (sqlite3_step(s) == SQLITE_ROW)
            if (const auto* name = sqlite3_column_text(s, 1))
                found = found || std::string(reinterpret_cast<const char*>(name)) == column;
        sqlite3_finalize(s);
        return found;
    }

    sqlite3_stmt* insert_ = nullptr;
    sqlite3_stmt* status_ = nullptr;
    sqlite3_stmt* answer_ = nullptr;
    sqlite3_stmt* unanswered_ = nullptr;
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

// KEYS: the update's key, the conversation's set. ARGV: conversation, retention, update id.
// 1: recorded now (pending), 0: answered already, 2: pending (or claimed).
constexpr const char* accept_script = R"lua(
local cur = redis.call('GET', KEYS[1])
if cur == 'd' then return 0 end
if cur then return 2 end
redis.call('SET', KEYS[1], 'p', 'EX', ARGV[2])
if ARGV[1] ~= '' then
  redis.call('SADD', KEYS[2], ARGV[3])
  redis.call('EXPIRE', KEYS[2], ARGV[2])
end
return 1
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

    update_status accept(std::int64_t update_id, const std::string& conversation, std::string_view,
                         std::int64_t) override {
        auto id = std::to_string(update_id);
        // Not retried on a broken connection: had it run, a retry would call it pending.
        auto r = db_.eval(accept_script, {updates_ + id, chats_ + conversation},
                          {conversation, std::to_string(retention_), id}, false)
                     .integer;
        return r == 1   ? update_status::fresh
               : r == 0 ? update_status::answered
                        : update_status::pending;
    }

    void answered(std::int64_t update_id) override {
        db_.command({"SET", updates_ + std::to_string(update_id), "d", "XX", "EX",
                     std::to_string(retention_)},
                    true);
    }

    // No payloads in Redis: nothing to resume (docs/deployment.md).
    std::vector<pending_update> unanswered() override { return {}; }

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
                                                  std::int64_t retention_seconds,
                                                  std::int64_t max_bytes) {
    return std::make_shared<sqlite_dedupe>(path, retention_seconds, max_bytes);
}

std::shared_ptr<update_dedupe> make_redis_dedupe(const bot::redis_options& options,
                                                 std::int64_t retention_seconds) {
    return std::make_shared<redis_dedupe>(options, retention_seconds);
}

} // namespace tandem::adapters::telegram
