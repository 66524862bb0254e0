#include "adapters/telegram/telegram_adapter.hpp"

#include "adapters/http/text_split.hpp"
#include "bot/conversation_store.hpp"
#include "bot/log.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <charconv>

namespace tandem::adapters::telegram {

using nlohmann::json;
using namespace net::experimental::awaitable_operators;
using clock_type = std::chrono::steady_clock;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

// Where the worker reports a check-in's outcome to the deliver() call waiting for it.
struct telegram_adapter::delivery {
    net::experimental::concurrent_channel<void(boost::system::error_code, bool)> ch;
    explicit delivery(net::any_io_executor ex) : ch(ex, 1) {}
};

namespace {

// Adapter-owned texts for situations the core never sees.
constexpr const char* text_only_note = "I can only read text for now. Could you tell me in words?";
constexpr const char* private_only_note =
    "Our conversations are private, so I only talk in a direct chat. Send me a message there "
    "whenever you like.";

std::int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string log_id(std::int64_t chat_id) {
    return bot::log::log_id(telegram_adapter::channel, std::to_string(chat_id));
}

// Logging lives in plain functions: g++ 12 miscompiles braced JSON initialisers holding
// string literals after a co_await inside a coroutine ("array used as initializer").
void log_rejected(const char* reason, const std::string& remote) {
    bot::log::info("telegram.rejected", {{"reason", reason}, {"remote", remote}});
}

void log_turn(std::int64_t chat_id, const bot::turn_result& result, double secs) {
    bot::log::info("telegram.turn", {{"conversation", log_id(chat_id)},
                                     {"intent", result.intent},
                                     {"dialog", result.dialog},
                                     {"node", result.node},
                                     {"error", result.error},
                                     {"ms", static_cast<std::int64_t>(secs * 1000)}});
}

void log_send_failed(std::int64_t chat_id, const api_result& r) {
    bot::log::warn(
        "telegram.send_failed",
        {{"conversation", log_id(chat_id)}, {"status", r.status}, {"error_code", r.error_code}});
}

// The update log's name for a chat: its id as text ("" for an update of no chat).
std::string conversation_of(std::int64_t chat_id) {
    return chat_id ? std::to_string(chat_id) : std::string();
}

http::http_response retry_later(const char* why) {
    auto res = http::error_response(503, why);
    res.headers.emplace_back("Retry-After", "1");
    return res;
}

void log_dedupe_failed(const std::string& error) {
    bot::log::error("telegram.dedupe_failed", {{"error", error}});
}

std::optional<std::int64_t> chat_of(const std::string& id) {
    std::int64_t v = 0;
    auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), v);
    if (id.empty() || ec != std::errc() || end != id.data() + id.size())
        return std::nullopt;
    return v;
}

// Slash commands go to the core as they are; it knows them on every channel. Only a
// deep link's "/start PAYLOAD" loses its payload, which tandem does not use.
std::string core_text(const std::string& text) {
    if (auto cmd = parse_command(text); cmd && cmd->name == "start")
        return "/start";
    return text;
}

class sink final : public bot::proactive_sink {
  public:
    explicit sink(std::weak_ptr<telegram_adapter> a) : adapter_(std::move(a)) {}
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
    std::weak_ptr<telegram_adapter> adapter_;
};

} // namespace

telegram_adapter::telegram_adapter(net::any_io_executor ex, telegram_config cfg,
                                   bot::turn_service& service, http::http_client& client,
                                   std::shared_ptr<http::metrics> stats,
                                   std::shared_ptr<update_dedupe> dedupe)
    : ex_(ex), cfg_(std::move(cfg)), service_(service),
      api_(client, bot_api_settings{cfg_.api_base, cfg_.token, cfg_.request_timeout,
                                    cfg_.max_attempts, cfg_.max_retry_wait}),
      stats_(std::move(stats)),
      dedupe_(dedupe ? std::move(dedupe) : make_memory_dedupe(cfg_.dedupe_window)) {}

http::route telegram_adapter::route() {
    http::route r;
    r.path = cfg_.path;
    r.methods = {"POST"};
    r.media_types = {"application/json"};
    r.max_body = cfg_.max_body_bytes;
    r.label = cfg_.path;
    std::weak_ptr<telegram_adapter> weak = weak_from_this();
    r.handler = [weak](http::http_request req) -> awaitable<http::http_response> {
        auto self = weak.lock();
        if (!self)
            co_return http::error_response(503, "unavailable");
        co_return co_await self->handle(std::move(req));
    };
    return r;
}

