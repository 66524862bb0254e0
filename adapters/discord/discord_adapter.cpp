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
    bool deferred = false;  // the handler gave up waiting and answered type 5
    bool acked = false;     // the deferral was written to Discord
    bool delivered = false; // the follow-up delivery was started
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

  private:
    std::weak_ptr<discord_adapter> adapter_;
};

} // namespace

discord_adapter::discord_adapter(net::any_io_executor ex, discord_config cfg,
                                 ed25519_verifier verifier, bot::turn_service& service,
                                 http::http_client& client, std::shared_ptr<http::metrics> stats)
    : ex_(ex), cfg_(std::move(cfg)), verifier_(std::move(verifier)), service_(service),
      api_(client, rest_settings{cfg_.api_base, cfg_.bot_token, cfg_.request_timeout,
                                 cfg_.max_attempts, cfg_.max_retry_wait}),
      stats_(std::move(stats)) {}

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
    bot::turn_result result = co_await service_.handle(std::move(in));
    double secs = std::chrono::duration<double>(clock_type::now() - t0).count();
    if (stats_)
        stats_->record_turn(channel, result.topic, secs, result.error);
    log_turn(st->ix, result, secs);
    bool notify = false, deliver_now = false;
    {
        std::lock_guard lock(st->mu);
        st->result = result;
        if (!st->deferred) {
            notify = true;
        } else if (st->acked && !st->delivered) {
            st->delivered = true;
            deliver_now = true;
        }
    }
    if (notify)
        st->done.try_send(boost::system::error_code{});
    if (deliver_now)
        co_await deliver(st, render_reply(result.reply, cfg_.ephemeral), true);
}

awaitable<void> discord_adapter::deliver(std::shared_ptr<pending_turn> st, std::vector<json> msgs,
                                         bool edit_first) {
    const auto& ix = st->ix;
    for (std::size_t i = 0; i < msgs.size(); ++i) {
        rest_result r;
        if (i == 0 && edit_first)
            r = co_await api_.edit_original(ix.application_id, ix.token, std::move(msgs[i]));
        else
            r = co_await api_.create_followup(ix.application_id, ix.token, std::move(msgs[i]));
        if (!r.ok) {
            if (stats_)
                stats_->count_event(channel, "followup_failed");
            co_return;
        }
    }
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

} // namespace tandem::adapters::discord
