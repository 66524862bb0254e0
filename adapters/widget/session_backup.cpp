#include "adapters/widget/session_backup.hpp"

#include "bot/redis_client.hpp"

#include <openssl/sha.h>

namespace tandem::adapters::widget {

namespace {

std::string sha256_hex(const std::string& s) {
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), md);
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (unsigned char c : md) {
        out += digits[c >> 4];
        out += digits[c & 0xF];
    }
    return out;
}

// KEYS: the session's hash. ARGV: next_seq, data, ttl. Two saves racing (a turn's reply and
// a new message) never put an older history over a newer one.
constexpr const char* save_script = R"lua(
local n = tonumber(redis.call('HGET', KEYS[1], 'n') or '0')
if n > tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'n', ARGV[1], 'd', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
)lua";

class redis_backup final : public session_backup {
  public:
    explicit redis_backup(const bot::redis_options& o) : db_(o), prefix_(o.key_prefix + "w:") {}

    void save(const std::string& id, std::uint64_t next_seq, const std::string& data,
              std::int64_t ttl) override {
        db_.eval(save_script, {prefix_ + sha256_hex(id)},
                 {std::to_string(next_seq), data, std::to_string(ttl < 1 ? 1 : ttl)}, true);
    }
    std::optional<std::string> load(const std::string& id) override {
        auto r = db_.command({"HGET", prefix_ + sha256_hex(id), "d"}, true);
        if (r.is_nil())
            return std::nullopt;
        return r.str;
    }
    void erase(const std::string& id) override {
        db_.command({"DEL", prefix_ + sha256_hex(id)}, true);
    }

  private:
    bot::redis::client db_;
    std::string prefix_;
};

} // namespace

std::shared_ptr<session_backup> make_redis_session_backup(const bot::redis_options& options) {
    return std::make_shared<redis_backup>(options);
}

} // namespace tandem::adapters::widget