std::shared_ptr<bot::proactive_sink> telegram_adapter::proactive_sink() {
    return std::make_shared<sink>(weak_from_this());
}

std::size_t telegram_adapter::pending() const {
    std::lock_guard lock(mu_);
    return pending_;
}

void telegram_adapter::count(const char* event) {
    if (stats_)
        stats_->count_event(channel, event);
}

awaitable<http::http_response> telegram_adapter::handle(http::http_request req) {
    // Authenticate on the raw request before looking at the body.
    auto token = req.header("X-Telegram-Bot-Api-Secret-Token");
    if (token.empty()) {
        log_rejected("missing_secret", req.remote);
        co_return http::error_response(401, "missing_secret");
    }
    if (!http::secret_equals(token, cfg_.secret)) {
        log_rejected("bad_secret", req.remote);
        co_return http::error_response(403, "bad_secret");
    }
    if (stopping_)
        co_return http::error_response(503, "shutting_down");
    std::string error;
    auto u = parse_update(req.body, error);
    if (!u) {
        bot::log::info("telegram.bad_update", {{"error", error}, {"bytes", req.body.size()}});
        co_return http::error_response(400, error);
    }
    if (u->kind == update_kind::ignored) {
        count("ignored_update");
        co_return http::json_response(200, "{}");
    }
    // Capacity first: an update refused here is retried by Telegram, so it must not be
    // recorded as seen.
    if (!has_room(u->chat_id)) {
        count("busy");
        auto res = http::error_response(503, "busy");
        res.headers.emplace_back("Retry-After", "1");
        co_return res;
    }
    if (cfg_.ack_after_turn)
        co_return co_await handle_after_turn(std::move(*u));
    // The durable inbox: acknowledged only once recorded (with the payload, until answered).
    update_status status = update_status::fresh;
    try {
        // Awaited: the SQLite log commits on its own writer thread, in batches, so the
        // I/O thread serves other connections meanwhile.
        status = co_await dedupe_->async_accept(u->update_id, conversation_of(u->chat_id), req.body,
                                                unix_now());
        store_result("accept", nullptr);
    } catch (const bot::store_error& e) {
        // A full disk or a broken file: refuse rather than acknowledge what could be lost.
        store_result("accept", e.what());
        auto res = http::error_response(503, "store_unavailable");
        res.headers.emplace_back("Retry-After", "5");
        co_return res;
    }
    if (status == update_status::answered ||
        (status == update_status::pending && queued(u->update_id))) {
        count("duplicate_update");
        bot::log::info("telegram.duplicate_update", {{"update_id", u->update_id}});
        co_return http::json_response(200, "{}");
    }
    // Fresh, or recorded but not queued (refused as busy after recording, or redelivered
    // before resume() ran): queue it now.
    std::int64_t chat = u->chat_id;
    job j;
    j.update = std::move(*u);
    if (!enqueue(chat, std::move(j))) {
        auto res = http::error_response(503, "busy");
        res.headers.emplace_back("Retry-After", "1");
        co_return res;
    }
    co_return http::json_response(200, "{}");
}

std::size_t telegram_adapter::resume() {
    std::size_t n = 0;
    if (cfg_.ack_after_turn)
        return n; // no inbox: what got no 200 is redelivered by Telegram
    for (auto& p : dedupe_->unanswered()) {
        std::string error;
        auto u = parse_update(p.payload, error);
        if (!u || u->kind == update_kind::ignored) {
            mark_answered(p.id); // nothing to answer
            continue;
        }
        std::int64_t chat = u->chat_id;
        job j;
        j.update = std::move(*u);
        if (enqueue(chat, std::move(j), /*force=*/true))
            ++n;
    }
    if (n > 0)
        count("resumed_update");
    bot::log::info("telegram.resumed", {{"updates", n}});
    return n;
}

