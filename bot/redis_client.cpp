#include "bot/redis_client.hpp"

#include <hiredis/hiredis.h>

#include <cerrno>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>

namespace tandem::bot::redis {

namespace {

timeval to_timeval(int ms) {
    timeval tv{};
    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    return tv;
}

struct reply_free {
    void operator()(redisReply* r) const { freeReplyObject(r); }
};
using reply_ptr = std::unique_ptr<redisReply, reply_free>;

value copy(const redisReply& r) {
    value v;
    switch (r.type) {
    case REDIS_REPLY_INTEGER:
        v.type = value::kind::integer;
        v.integer = r.integer;
        break;
    case REDIS_REPLY_STRING:
        v.type = value::kind::string;
        v.str.assign(r.str, r.len);
        break;
    case REDIS_REPLY_STATUS:
        v.type = value::kind::status;
        v.str.assign(r.str, r.len);
        break;
    case REDIS_REPLY_ARRAY:
        v.type = value::kind::array;
        for (std::size_t i = 0; i < r.elements; ++i)
            v.elements.push_back(copy(*r.element[i]));
        break;
    default:
        break; // nil
    }
    return v;
}

// hiredis writes with write(): a server that went away would raise SIGPIPE and kill the
// process. SIGPIPE is blocked on this thread while a command runs, and one it raised is
// taken off the thread before it is unblocked (the process's own handling stays as it was).
class sigpipe_guard {
  public:
    sigpipe_guard() {
        sigemptyset(&pipe_);
        sigaddset(&pipe_, SIGPIPE);
        sigset_t pending;
        sigpending(&pending);
        was_pending_ = sigismember(&pending, SIGPIPE) == 1;
        pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
    }
    ~sigpipe_guard() {
        if (!was_pending_) {
            sigset_t pending;
            sigpending(&pending);
            if (sigismember(&pending, SIGPIPE) == 1) {
                timespec zero{0, 0};
                sigtimedwait(&pipe_, nullptr, &zero);
            }
        }
        pthread_sigmask(SIG_SETMASK, &old_, nullptr);
    }
    sigpipe_guard(const sigpipe_guard&) = delete;
    sigpipe_guard& operator=(const sigpipe_guard&) = delete;

