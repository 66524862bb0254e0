#include "adapters/discord/discord_adapter.hpp"

#include "bot/log.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <charconv>

namespace tandem::adapters::discord {

using nlohmann::json;
using namespace net::experimental::awaitable_operators;
using clock_type = std::chrono::steady_clock;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

// The hand-off between the request handler (which answers within inline_wait) and the
// turn running in the background. All fields but `done` are guarded by mu.
struct discord_adapter::pending_turn {
    interaction ix;
    std::mutex mu;
    std::optional<bot::turn_result> result;
    bool deferred = false;     // the handler gave up waiting and answered type 5
    bool acked = false;        // the deferral was written to Discord
    bool delivered = false;    // the follow-up delivery was started
    bool forgotten = false;    // the turn deleted the conversation ("forget me")
    std::int64_t inbox_id = 0; // the deferral's record in the inbox (0: none)
    net::experimental::concurrent_channel<void(boost::system::error_code)> done;
    explicit pending_turn(net::any_io_executor ex) : done(ex, 1) {}
};

namespace {

// JSON is built outside coroutines: g++ 12 mishandles braced initialisers with string
// literals inside coroutine bodies.
std::string response_body(int type, const json& data) {
    json r = json::object();
    r["type"] = type;
    if (!data.is_null())
        r["data"] = data;
    return r.dump();
}

std::string deferral_body(bool ephemeral) {
    json data = json::object();
    if (ephemeral)
        data["flags"] = 64;
    return response_body(5, data);
}

std::string conversation_log_id(const interaction& ix) {
    return bot::log::log_id(discord_adapter::channel, ix.user_id);
}

void log_rejected(const char* reason, const std::string& remote) {
    bot::log::info("discord.rejected", {{"reason", reason}, {"remote", remote}});
}

void log_turn(const interaction& ix, const bot::turn_result& r, double secs) {
    bot::log::info("discord.turn", {{"conversation", conversation_log_id(ix)},
                                    {"intent", r.intent},
                                    {"dialog", r.dialog},
                                    {"node", r.node},
                                    {"error", r.error},
                                    {"ms", static_cast<std::int64_t>(secs * 1000)}});
}

constexpr const char* unknown_note = "I don't know that one. Try /reflect to talk with me.";

// An interaction token lives 15 minutes; keep a margin for the calls themselves.
constexpr auto token_life = std::chrono::minutes(14);

std::int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// Interaction ids are snowflakes (decimal, below 2^63): the inbox's key.
std::optional<std::int64_t> snowflake(const std::string& id) {
    std::int64_t v = 0;
    auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), v);
    if (ec != std::errc() || end != id.data() + id.size() || v <= 0)
        return std::nullopt;
    return v;
}

// An inbox record: what finishing the interaction after a restart needs. Holds the user's
// text until the follow-up is sent (then the inbox drops it).
std::string inbox_record(const interaction& ix, const bot::inbound_message& in, std::int64_t now) {
    json r = json::object();
    r["v"] = 1;
    r["application_id"] = ix.application_id;
    r["token"] = ix.token;
    r["user_id"] = ix.user_id;
    r["locale"] = ix.locale;
    r["text"] = in.text;
    r["option_id"] = in.option_id;
    r["received"] = now;
    return r.dump();
}

struct stored_deferral {
    interaction ix;
    bot::inbound_message in;
    std::int64_t received = 0;
};

// nullopt when the record is not one this version wrote (corrupt, or from the future).
std::optional<stored_deferral> parse_record(std::int64_t id, const std::string& payload) {
    auto j = json::parse(payload, nullptr, false);
    if (!j.is_object() || !j.contains("v") || j["v"] != 1)
        return std::nullopt;
    auto text_field = [&](const char* name, bool required) -> std::optional<std::string> {
        auto it = j.find(name);
        if (it == j.end() || !it->is_string())
            return std::nullopt;
        auto v = it->get<std::string>();
        if (required && v.empty())
            return std::nullopt;
        return v;
    };
    auto app = text_field("application_id", true);
    auto token = text_field("token", true);
    auto user = text_field("user_id", true);
    auto locale = text_field("locale", false);
    auto text = text_field("text", false);
    auto option = text_field("option_id", false);
    auto received = j.find("received");
    if (!app || !token || !user || !locale || !text || !option || received == j.end() ||
        !received->is_number_integer() || (text->empty() && option->empty()))
        return std::nullopt;
    stored_deferral d;
    d.ix.id = std::to_string(id);
    d.ix.application_id = *app;
    d.ix.token = *token;
    d.ix.user_id = *user;
    d.ix.locale = *locale;
    d.in.channel = discord_adapter::channel;
    d.in.conversation_id = *user;
    d.in.user_id = *user;
    d.in.language = *locale;
    d.in.platform_message_id = d.ix.id;
    d.in.text = *text;
    d.in.option_id = *option;
    d.received = received->get<std::int64_t>();
    return d;
}