// Acknowledges only once the turn is committed and its reply sent. Whatever fails before
// that answers 503, and Telegram delivers the update again (to this or another instance).
awaitable<http::http_response> telegram_adapter::handle_after_turn(parsed_update u) {
    std::string conversation = conversation_of(u.chat_id);
    auto claimed = update_dedupe::claim_result::repeat;
    try {
        claimed = dedupe_->claim(u.update_id, conversation, unix_now(), cfg_.claim_lease.count());
    } catch (const bot::store_error& e) {
        count("dedupe_failed");
        log_dedupe_failed(e.what());
        co_return retry_later("store_unavailable");
    }
    if (claimed == update_dedupe::claim_result::repeat) {
        count("duplicate_update");
        bot::log::info("telegram.duplicate_update", {{"update_id", u.update_id}});
        co_return http::json_response(200, "{}");
    }
    if (claimed == update_dedupe::claim_result::busy) {
        count("update_in_progress"); // another instance has it (or died holding it)
        co_return retry_later("in_progress");
    }
    auto ex = co_await net::this_coro::executor;
    std::int64_t chat = u.chat_id;
    job j;
    j.update = std::move(u);
    j.done = std::make_shared<delivery>(ex);
    j.ack_after_turn = true;
    auto done = j.done;
    auto update_id = j.update.update_id;
    if (!enqueue(chat, std::move(j))) {
        try {
            dedupe_->release(update_id, conversation);
        } catch (const bot::store_error&) {
            // the claim lapses after its lease
        }
        co_return retry_later("busy");
    }
    // Waits at most half the lease: past it, 503 (the worker still confirms or releases,
    // and the redelivery is answered from that).
    net::steady_timer timer(ex, cfg_.claim_lease / 2);
    auto r = co_await (done->ch.async_receive(use_tuple) || timer.async_wait(use_tuple));
    if (r.index() != 0)
        co_return retry_later("in_progress");
    auto [ec, ok] = std::get<0>(r);
    if (ec || !ok)
        co_return retry_later("turn_failed");
    co_return http::json_response(200, "{}");
}

void telegram_adapter::store_result(const char* what, const char* error) {
    if (!error) {
        if (store_failing_.exchange(false))
            bot::log::info("telegram.store_recovered", {{"during", what}});
        return;
    }
    count("store_failed");
    // Logged once per failing stretch, not once per request.
    if (!store_failing_.exchange(true))
        bot::log::error("telegram.store_failed", {{"during", what}, {"error", error}});
}

bool telegram_adapter::recheck_store() {
    if (!store_failing_)
        return false;
    try {
        dedupe_->probe(unix_now());
        store_result("probe", nullptr);
    } catch (const bot::store_error& e) {
        store_result("probe", e.what());
    }
    return store_failing_;
}

void telegram_adapter::mark_answered(std::int64_t update_id) {
    try {
        // Success says nothing about room for new updates (it frees room), so only a
        // failure changes the store's health here.
        dedupe_->answered(update_id);
    } catch (const bot::store_error& e) {
        // The update stays "unanswered": a restart sends its reply again (at least once).
        store_result("answered", e.what());
    }
}

// The same from a worker: committed with the webhook's accepts, off the I/O thread.
awaitable<void> telegram_adapter::mark_answered_async(std::int64_t update_id) {
    try {
        co_await dedupe_->async_answered(update_id);
    } catch (const bot::store_error& e) {
        store_result("answered", e.what());
    }
}

void telegram_adapter::forgotten_elsewhere(const std::string& conversation_id) {
    std::int64_t chat = 0;
    auto [end, ec] = std::from_chars(conversation_id.data(),
                                     conversation_id.data() + conversation_id.size(), chat);
    if (ec == std::errc() && end == conversation_id.data() + conversation_id.size())
        forget_updates(chat);
}

void telegram_adapter::forget_updates(std::int64_t chat_id) {
    try {
        dedupe_->forget(conversation_of(chat_id));
    } catch (const bot::store_error& e) {
        count("dedupe_failed");
        bot::log::error("telegram.dedupe_forget_failed",
                        {{"conversation", log_id(chat_id)}, {"error", e.what()}});
    }
}

// What the update log learns once a job for an update is over.
awaitable<void> telegram_adapter::finish_update(const job& j, outcome result) {
    const auto& u = j.update;
    if (j.ack_after_turn) {
        // Committed and sent: redeliveries are repeats from now on. Anything else: released,
        // so the redelivery (503 now) runs it, or finds the committed turn's reply.
        try {
            if (result == outcome::done)
                dedupe_->confirm(u.update_id, conversation_of(u.chat_id), unix_now());
            else
                dedupe_->release(u.update_id, conversation_of(u.chat_id));
        } catch (const bot::store_error& e) {
            // The claim lapses; a redelivery then gets the stored reply again, never a
            // second turn (the core's turns are idempotent by update id).
            count("dedupe_failed");
            log_dedupe_failed(e.what());
        }
    } else if (result == outcome::retry && stopping_) {
        // Shutting down mid-outage: left unanswered, so the next start sends it.
        count("reply_deferred");
    } else {
        if (result != outcome::done)
            count("reply_dropped");
        co_await mark_answered_async(u.update_id);
    }
    // "Forget me" leaves no trace: the log of this chat's updates goes too (an update of
    // the chat still waiting in the inbox keeps its record until it is answered).
    if (j.forgotten)
        forget_updates(u.chat_id);
}

