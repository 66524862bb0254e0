#include "adapters/widget/widget_hub.hpp"

#include "bot/log.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <stdexcept>

namespace tandem::adapters::widget {

namespace {

constexpr std::size_t seen_limit = 512; // client message ids remembered per session

std::int64_t system_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string system_random(std::size_t n) {
    std::string out(n, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1)
        throw std::runtime_error("no randomness available for session ids");
    return out;
}

std::string base64url(const std::string& bytes) {
    static const char* abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    std::uint32_t acc = 0;
    int bits = 0;
    for (unsigned char c : bytes) {
        acc = (acc << 8) | c;
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out += abc[(acc >> bits) & 0x3F];
        }
    }
    if (bits > 0)
        out += abc[(acc << (6 - bits)) & 0x3F];
    return out;
}

std::string hex(const std::string& bytes) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
        out += digits[c >> 4];
        out += digits[c & 0xF];
    }
    return out;
}

nlohmann::json options_json(const std::vector<bot::reply_option>& options) {
    auto arr = nlohmann::json::array();
    for (const auto& o : options)
        arr.push_back({{"id", o.id}, {"label", o.label}});
    return arr;
}

} // namespace

struct widget_hub::session {
    std::string id;
    std::string conversation_id;
    std::string language;
    std::deque<nlohmann::json> history; // user and bot frames, oldest first
    std::uint64_t next_seq = 1;
    std::unordered_map<std::string, std::uint64_t> seen; // client_msg_id -> seq
    std::deque<std::string> seen_order;
    std::vector<bot::reply_option> options; // offered by the latest bot message
    std::vector<std::shared_ptr<subscriber>> subs;
    std::int64_t last_active = 0;
    std::deque<std::int64_t> recent; // times of recent user messages (rate limit)
    int turns_running = 0;
};

widget_hub::widget_hub(widget_config cfg, bot::turn_service& service, clock_fn now,
                       random_fn random)
    : cfg_(std::move(cfg)), service_(service), now_(now ? std::move(now) : system_now),
      random_(random ? std::move(random) : system_random) {}

widget_hub::~widget_hub() {
    close_all();
}

std::string widget_hub::new_session_id() {
    for (;;) {
        auto id = base64url(random_(24)); // 192 bits, 32 characters
        if (!sessions_.count(id))
            return id;
    }
}

nlohmann::json widget_hub::ready_frame(const session& s, bool resumed, std::uint64_t first,
                                       bool reset, bool gap) const {
    nlohmann::json f = {{"type", "ready"},
                        {"session_id", s.id},
                        {"resumed", resumed},
                        {"first_seq", first},
                        {"last_seq", s.next_seq - 1}};
    if (reset)
        f["reset"] = true;
    if (gap)
        f["gap"] = true;
    return f;
}

std::uint64_t widget_hub::append(session& s, nlohmann::json frame) {
    auto seq = s.next_seq++;
    frame["seq"] = seq;
    s.history.push_back(std::move(frame));
    while (s.history.size() > cfg_.history_limit)
        s.history.pop_front();
    broadcast(s, s.history.back());
    return seq;
}

void widget_hub::broadcast(session& s, const nlohmann::json& frame) {
    std::vector<std::shared_ptr<subscriber>> dropped;
    for (const auto& sub : s.subs)
        if (!sub->push(frame))
            dropped.push_back(sub);
    for (const auto& sub : dropped) {
        std::erase(s.subs, sub);
        sub->detached(s.id);
        bot::log::info("widget.subscriber_dropped", {{"reason", "behind"}});
    }
}

void widget_hub::set_typing(session& s, int delta) {
    bool was = s.turns_running > 0;
    s.turns_running = std::max(0, s.turns_running + delta);
    bool is = s.turns_running > 0;
    if (was != is)
        broadcast(s, {{"type", "typing"}, {"on", is}});
}

std::optional<widget_hub::snapshot> widget_hub::take_snapshot(const session& s) const {
    if (!backup_)
        return std::nullopt;
    nlohmann::json seen = nlohmann::json::array();
    for (const auto& id : s.seen_order)
        if (auto it = s.seen.find(id); it != s.seen.end())
            seen.push_back({id, it->second});
    nlohmann::json d = {{"conversation_id", s.conversation_id},
                        {"language", s.language},
                        {"next_seq", s.next_seq},
                        {"history", nlohmann::json(s.history)},
                        {"seen", std::move(seen)},
                        {"options", options_json(s.options)},
                        {"last_active", s.last_active}};
    return snapshot{s.id, s.next_seq, d.dump()};
}