bool is_core_command(const std::string& name) {
    for (const auto& c : core_commands())
        if (c.name == name)
            return true;
    return false;
}

class sink final : public bot::proactive_sink {
  public:
    explicit sink(std::weak_ptr<discord_adapter> a) : adapter_(std::move(a)) {}
    awaitable<bool> deliver(bot::conversation_ref ref, bot::outbound_message msg) override {
        auto a = adapter_.lock();
        if (!a)
            co_return false;
        co_return co_await a->deliver(std::move(ref), std::move(msg));
    }
    void forgotten(const bot::conversation_ref& ref) override {
        if (auto a = adapter_.lock())
            a->forgotten_elsewhere(ref.conversation_id);
    }

  private:
    std::weak_ptr<discord_adapter> adapter_;
};

} // namespace

discord_adapter::discord_adapter(net::any_io_executor ex, discord_config cfg,
                                 ed25519_verifier verifier, bot::turn_service& service,
                                 http::http_client& client, std::shared_ptr<http::metrics> stats,
                                 std::shared_ptr<bot::message_log> inbox)
    : ex_(ex), cfg_(std::move(cfg)), verifier_(std::move(verifier)), service_(service),
      api_(client, rest_settings{cfg_.api_base, cfg_.bot_token, cfg_.request_timeout,
                                 cfg_.max_attempts, cfg_.max_retry_wait}),
      stats_(std::move(stats)), inbox_(std::move(inbox)) {}

http::route discord_adapter::route() {
    http::route r;
    r.path = cfg_.path;
    r.methods = {"POST"};
    r.media_types = {"application/json"};
    r.max_body = cfg_.max_body_bytes;
    r.label = cfg_.path;
    std::weak_ptr<discord_adapter> weak = weak_from_this();
    r.handler = [weak](http::http_request req) -> awaitable<http::http_response> {
        auto self = weak.lock();
        if (!self)
            co_return http::error_response(503, "unavailable");
        co_return co_await self->handle(std::move(req));
    };
    return r;
}

awaitable<http::http_response> discord_adapter::handle(http::http_request req) {
    // Verify the raw bytes before parsing anything.
    auto sig = req.header("X-Signature-Ed25519");
    auto ts = req.header("X-Signature-Timestamp");
    if (sig.empty() || ts.empty()) {
        log_rejected("missing_signature", req.remote);
        co_return http::error_response(401, "missing_signature");
    }
    if (!verifier_.verify(sig, ts, req.body)) {
        log_rejected("bad_signature", req.remote);
        co_return http::error_response(401, "bad_signature");
    }
    std::int64_t when = 0;
    auto [end, ec] = std::from_chars(ts.data(), ts.data() + ts.size(), when);
    auto now = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    if (ec != std::errc() || end != ts.data() + ts.size() ||
        std::abs(now - when) > cfg_.timestamp_tolerance.count()) {
        log_rejected("stale_timestamp", req.remote);
        co_return http::error_response(401, "stale_timestamp");
    }
    std::string error;
    auto ix = parse_interaction(req.body, error);
    if (!ix) {
        bot::log::info("discord.bad_interaction", {{"error", error}});
        co_return http::error_response(400, error);
    }
    if (ix->kind == interaction_kind::ping)
        co_return http::json_response(200, response_body(1, nullptr));
    if (stopping_)
        co_return http::error_response(503, "shutting_down");

    remember_token(*ix);
    bot::inbound_message in;
    in.channel = channel;
    in.conversation_id = ix->user_id;
    in.user_id = ix->user_id;
    in.language = ix->locale;
    in.platform_message_id = ix->id;
    switch (ix->kind) {
    case interaction_kind::command:
        if (ix->command_name == cfg_.command_name)
            in.text = ix->text.empty() ? "hi" : ix->text;
        else if (is_core_command(ix->command_name))
            in.text = "/" + ix->command_name + (ix->text.empty() ? "" : " " + ix->text);
        else
            break;
        co_return co_await start_turn(std::move(*ix), std::move(in));
    case interaction_kind::component:
        if (ix->custom_id == answer_button_id)
            co_return http::json_response(200, answer_modal().dump());
        if (ix->custom_id.rfind("o:", 0) != 0)
            break;
        in.option_id = ix->custom_id.substr(2);
        co_return co_await start_turn(std::move(*ix), std::move(in));
    case interaction_kind::modal_submit:
        if (ix->custom_id != answer_modal_id || ix->text.empty())
            break;
        in.text = ix->text;
        co_return co_await start_turn(std::move(*ix), std::move(in));
    default:
        break;
    }
    co_return http::json_response(200, response_body(4, text_message(unknown_note, true)));
}

