#include "adapters/telegram/update_dedupe.hpp"

#include "bot/conversation_store.hpp"
#include "bot/redis_client.hpp"

namespace tandem::adapters::telegram {

namespace {

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

std::shared_ptr<update_dedupe> make_memory_dedupe(std::size_t window) {
    return bot::make_memory_message_log(window);
}

std::shared_ptr<update_dedupe> make_sqlite_dedupe(const std::string& path,
                                                  std::int64_t retention_seconds,
                                                  std::int64_t max_bytes,
                                                  const std::string& migrate_from) {
    bot::sqlite_log_options o;
    o.path = path;
    o.table = "telegram_updates";
    o.what = "Telegram update log";
    o.retention_seconds = retention_seconds;
    o.max_bytes = max_bytes;
    o.migrate_from = migrate_from;
    return bot::make_sqlite_message_log(o);
}

std::shared_ptr<update_dedupe> make_redis_dedupe(const bot::redis_options& options,
                                                 std::int64_t retention_seconds) {
    return std::make_shared<redis_dedupe>(options, retention_seconds);
}

} // namespace tandem::adapters::telegram