void widget_hub::save_snapshot(const std::optional<snapshot>& snap) {
    if (!snap || !backup_)
        return;
    try {
        backup_->save(snap->id, snap->next_seq, snap->data, cfg_.session_idle_seconds);
    } catch (const bot::store_error& e) {
        // The session goes on here; only a resume on another instance would miss this.
        bot::log::warn("widget.backup_failed", {{"error", e.what()}});
    }
}

void widget_hub::erase_backup(const std::string& session_id) {
    if (!backup_)
        return;
    try {
        backup_->erase(session_id);
    } catch (const bot::store_error& e) {
        // It expires after session_idle_seconds anyway.
        bot::log::warn("widget.backup_failed", {{"error", e.what()}});
    }
}

std::shared_ptr<widget_hub::session> widget_hub::restore(const std::string& session_id,
                                                         const std::string& data) {
    auto d = nlohmann::json::parse(data, nullptr, false);
    if (!d.is_object())
        return nullptr;
    try {
        auto s = std::make_shared<session>();
        s->id = session_id;
        s->conversation_id = d.at("conversation_id").get<std::string>();
        s->language = d.value("language", "");
        s->next_seq = d.at("next_seq").get<std::uint64_t>();
        for (const auto& f : d.at("history"))
            s->history.push_back(f);
        for (const auto& e : d.at("seen")) {
            auto id = e.at(0).get<std::string>();
            s->seen[id] = e.at(1).get<std::uint64_t>();
            s->seen_order.push_back(id);
        }
        for (const auto& o : d.at("options"))
            s->options.push_back({o.at("id").get<std::string>(), o.at("label").get<std::string>()});
        s->last_active = now_();
        return s;
    } catch (const std::exception&) {
        return nullptr;
    }
}

widget_hub::opened widget_hub::start(const std::string& language, std::shared_ptr<subscriber> sub) {
    std::unique_lock lock(mu_);
    if (sessions_.size() >= cfg_.max_sessions) {
        lock.unlock();
        sweep();
        lock.lock();
        if (sessions_.size() >= cfg_.max_sessions) {
            bot::log::warn("widget.sessions_full", {{"max_sessions", cfg_.max_sessions}});
            return {"busy", {}};
        }
    }
    auto s = std::make_shared<session>();
    s->id = new_session_id();
    s->conversation_id = hex(random_(16));
    s->language = language;
    s->last_active = now_();
    sessions_[s->id] = s;
    by_conversation_[s->conversation_id] = s->id;
    opened out{"", ready_frame(*s, false, 1, false, false)};
    if (sub && sub->push(out.ready))
        s->subs.push_back(std::move(sub));
    bot::log::debug("widget.session_started",
                    {{"conversation", bot::log::log_id("widget", s->conversation_id)}});
    auto snap = take_snapshot(*s);
    lock.unlock();
    save_snapshot(snap);
    return out;
}

widget_hub::opened widget_hub::resume(const std::string& session_id, std::uint64_t last_seq,
                                      std::shared_ptr<subscriber> sub, bool announce) {
    std::unique_lock lock(mu_);
    auto it = sessions_.find(session_id);
    if (it == sessions_.end() && backup_) {
        // Not here: maybe started on another instance that went away.
        lock.unlock();
        std::optional<std::string> data;
        try {
            data = backup_->load(session_id);
        } catch (const bot::store_error& e) {
            bot::log::warn("widget.backup_failed", {{"error", e.what()}});
        }
        auto restored = data ? restore(session_id, *data) : nullptr;
        lock.lock();
        it = sessions_.find(session_id);
        if (it == sessions_.end() && restored) {
            by_conversation_[restored->conversation_id] = session_id;
            it = sessions_.emplace(session_id, std::move(restored)).first;
            bot::log::info("widget.session_restored", {});
        }
    }
    if (it == sessions_.end())
        return {"unknown_session", {}};
    auto& s = *it->second;
    s.last_active = now_();
    std::uint64_t latest = s.next_seq - 1;
    std::uint64_t first =
        s.history.empty() ? s.next_seq : s.history.front()["seq"].get<std::uint64_t>();
    // A client ahead of the server holds another history: it must start over from ours.
    bool reset = last_seq > latest;
    std::uint64_t from = reset ? 0 : last_seq;
    bool gap = from + 1 < first && from < latest;
    opened out{"", ready_frame(s, true, first, reset, gap)};
    if (!sub)
        return out;
    bool ok = !announce || sub->push(out.ready);
    for (const auto& f : s.history)
        if (ok && f["seq"].get<std::uint64_t>() > from)
            ok = sub->push(f);
    if (ok && s.turns_running > 0)
        ok = sub->push({{"type", "typing"}, {"on", true}});
    if (ok)
        s.subs.push_back(std::move(sub));
    else
        sub->detached(s.id);
    return out;
}