void discord_adapter::remember_token(const interaction& ix) {
    auto now = clock_type::now();
    std::lock_guard lock(tokens_mu_);
    if (tokens_.size() >= 4096)
        std::erase_if(tokens_,
                      [&](const auto& kv) { return now - kv.second.received > token_life; });
    tokens_[ix.user_id] = token_entry{ix.application_id, ix.token, now};
}

std::shared_ptr<bot::proactive_sink> discord_adapter::proactive_sink() {
    return std::make_shared<sink>(weak_from_this());
}

awaitable<bool> discord_adapter::deliver(bot::conversation_ref ref, bot::outbound_message msg) {
    if (stopping_ || ref.conversation_id.empty())
        co_return false;
    std::optional<token_entry> fresh;
    {
        std::lock_guard lock(tokens_mu_);
        if (auto it = tokens_.find(ref.conversation_id);
            it != tokens_.end() && clock_type::now() - it->second.received < token_life)
            fresh = it->second;
    }
    if (fresh) {
        // A follow-up on the user's latest interaction: private (ephemeral) like the rest.
        for (auto& m : render_reply(msg, cfg_.ephemeral)) {
            auto r =
                co_await api_.create_followup(fresh->application_id, fresh->token, std::move(m));
            if (!r.ok)
                co_return false;
        }
        co_return true;
    }
    if (cfg_.bot_token.empty())
        co_return false; // no way to reach the user once the token expired
    auto channel_id = co_await api_.open_dm(ref.conversation_id);
    if (channel_id.empty())
        co_return false;
    for (auto& m : render_reply(msg, false)) { // DMs cannot be ephemeral; they are private
        auto r = co_await api_.create_message(channel_id, std::move(m));
        if (!r.ok)
            co_return false;
    }
    co_return true;
}

awaitable<http::http_response> discord_adapter::start_turn(interaction ix,
                                                           bot::inbound_message in) {
    auto self = shared_from_this();
    auto st = std::make_shared<pending_turn>(ex_);
    st->ix = std::move(ix);
    spawn([self, st, in]() { return self->run_turn(st, in); }, "turn");

    // Wait for the turn, but never past inline_wait: Discord wants an answer within 3 s.
    net::steady_timer timer(ex_, cfg_.inline_wait);
    co_await (st->done.async_receive(use_tuple) || timer.async_wait(use_tuple));
    std::optional<bot::turn_result> result;
    {
        std::lock_guard lock(st->mu);
        if (st->result)
            result = st->result;
        else
            st->deferred = true;
    }
    if (!result) {
        if (stats_)
            stats_->count_event(channel, "deferred");
        // Durable before Discord hears of the deferral: a crash from here on is finished
        // by the next start (resume()).
        co_await record_deferral(st, in);
        http::http_response res = http::json_response(200, deferral_body(cfg_.ephemeral));
        res.on_sent = [self, st](bool) {
            self->on_deferral_sent(st);
        };
        co_return res;
    }
    auto msgs = render_reply(result->reply, cfg_.ephemeral);
    http::http_response res = http::json_response(200, response_body(4, msgs.front()));
    if (msgs.size() > 1) {
        msgs.erase(msgs.begin());
        res.on_sent = [self, st, msgs](bool written) {
            if (written)
                self->spawn([self, st, msgs]() { return self->deliver(st, msgs, false); },
                            "followup");
        };
    }
    co_return res;
}

void discord_adapter::on_deferral_sent(std::shared_ptr<pending_turn> st) {
    std::optional<bot::turn_result> result;
    {
        std::lock_guard lock(st->mu);
        st->acked = true;
        if (st->result && !st->delivered) {
            st->delivered = true;
            result = st->result;
        }
    }
    if (result) {
        auto self = shared_from_this();
        auto msgs = render_reply(result->reply, cfg_.ephemeral);
        spawn([self, st, msgs]() { return self->deliver(st, msgs, true); }, "followup");
    }
}