bool telegram_adapter::queued(std::int64_t update_id) const {
    std::lock_guard lock(mu_);
    return queued_.count(update_id) > 0;
}

bool telegram_adapter::has_room(std::int64_t chat_id) const {
    std::lock_guard lock(mu_);
    if (pending_ >= cfg_.max_pending)
        return false;
    auto it = chats_.find(chat_id);
    if (it == chats_.end())
        return chats_.size() < cfg_.max_live_chats; // a new chat needs room for its worker
    return it->second.jobs.size() < cfg_.max_queued_per_chat;
}

bool telegram_adapter::enqueue(std::int64_t chat, job j, bool force) {
    bool start = false;
    {
        std::lock_guard lock(mu_);
        auto& q = chats_[chat];
        if (!force && q.jobs.size() >= cfg_.max_queued_per_chat) {
            count("dropped_update");
            bot::log::warn("telegram.queue_full", {{"conversation", log_id(chat)}});
            return false;
        }
        if (!j.push && !queued_.insert(j.update.update_id).second)
            return true; // already queued (a redelivery racing its first delivery)
        q.jobs.push_back(std::move(j));
        ++pending_;
        if (!q.running)
            start = q.running = true;
    }
    if (!start)
        return true;
    // The worker owns a shared_ptr to the adapter; nothing else is captured.
    net::co_spawn(
        ex_, [self = shared_from_this(), chat]() { return self->drain(chat); },
        [chat](std::exception_ptr e) {
            if (!e)
                return;
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                bot::log::error("telegram.worker_failed",
                                {{"conversation", log_id(chat)}, {"error", ex.what()}});
            }
        });
    return true;
}

awaitable<bool> telegram_adapter::deliver(bot::conversation_ref ref, bot::outbound_message msg) {
    auto chat = chat_of(ref.conversation_id);
    if (!chat || stopping_)
        co_return false;
    auto ex = co_await net::this_coro::executor;
    job j;
    j.update.chat_id = *chat;
    j.push = std::move(msg);
    j.done = std::make_shared<delivery>(ex);
    auto done = j.done;
    if (!enqueue(*chat, std::move(j)))
        co_return false;
    // Bounded even when the worker cannot run any more (the server stopped meanwhile).
    auto limit = cfg_.request_timeout * (cfg_.max_attempts + 1) + cfg_.max_retry_wait +
                 cfg_.per_chat_interval * 8;
    net::steady_timer timer(ex, limit);
    auto r = co_await (done->ch.async_receive(use_tuple) || timer.async_wait(use_tuple));
    if (r.index() != 0)
        co_return false;
    auto [ec, ok] = std::get<0>(r);
    co_return !ec && ok;
}

awaitable<void> telegram_adapter::drain(std::int64_t chat_id) {
    auto last = time_point{};
    for (;;) {
        job j;
        {
            std::lock_guard lock(mu_);
            auto& q = chats_[chat_id];
            if (q.jobs.empty()) {
                chats_.erase(chat_id);
                co_return;
            }
            j = std::move(q.jobs.front());
            q.jobs.pop_front();
        }
        // A reply the Bot API refused for a passing reason is tried again in rounds with
        // growing waits; the chat's later updates wait (the queues are bounded).
        outcome result = outcome::failed;
        for (int round = 0;; ++round) {
            std::string failure;
            try {
                result = co_await process(j, last);
            } catch (const std::exception& e) {
                failure = e.what(); // logged once below; the worker goes on with the next job
                result = outcome::failed;
            }
            if (!failure.empty()) {
                count("update_failed");
                bot::log::error("telegram.update_failed",
                                {{"conversation", log_id(chat_id)}, {"error", failure}});
            }
            // Acknowledging after the turn, Telegram's redelivery is the next round.
            if (result != outcome::retry || j.ack_after_turn || round >= cfg_.outage_retry_rounds ||
                stopping_)
                break;
            count("send_retry_round");
            auto wait = std::min<std::chrono::milliseconds>(
                std::chrono::milliseconds(1000) * (std::int64_t{1} << std::min(round, 20)),
                cfg_.outage_backoff_max);
            net::steady_timer t(ex_, wait);
            co_await t.async_wait(use_tuple);
        }
        if (!j.push)
            co_await finish_update(j, result);
        if (j.done)
            j.done->ch.try_send(boost::system::error_code{}, result == outcome::done);
        std::lock_guard lock(mu_);
        if (!j.push)
            queued_.erase(j.update.update_id);
        --pending_;
    }
}

