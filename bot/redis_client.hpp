// A small, thread-safe Redis client over hiredis (synchronous, with timeouts): a pool of
// connections, each used by one caller at a time. Shared by the Redis conversation store and
// the Redis Telegram update log. hiredis stays inside redis_client.cpp.
#pragma once

#include "bot/config.hpp"
#include "bot/conversation_store.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace tandem::bot::redis {

// One reply, copied out of hiredis.
struct value {
    enum class kind { nil, integer, string, array, status };
    kind type = kind::nil;
    long long integer = 0;
    std::string str; // string and status replies
    std::vector<value> elements;
    bool is_nil() const { return type == kind::nil; }
};

class client {
  public:
    explicit client(redis_options options);
    ~client();
    client(const client&) = delete;
    client& operator=(const client&) = delete;

    // Runs one command. Throws store_error when Redis cannot be reached, times out or answers
    // with an error. idempotent: on a broken connection the command is tried once more on a
    // fresh one (a pooled connection goes stale when Redis restarts); a command that must
    // not run twice (it may have run before the connection broke) is never retried.
    value command(const std::vector<std::string>& args, bool idempotent);
    // Runs a Lua script by its SHA1, loading it first when the server does not know it.
    value eval(std::string_view script, const std::vector<std::string>& keys,
               const std::vector<std::string>& args, bool idempotent);
    // PING; never throws.
    bool ping() noexcept;

    const redis_options& options() const { return opt_; }

  private:
    struct connection;
    std::unique_ptr<connection> acquire();
    void release(std::unique_ptr<connection> c);
    void drop_idle();
    value run(connection& c, const std::vector<std::string>& args);

    redis_options opt_;
    std::mutex mu_;
    std::vector<std::unique_ptr<connection>> idle_;
    // script -> SHA1 (guarded by mu_); looked up by string_view, so a script passed as a
    // literal is not copied on every call.
    std::map<std::string, std::string, std::less<>> shas_;
};

// The Redis settings of a config (store.kind "redis"), the password read from the
// environment variable store.password_env names. Sets problem when that variable is unset.
redis_options options_from_config(const config& cfg, const env_lookup& env, std::string& problem);

} // namespace tandem::bot::redis