awaitable<void> discord_adapter::run_turn(std::shared_ptr<pending_turn> st,
                                          bot::inbound_message in) {
    auto t0 = clock_type::now();
    // Idempotent by interaction id: a turn committed before a crash is not run again by
    // resume(); the core hands back its reply.
    bot::turn_result result = co_await service_.handle(std::move(in));
    double secs = std::chrono::duration<double>(clock_type::now() - t0).count();
    if (result.replayed) {
        if (stats_)
            stats_->count_event(channel, "replayed_turn");
    } else {
        if (stats_)
            stats_->record_turn(channel, result.topic, secs, result.error);
        log_turn(st->ix, result, secs);
    }
    bool notify = false, deliver_now = false;
    std::int64_t own_record = 0;
    {
        std::lock_guard lock(st->mu);
        st->result = result;
        st->forgotten = result.forgotten;
        own_record = st->inbox_id;
        if (!st->deferred) {
            notify = true;
        } else if (st->acked && !st->delivered) {
            st->delivered = true;
            deliver_now = true;
        }
    }
    // "Forget me": the user's records go too (this interaction's own, if any, once its
    // follow-up is sent).
    if (result.forgotten)
        forget_records(st->ix.user_id, own_record);
    if (notify)
        st->done.try_send(boost::system::error_code{});
    if (!deliver_now)
        co_return;
    if (result.replayed && result.reply.texts.empty() && result.reply.options.empty())
        co_await inbox_answered(st); // delivered long ago: later turns followed
    else
        co_await deliver(st, render_reply(result.reply, cfg_.ephemeral), true);
}

awaitable<void> discord_adapter::deliver(std::shared_ptr<pending_turn> st, std::vector<json> msgs,
                                         bool edit_first) {
    const auto& ix = st->ix;
    bool finished = true; // nothing a restart could still do for this interaction
    for (std::size_t i = 0; i < msgs.size(); ++i) {
        rest_result r;
        if (i == 0 && edit_first)
            r = co_await api_.edit_original(ix.application_id, ix.token, std::move(msgs[i]));
        else
            r = co_await api_.create_followup(ix.application_id, ix.token, std::move(msgs[i]));
        if (!r.ok) {
            if (stats_)
                stats_->count_event(channel, "followup_failed");
            // The PATCH @original itself got no answer, a 5xx or a 429 after every retry:
            // the record stays, and the next start tries again while the token lasts. A 4xx
            // (404 unknown interaction, 401 expired token) is final.
            if (i == 0 && edit_first && (r.status == 0 || r.status >= 500 || r.status == 429))
                finished = false;
            break;
        }
    }
    if (edit_first && finished)
        co_await inbox_answered(st);
}

awaitable<void> discord_adapter::record_deferral(std::shared_ptr<pending_turn> st,
                                                 const bot::inbound_message& in) {
    if (!inbox_)
        co_return;
    auto id = snowflake(st->ix.id);
    if (!id) {
        inbox_result("record", "the interaction id is not a snowflake");
        co_return;
    }
    auto now = unix_now();
    std::string payload = inbox_record(st->ix, in, now);
    bool ok = false;
    try {
        // On the inbox's writer thread, committed with whatever else is queued.
        co_await inbox_->async_accept(*id, st->ix.user_id, payload, now);
        ok = true;
    } catch (const bot::store_error& e) {
        // Still deferred and still finished by this process; only a crash before the
        // follow-up would lose it now. Logged once per failing stretch.
        inbox_result("record", e.what());
    }
    if (!ok)
        co_return;
    inbox_result("record", nullptr);
    std::lock_guard lock(st->mu);
    st->inbox_id = *id;
}

awaitable<void> discord_adapter::inbox_answered(std::shared_ptr<pending_turn> st) {
    std::int64_t id = 0;
    bool forgotten = false;
    {
        std::lock_guard lock(st->mu);
        id = std::exchange(st->inbox_id, 0);
        forgotten = st->forgotten;
    }
    if (!inbox_ || id == 0)
        co_return;
    bool ok = false;
    try {
        // The text is dropped (overwritten: secure_delete); the id goes with the pruning.
        co_await inbox_->async_answered(id);
        ok = true;
    } catch (const bot::store_error& e) {
        // The record stays: a restart within the token's life sends the reply again.
        inbox_result("answered", e.what());
    }
    if (ok && forgotten)
        forget_records(st->ix.user_id, 0);
}