awaitable<telegram_adapter::outcome> telegram_adapter::process(job& j, time_point& last) {
    if (j.push) {
        render_settings settings;
        settings.parse_mode = cfg_.parse_mode;
        co_return co_await send_all(j, render_reply(j.update.chat_id, *j.push, settings), last);
    }
    co_return co_await answer_update(j, last);
}

awaitable<telegram_adapter::outcome> telegram_adapter::answer_update(job& j, time_point& last) {
    const parsed_update& u = j.update;
    if (u.kind == update_kind::callback && !j.callback_answered) {
        // Every press must be answered, or the client keeps showing a spinner.
        json params = json::object();
        params["callback_query_id"] = u.callback_id;
        co_await api_.call(std::string("answerCallbackQuery"), std::move(params));
        j.callback_answered = true;
        if (u.callback_data.empty())
            co_return outcome::done;
    }
    if (cfg_.private_chats_only && !u.chat_type.empty() && u.chat_type != "private") {
        // In a group, answer only what speaks to the bot, so it never chatters there.
        if (u.addressed || u.kind == update_kind::callback)
            co_return co_await send_note(j, private_only_note, last);
        count("group_ignored");
        co_return outcome::done;
    }
    if (u.kind == update_kind::other_message)
        co_return co_await send_note(j, text_only_note, last);
    render_settings settings;
    settings.parse_mode = cfg_.parse_mode;
    if (j.reply) // another round after an outage: the turn already ran
        co_return co_await send_all(j, render_reply(u.chat_id, *j.reply, settings), last);
    bot::inbound_message in;
    in.channel = channel;
    in.conversation_id = std::to_string(u.chat_id);
    in.user_id = std::to_string(u.user_id);
    in.language = u.language;
    in.timestamp = u.date;
    in.platform_message_id = std::to_string(u.update_id);
    if (u.kind == update_kind::callback)
        in.option_id = option_from_callback_data(u.callback_data);
    else
        in.text = core_text(u.text);
    auto t0 = clock_type::now();
    // Idempotent by update id: when this update's turn was committed before (a crash
    // between the commit and the send, or another round after an outage), the core
    // hands back that turn's reply instead of running it again.
    bot::turn_result result = co_await service_.handle(std::move(in));
    double secs = std::chrono::duration<double>(clock_type::now() - t0).count();
    if (result.replayed) {
        count("replayed_turn");
    } else {
        if (stats_)
            stats_->record_turn(channel, result.topic, secs, result.error);
        log_turn(u.chat_id, result, secs);
    }
    if (result.error && j.ack_after_turn)
        co_return outcome::failed; // nothing committed: 503, and the redelivery runs it again
    j.forgotten = result.forgotten;
    if (result.reply.texts.empty() && result.reply.options.empty())
        co_return outcome::done; // answered long ago (later turns followed)
    j.reply = std::move(result.reply);
    co_return co_await send_all(j, render_reply(u.chat_id, *j.reply, settings), last);
}

awaitable<telegram_adapter::outcome> telegram_adapter::send_note(job& j, std::string text,
                                                                 time_point& last) {
    bot::outbound_message note;
    note.texts.push_back(std::move(text));
    render_settings settings;
    settings.parse_mode = cfg_.parse_mode;
    co_return co_await send_all(j, render_reply(j.update.chat_id, note, settings), last);
}

awaitable<telegram_adapter::outcome> telegram_adapter::send_all(job& j, std::vector<json> messages,
                                                                time_point& last) {
    const std::int64_t chat_id = j.update.chat_id;
    // Parts sent in an earlier round are not sent again.
    for (std::size_t i = j.sent; i < messages.size(); ++i) {
        auto& m = messages[i];
        // Telegram asks for at most about one message per second per chat.
        auto next = last + cfg_.per_chat_interval;
        if (next > clock_type::now()) {
            net::steady_timer t(ex_, next);
            co_await t.async_wait(use_tuple);
        }
        auto r = co_await api_.call(std::string("sendMessage"), std::move(m));
        last = clock_type::now();
        if (!r.ok) {
            count("send_failed");
            log_send_failed(chat_id, r);
            // Later parts would read out of context without the failed one. No answer, 429
            // and 5xx pass; anything else (the user blocked the bot, a bad request) will not.
            bool passing = r.status == 0 || r.status == 429 || r.status >= 500;
            co_return passing ? outcome::retry : outcome::failed;
        }
        ++j.sent;
    }
    co_return outcome::done;
}

} // namespace tandem::adapters::telegram