void widget_hub::detach(const std::string& session_id, const subscriber* sub) {
    std::lock_guard lock(mu_);
    auto it = sessions_.find(session_id);
    if (it == sessions_.end())
        return;
    auto& subs = it->second->subs;
    std::erase_if(subs, [&](const auto& p) { return p.get() == sub; });
    it->second->last_active = now_();
}

widget_hub::accepted widget_hub::accept(const std::string& session_id,
                                        const std::string& client_msg_id, const std::string& text,
                                        const std::string& option_id) {
    std::unique_lock lock(mu_);
    accepted out;
    auto it = sessions_.find(session_id);
    if (it == sessions_.end()) {
        out.error = "unknown_session";
        return out;
    }
    auto& s = *it->second;
    auto now = now_();
    s.last_active = now;
    if (auto seen = s.seen.find(client_msg_id); seen != s.seen.end()) {
        out.duplicate = true;
        out.seq = seen->second;
        out.ack = {{"type", "ack"},
                   {"client_msg_id", client_msg_id},
                   {"seq", out.seq},
                   {"duplicate", true}};
        return out;
    }
    while (!s.recent.empty() && s.recent.front() <= now - 60)
        s.recent.pop_front();
    if (s.recent.size() >= static_cast<std::size_t>(cfg_.messages_per_minute)) {
        out.error = "slow_down";
        return out;
    }
    std::string shown = text;
    if (!option_id.empty()) {
        auto opt = std::find_if(s.options.begin(), s.options.end(),
                                [&](const auto& o) { return o.id == option_id; });
        if (opt == s.options.end()) {
            out.error = "unknown_option";
            return out;
        }
        shown = opt->label;
    }
    s.recent.push_back(now);
    nlohmann::json user = {{"type", "user"}, {"client_msg_id", client_msg_id}, {"text", shown}};
    if (!option_id.empty())
        user["option_id"] = option_id;
    out.seq = append(s, std::move(user));
    s.seen[client_msg_id] = out.seq;
    s.seen_order.push_back(client_msg_id);
    while (s.seen_order.size() > seen_limit) {
        s.seen.erase(s.seen_order.front());
        s.seen_order.pop_front();
    }
    s.options.clear(); // answered: the buttons of the last message are spent
    set_typing(s, +1);
    out.ack = {
        {"type", "ack"}, {"client_msg_id", client_msg_id}, {"seq", out.seq}, {"duplicate", false}};
    out.turn.channel = "widget";
    out.turn.conversation_id = s.conversation_id;
    out.turn.user_id = s.conversation_id;
    out.turn.text = option_id.empty() ? text : std::string();
    out.turn.option_id = option_id;
    out.turn.platform_message_id = client_msg_id;
    out.turn.language = s.language;
    out.turn.timestamp = now;
    auto snap = take_snapshot(s);
    lock.unlock();
    save_snapshot(snap);
    return out;
}

boost::asio::awaitable<void> widget_hub::run(std::string session_id, bot::inbound_message turn) {
    bot::turn_result r;
    try {
        r = co_await service_.handle(turn);
    } catch (const std::exception& e) {
        bot::log::error("widget.turn_failed", {{"error", e.what()}});
        r.error = true;
        r.reply.texts = {"Sorry, something went wrong on my side. Could you say that again?"};
    }
    std::unique_lock lock(mu_);
    auto it = sessions_.find(session_id);
    if (it == sessions_.end())
        co_return; // forgotten while the turn ran
    auto& s = *it->second;
    s.last_active = now_();
    if (r.forgotten) {
        // "forget me" typed in the chat: the core deleted its state; the widget forgets the
        // session and its history too, and shows the bot's confirmation on a clean page.
        drop_session(it, {{"type", "forgotten"}, {"texts", r.reply.texts}});
        lock.unlock();
        erase_backup(session_id);
        co_return;
    }
    nlohmann::json bot = {{"type", "bot"},
                          {"texts", r.reply.texts},
                          {"options", options_json(r.reply.options)},
                          {"end", r.reply.end},
                          {"reply_to", turn.platform_message_id}};
    s.options = r.reply.options;
    append(s, std::move(bot));
    set_typing(s, -1);
    auto snap = take_snapshot(s);
    lock.unlock();
    save_snapshot(snap);
}

