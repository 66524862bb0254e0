#include "bot/conversation_store.hpp"
#include "bot/redis_client.hpp"

#include <atomic>

namespace tandem::bot {
namespace {

// KEYS: the conversation's hash, the idle index. ARGV: state, last_active, expected version
// ("-1": any), the conversation key (the idle index's member).
constexpr const char* save_script = R"lua(
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if ARGV[3] ~= '-1' and v ~= tonumber(ARGV[3]) then return 0 end
v = v + 1
redis.call('HSET', KEYS[1], 's', ARGV[1], 'v', v)
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[4])
return v
)lua";

// KEYS: the conversation's hash, the idle index. ARGV: the conversation key.
constexpr const char* erase_script = R"lua(
local n = redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return n
)lua";

// KEYS: the idle index. ARGV: cutoff, the conversations' key prefix, batch size.
constexpr const char* sweep_script = R"lua(
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do redis.call('DEL', ARGV[2] .. id) end
if #ids > 0 then redis.call('ZREM', KEYS[1], unpack(ids)) end
return #ids
)lua";

constexpr std::size_t sweep_batch = 500;

class redis_store final : public conversation_store {
  public:
    explicit redis_store(const redis_options& o)
        : db_(o), prefix_(o.key_prefix + "c:"), idle_(o.key_prefix + "idle") {}

    std::optional<std::string> load(const std::string& key) override {
        auto v = load_versioned(key);
        if (!v)
            return std::nullopt;
        return std::move(v->json);
    }

    std::optional<versioned> load_versioned(const std::string& key) override {
        auto r = db_.command({"HMGET", prefix_ + key, "s", "v"}, true);
        if (r.elements.size() != 2 || r.elements[0].is_nil())
            return std::nullopt;
        versioned out;
        out.json = std::move(r.elements[0].str);
        try {
            out.version = std::stoull(r.elements[1].str);
        } catch (const std::exception&) {
            throw store_error("redis: conversation without a valid version");
        }
        return out;
    }

    void save(const std::string& key, const std::string& json, std::int64_t last) override {
        write(key, json, last, "-1");
    }

    std::optional<std::uint64_t> save_if(const std::string& key, const std::string& json,
                                         std::int64_t last, std::uint64_t expected) override {
        auto v = write(key, json, last, std::to_string(expected));
        if (v == 0)
            return std::nullopt;
        return v;
    }

    bool erase(const std::string& key) override {
        return db_.eval(erase_script, {prefix_ + key, idle_}, {key}, true).integer > 0;
    }

    std::size_t erase_idle_before(std::int64_t cutoff) override {
        std::size_t total = 0;
        for (;;) {
            auto n = static_cast<std::size_t>(
                db_.eval(sweep_script, {idle_},
                         {std::to_string(cutoff), prefix_, std::to_string(sweep_batch)}, true)
                    .integer);
            total += n;
            if (n < sweep_batch)
                return total;
        }
    }

    std::size_t size() override {
        return static_cast<std::size_t>(db_.command({"ZCARD", idle_}, true).integer);
    }

    bool healthy() override { return db_.ping(); }

    write_stats stats() const override { return {writes_.load(), writes_.load()}; }

  private:
    std::uint64_t write(const std::string& key, const std::string& json, std::int64_t last,
                        const std::string& expected) {
        // Not retried on a broken connection: the script may have run before it broke.
        auto r = db_.eval(save_script, {prefix_ + key, idle_},
                          {json, std::to_string(last), expected, key}, false);
        if (r.integer > 0)
            ++writes_;
        return static_cast<std::uint64_t>(r.integer);
    }

    redis::client db_;
    std::string prefix_, idle_;
    std::atomic<std::uint64_t> writes_{0};
};

} // namespace

std::shared_ptr<conversation_store> make_redis_store(const redis_options& options) {
    return std::make_shared<redis_store>(options);
}

} // namespace tandem::bot