std::size_t discord_adapter::resume(std::int64_t now) {
    if (!inbox_)
        return 0;
    std::vector<bot::logged_message> left;
    try {
        left = inbox_->unanswered();
    } catch (const bot::store_error& e) {
        bot::log::error("discord.inbox_unreadable", {{"error", e.what()}});
        return 0;
    }
    auto drop = [this](const bot::logged_message& p) {
        try {
            inbox_->release(p.id, p.conversation);
        } catch (const bot::store_error& e) {
            inbox_result("drop", e.what());
        }
    };
    const auto life = std::chrono::duration_cast<std::chrono::seconds>(token_life).count();
    std::vector<std::shared_ptr<pending_turn>> turns;
    std::vector<bot::inbound_message> messages;
    std::size_t expired = 0;
    for (const auto& p : left) {
        auto rec = parse_record(p.id, p.payload);
        if (!rec) {
            bot::log::warn("discord.inbox_bad_record", {{"id", p.id}});
            if (stats_)
                stats_->count_event(channel, "inbox_bad_record");
            drop(p);
            continue;
        }
        if (now - rec->received >= life) {
            ++expired; // the token is (nearly) dead: Discord would refuse the follow-up
            drop(p);
            continue;
        }
        auto st = std::make_shared<pending_turn>(ex_);
        st->ix = std::move(rec->ix);
        st->deferred = true; // Discord got the deferral before the crash
        st->acked = true;
        st->inbox_id = p.id;
        turns.push_back(std::move(st));
        messages.push_back(std::move(rec->in));
    }
    if (expired > 0) {
        bot::log::info("discord.inbox_expired", {{"dropped", expired}});
        if (stats_)
            stats_->count_event(channel, "inbox_expired");
    }
    bot::log::info("discord.resumed", {{"interactions", turns.size()}});
    std::size_t n = turns.size();
    if (n > 0) {
        if (stats_)
            stats_->count_event(channel, "resumed_interaction");
        auto self = shared_from_this();
        spawn([self, turns = std::move(turns),
               messages = std::move(messages)]() { return self->replay(turns, messages); },
              "replay");
    }
    return n;
}

// In order (oldest interaction first), one at a time.
awaitable<void> discord_adapter::replay(std::vector<std::shared_ptr<pending_turn>> turns,
                                        std::vector<bot::inbound_message> messages) {
    for (std::size_t i = 0; i < turns.size(); ++i)
        co_await run_turn(turns[i], std::move(messages[i]));
}

void discord_adapter::forgotten_elsewhere(const std::string& user_id) {
    forget_records(user_id, 0);
}

void discord_adapter::forget_records(const std::string& user_id, std::int64_t keep_id) {
    if (!inbox_ || user_id.empty())
        return;
    try {
        inbox_->forget(user_id); // the answered ones
        for (const auto& p : inbox_->unanswered())
            if (p.conversation == user_id && p.id != keep_id)
                inbox_->release(p.id, user_id);
    } catch (const bot::store_error& e) {
        if (stats_)
            stats_->count_event(channel, "inbox_failed");
        bot::log::error(
            "discord.inbox_forget_failed",
            {{"conversation", bot::log::log_id(channel, user_id)}, {"error", e.what()}});
    }
}

void discord_adapter::inbox_result(const char* during, const char* error) {
    if (!error) {
        if (inbox_failing_.exchange(false))
            bot::log::info("discord.inbox_recovered", {{"during", during}});
        return;
    }
    if (stats_)
        stats_->count_event(channel, "inbox_failed");
    // Logged once per failing stretch, not once per interaction.
    if (!inbox_failing_.exchange(true))
        bot::log::error("discord.inbox_failed", {{"during", during}, {"error", error}});
}

void discord_adapter::spawn(std::function<awaitable<void>()> work, const char* what) {
    ++pending_;
    auto self = shared_from_this();
    net::co_spawn(ex_, std::move(work), [self, what](std::exception_ptr e) {
        --self->pending_;
        if (!e)
            return;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& ex) {
            bot::log::error("discord.task_failed", {{"task", what}, {"error", ex.what()}});
        }
    });
}

std::shared_ptr<bot::message_log> make_sqlite_inbox(const std::string& path,
                                                    std::int64_t max_bytes) {
    bot::sqlite_log_options o;
    o.path = path;
    o.table = "discord_inbox";
    o.what = "Discord inbox";
    o.retention_seconds = 15 * 60; // an interaction token lives 15 minutes
    o.prune_every = 1;             // few records: a stale one never waits for 256 more
    o.max_bytes = max_bytes;
    return bot::make_sqlite_message_log(o);
}

} // namespace tandem::adapters::discord