boost::asio::awaitable<bool> widget_hub::forget(std::string session_id) {
    bot::conversation_ref ref;
    {
        std::lock_guard lock(mu_);
        auto it = sessions_.find(session_id);
        if (it == sessions_.end())
            co_return false;
        ref = {"widget", it->second->conversation_id, it->second->conversation_id};
        drop_session(it);
    }
    erase_backup(session_id);
    co_await service_.forget(ref);
    bot::log::info("widget.forgotten",
                   {{"conversation", bot::log::log_id("widget", ref.conversation_id)}});
    co_return true;
}

bool widget_hub::forgotten_elsewhere(const std::string& conversation_id) {
    std::string session_id;
    {
        std::lock_guard lock(mu_);
        auto c = by_conversation_.find(conversation_id);
        if (c == by_conversation_.end())
            return false;
        auto it = sessions_.find(c->second);
        if (it == sessions_.end())
            return false;
        session_id = it->first;
        drop_session(it);
    }
    erase_backup(session_id);
    bot::log::info("widget.forgotten",
                   {{"conversation", bot::log::log_id("widget", conversation_id)}});
    return true;
}

void widget_hub::drop_session(session_map::iterator it, const nlohmann::json& frame) {
    auto& s = *it->second;
    auto subs = std::move(s.subs);
    for (const auto& sub : subs) {
        sub->push(frame);
        sub->detached(s.id);
    }
    by_conversation_.erase(s.conversation_id);
    sessions_.erase(it);
}

bool widget_hub::deliver(const bot::conversation_ref& ref, const bot::outbound_message& msg) {
    if (ref.channel != "widget")
        return false;
    std::unique_lock lock(mu_);
    auto c = by_conversation_.find(ref.conversation_id);
    if (c == by_conversation_.end())
        return false;
    auto it = sessions_.find(c->second);
    if (it == sessions_.end())
        return false;
    auto& s = *it->second;
    s.options = msg.options;
    append(s, {{"type", "bot"},
               {"texts", msg.texts},
               {"options", options_json(msg.options)},
               {"end", msg.end},
               {"checkin", true}});
    auto snap = take_snapshot(s);
    lock.unlock();
    save_snapshot(snap);
    return true;
}

std::size_t widget_hub::sweep() {
    std::lock_guard lock(mu_);
    auto cutoff = now_() - cfg_.session_idle_seconds;
    std::size_t removed = 0;
    for (auto it = sessions_.begin(); it != sessions_.end();) {
        auto& s = *it->second;
        if (s.subs.empty() && s.turns_running == 0 && s.last_active < cutoff) {
            by_conversation_.erase(s.conversation_id);
            it = sessions_.erase(it);
            ++removed;
        } else {
            ++it;
        }
    }
    if (removed)
        bot::log::info("widget.sessions_expired", {{"count", removed}});
    return removed;
}

void widget_hub::close_all() {
    std::lock_guard lock(mu_);
    for (auto& [id, s] : sessions_) {
        auto subs = std::move(s->subs);
        for (const auto& sub : subs)
            sub->detached(id);
    }
}

hub_stats widget_hub::stats() const {
    std::lock_guard lock(mu_);
    hub_stats out;
    out.sessions = sessions_.size();
    for (const auto& [id, s] : sessions_)
        out.subscribers += s->subs.size();
    return out;
}

namespace {
class widget_sink final : public bot::proactive_sink {
  public:
    explicit widget_sink(std::shared_ptr<widget_hub> hub) : hub_(std::move(hub)) {}
    boost::asio::awaitable<bool> deliver(bot::conversation_ref ref,
                                         bot::outbound_message msg) override {
        co_return hub_->deliver(ref, msg);
    }
    void forgotten(const bot::conversation_ref& ref) override {
        hub_->forgotten_elsewhere(ref.conversation_id);
    }

  private:
    std::shared_ptr<widget_hub> hub_;
};
} // namespace

std::shared_ptr<bot::proactive_sink> make_widget_sink(std::shared_ptr<widget_hub> hub) {
    return std::make_shared<widget_sink>(std::move(hub));
}

} // namespace tandem::adapters::widget