  private:
    sigset_t pipe_{}, old_{};
    bool was_pending_ = false;
};

// A server error reply ("ERR ...", "NOSCRIPT ...", "WRONGPASS ...").
class server_error : public store_error {
  public:
    using store_error::store_error;
};

} // namespace

struct client::connection {
    redisContext* ctx = nullptr;
    bool broken = false;
    ~connection() {
        if (ctx)
            redisFree(ctx);
    }
};

client::client(redis_options options) : opt_(std::move(options)) {}
client::~client() = default;

namespace {

// A pooled connection the server closed meanwhile (Redis restarted, or it dropped an idle
// client) reads as end of file; one that is fine has nothing to read.
bool still_open(redisContext* ctx) {
    char b = 0;
    ssize_t n = ::recv(ctx->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

} // namespace

std::unique_ptr<client::connection> client::acquire() {
    for (;;) {
        std::unique_ptr<connection> c;
        {
            std::lock_guard lock(mu_);
            if (idle_.empty())
                break;
            c = std::move(idle_.back());
            idle_.pop_back();
        }
        if (still_open(c->ctx))
            return c;
        // Closed by the server: never used for a command, so nothing is lost by dropping it.
    }
    auto c = std::make_unique<connection>();
    auto tv = to_timeval(opt_.connect_timeout_ms);
    c->ctx = opt_.unix_socket.empty() ? redisConnectWithTimeout(opt_.host.c_str(), opt_.port, tv)
                                      : redisConnectUnixWithTimeout(opt_.unix_socket.c_str(), tv);
    std::string where =
        opt_.unix_socket.empty() ? opt_.host + ":" + std::to_string(opt_.port) : opt_.unix_socket;
    if (!c->ctx)
        throw store_error("redis " + where + ": out of memory");
    if (c->ctx->err)
        throw store_error("cannot connect to redis at " + where + ": " + c->ctx->errstr);
    redisSetTimeout(c->ctx, to_timeval(opt_.command_timeout_ms));
    if (!opt_.password.empty())
        run(*c, {"AUTH", opt_.password});
    if (opt_.database != 0)
        run(*c, {"SELECT", std::to_string(opt_.database)});
    return c;
}

void client::release(std::unique_ptr<connection> c) {
    if (c->broken || c->ctx->err) {
        // Redis went away: the other idle connections are most likely stale as well.
        drop_idle();
        return;
    }
    std::lock_guard lock(mu_);
    if (static_cast<int>(idle_.size()) < opt_.pool_size)
        idle_.push_back(std::move(c));
}

void client::drop_idle() {
    std::vector<std::unique_ptr<connection>> gone;
    std::lock_guard lock(mu_);
    gone.swap(idle_);
}

value client::run(connection& c, const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    argv.reserve(args.size());
    lens.reserve(args.size());
    for (const auto& a : args) {
        argv.push_back(a.data());
        lens.push_back(a.size());
    }
    sigpipe_guard no_sigpipe;
    reply_ptr r(static_cast<redisReply*>(
        redisCommandArgv(c.ctx, static_cast<int>(argv.size()), argv.data(), lens.data())));
    if (!r) {
        c.broken = true;
        throw store_error(std::string("redis: ") +
                          (c.ctx->err ? c.ctx->errstr : "connection lost"));
    }
    if (r->type == REDIS_REPLY_ERROR)
        throw server_error("redis: " + std::string(r->str, r->len));
    return copy(*r);
}

value client::command(const std::vector<std::string>& args, bool idempotent) {
    for (int attempt = 0;; ++attempt) {
        std::unique_ptr<connection> c = acquire(); // throws when Redis cannot be reached
        try {
            value v = run(*c, args);
            release(std::move(c));
            return v;
        } catch (const server_error&) {
            release(std::move(c));
            throw;
        } catch (const store_error&) {
            release(std::move(c)); // broken: dropped, with the idle ones
            if (!idempotent || attempt > 0)
                throw;
        }
    }
}

value client::eval(std::string_view script, const std::vector<std::string>& keys,
                   const std::vector<std::string>& args, bool idempotent) {
    std::string sha;
    {
        std::lock_guard lock(mu_);
        if (auto it = shas_.find(script); it != shas_.end())
            sha = it->second;
    }
    for (int attempt = 0;; ++attempt) {
        if (sha.empty()) {
            sha = command({"SCRIPT", "LOAD", std::string(script)}, true).str;
            std::lock_guard lock(mu_);
            shas_.insert_or_assign(std::string(script), sha);
        }
        std::vector<std::string> argv{"EVALSHA", sha, std::to_string(keys.size())};
        argv.insert(argv.end(), keys.begin(), keys.end());
        argv.insert(argv.end(), args.begin(), args.end());
        try {
            return command(argv, idempotent);
        } catch (const server_error& e) {
            // A restarted server forgot its scripts; the script did not run.
            if (attempt > 0 || std::string_view(e.what()).find("NOSCRIPT") == std::string::npos)
                throw;
            sha.clear();
        }
    }
}

bool client::ping() noexcept {
    try {
        return command({"PING"}, true).str == "PONG";
    } catch (...) {
        return false;
    }
}

redis_options options_from_config(const config& cfg, const env_lookup& env, std::string& problem) {
    const auto& st = cfg.store;
    redis_options o;
    o.host = st.host;
    o.port = st.port;
    o.unix_socket = st.unix_socket.empty() ? "" : cfg.resolve(st.unix_socket);
    o.database = st.database;
    o.key_prefix = st.key_prefix;
    o.connect_timeout_ms = st.connect_timeout_ms;
    o.command_timeout_ms = st.command_timeout_ms;
    o.pool_size = st.pool_size;
    if (!st.password_env.empty()) {
        if (auto pw = env(st.password_env))
            o.password = *pw;
        else
            problem = "store.password_env names " + st.password_env +
                      ", which is not set (the Redis password)";
    }
    return o;
}

} // namespace tandem::bot::redis
