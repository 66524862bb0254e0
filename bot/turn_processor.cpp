#include "bot/turn_processor.hpp"

#include "bot/checkins.hpp"
#include "bot/content.hpp"
#include "bot/conversation_store.hpp"
#include "bot/dialog_engine.hpp"
#include "bot/log.hpp"
#include "bot/normalizer.hpp"

#include <algorithm>
#include <map>
#include <optional>

namespace tandem::bot {

namespace {

// A tier A or B safety intent, or a tier C one ranked in the safety band (not the low net
// that only speaks when nothing else understood the message).
bool is_safety_signal(const classification& r) {
    return r.safety.has_value() && !r.ranked.empty() && r.ranked.front().priority >= 100;
}

// How often a turn is run again when another instance saved its conversation meanwhile.
constexpr int max_attempts = 16;

} // namespace

turn_processor::turn_processor(std::shared_ptr<const content> c,
                               std::shared_ptr<conversation_store> store, conversation_config cfg,
                               bool log_text, std::shared_ptr<checkin_store> checkins)
    : content_(std::move(c)), store_(std::move(store)), cfg_(std::move(cfg)), log_text_(log_text),
      checkins_(std::move(checkins)) {}

std::string turn_processor::key(const std::string& channel, const std::string& id) {
    return channel + ":" + id;
}

void turn_processor::set_content(std::shared_ptr<const content> c) {
    std::lock_guard lock(content_mu_);
    content_ = std::move(c);
}

std::shared_ptr<const content> turn_processor::current_content() const {
    std::lock_guard lock(content_mu_);
    return content_;
}

namespace {

std::string cut_utf8(std::string s, std::size_t max) {
    if (s.size() <= max)
        return s;
    std::size_t cut = max;
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80)
        --cut;
    s.resize(cut);
    return s;
}

std::string apology(const content& c) {
    if (const auto* sys = c.dialog("system"))
        if (const auto* n = sys->node("turn_error"))
            if (!n->say.empty() && !n->say[0].empty())
                return n->say[0][0];
    return "Sorry, something went wrong on my side. Please try again in a moment.";
}

nlohmann::json reply_json(const outbound_message& m) {
    nlohmann::json options = nlohmann::json::array();
    for (const auto& o : m.options)
        options.push_back({{"id", o.id}, {"label", o.label}});
    return {{"texts", m.texts}, {"options", options}, {"end", m.end}};
}

outbound_message reply_from_json(const nlohmann::json& j) {
    outbound_message m;
    m.texts = j.value("texts", std::vector<std::string>{});
    if (auto it = j.find("options"); it != j.end() && it->is_array())
        for (const auto& o : *it)
            m.options.push_back({o.value("id", ""), o.value("label", "")});
    m.end = j.value("end", false);
    return m;
}

// The system dialog's line for a situation (first variant), or fallback.
std::string system_line(const content& c, const char* node, const char* fallback) {
    if (const auto* sys = c.dialog("system"))
        if (const auto* n = sys->node(node))
            if (!n->say.empty() && !n->say[0].empty())
                return n->say[0][0];
    return fallback;
}

// Takes one token from the conversation's bucket; false when it is empty.
bool take_token(conversation_state& s, const conversation_config& cfg, std::int64_t now) {
    const double burst = cfg.rate_burst;
    if (s.rate_tokens < 0 || now < s.rate_at)
        s.rate_tokens = burst;
    else
        s.rate_tokens = std::min(burst, s.rate_tokens + static_cast<double>(now - s.rate_at) *
                                                            cfg.rate_per_minute / 60);
    s.rate_at = now;
    if (s.rate_tokens < 1)
        return false;
    s.rate_tokens -= 1;
    return true;
}

// A message answered before: its reply again (when it was the latest), and no new turn.
std::optional<turn_result> replay(const conversation_state& state, const std::string& id) {
    if (id.empty())
        return std::nullopt;
    const auto& ids = state.answered_ids;
    if (std::find(ids.begin(), ids.end(), id) == ids.end())
        return std::nullopt;
    turn_result r;
    r.replayed = true;
    r.intent = "replayed";
    if (ids.back() == id && state.last_reply.is_object())
        r.reply = reply_from_json(state.last_reply);
    if (!state.stack.empty()) {
        r.dialog = state.stack.back().dialog;
        r.node = state.stack.back().node;
    }
    return r;
}

// Another instance sharing the store saved this conversation since this attempt loaded it
// (nothing was written): the turn runs again on what it saved, so both turns count, one
// after the other. Throws (the turn fails) after max_attempts.
std::nullopt_t conflict(const inbound_message& msg, int attempt) {
    if (attempt >= max_attempts)
        throw store_error("the conversation kept changing under this turn (" +
                          std::to_string(attempt) + " attempts)");
    log::info("turn_conflict", {{"conversation", log::log_id(msg.channel, msg.conversation_id)},
                                {"attempt", attempt}});
    return std::nullopt;
}

} // namespace

turn_result turn_processor::run(const inbound_message& msg, std::int64_t now) {
    for (int attempt = 1;; ++attempt)
        if (auto r = attempt_turn(msg, now, attempt))
            return *r;
}

// One attempt at a turn; nothing when another instance saved the conversation since this
// attempt loaded it (nothing was written: the caller runs the turn again on the new state).
std::optional<turn_result> turn_processor::attempt_turn(const inbound_message& msg,
                                                        std::int64_t now, int attempt) {
    auto c = current_content();
    turn_result result;
    const std::string k = key(msg.channel, msg.conversation_id);
    try {
        conversation_state state;
        bool fresh = true;
        std::uint64_t version = 0; // what this attempt read; the save succeeds only if unchanged
        if (auto stored = store_->load_versioned(k)) {
            version = stored->version;
            try {
                state = state_from_json(nlohmann::json::parse(stored->json));
                fresh = false;
                // Idempotent by platform message id, also when this is a second attempt after
                // a conflict: the turn that won may have been this very message (delivered
                // twice, to two instances).
                if (auto r = replay(state, msg.platform_message_id))
                    return *r;
            } catch (const std::exception& e) {
                log::warn("state_corrupt",
                          {{"conversation", log::log_id(msg.channel, msg.conversation_id)},
                           {"error", e.what()}});
            }
        }
        if (!fresh && cfg_.idle_expiry_seconds > 0 &&
            now - state.last_active > cfg_.idle_expiry_seconds && now > state.keep_until)
            fresh = true; // expired: start over (the sweeper deletes it too)
        if (!fresh && cfg_.idle_expiry_seconds > 0 &&
            now - state.last_active > cfg_.idle_expiry_seconds) {
            // Idle, but the user chose to keep their self-ratings: keep only those.
            auto kept = std::move(state.records);
            auto until = state.keep_until;
            auto locale = state.locale, region = state.region;
            state = new_state(k, now);
            state.records = std::move(kept);
            state.keep_until = until;
            state.locale = locale;
            state.region = region;
        }
        if (!fresh && cfg_.records_retention_seconds > 0)
            for (auto& [series, list] : state.records)
                std::erase_if(list, [&](const conversation_state::record_entry& e) {
                    return now - e.at > cfg_.records_retention_seconds;
                });
        if (fresh) {
            state = new_state(k, now);
            // A new conversation speaks the channel's language when there is a pack for it.
            if (auto loc = c->locale_for(msg.language))
                state.locale = *loc;
        }
        const content* lc = &c->for_locale(state.locale);

        turn_input in;
        in.now = now;
        in.option_id = msg.option_id;
        in.expiry_seconds = cfg_.idle_expiry_seconds;
        if (msg.option_id.empty()) {
            in.text = cut_utf8(sanitize_utf8(msg.text), max_text_bytes);
            auto cmd = command_word(in.text);
            if (cmd == "why" || cmd == "export") {
                in.command = cmd;
            } else if (!cmd.empty()) {
                // Channel commands mean the same everywhere: /start greets, /forget forgets.
                static const std::map<std::string, std::string> as_intent = {
                    {"start", "greeting"},
                    {"help", "help"},
                    {"menu", "help"},
                    {"restart", "restart"},
                    {"forget", "forget_me"}};
                const auto* def = lc->matcher().find(as_intent.at(cmd));
                if (def) {
                    in.understood.intent = def->id;
                    in.understood.topic = def->topic;
                    in.understood.confidence = 1;
                    in.understood.normalized = normalize(in.text);
                    in.understood.ranked.push_back({def->id, def->priority, 1});
                } else {
                    in.understood = lc->matcher().classify(in.text);
                }
            } else {
                in.understood = lc->matcher().classify(in.text);
                // "in Spanish, please": switch the conversation's language first, so the
                // answer already comes in it.
                if (auto it = in.understood.captures.find("language");
                    it != in.understood.captures.end())
                    if (auto loc = c->locale_for(it->second); loc && *loc != state.locale) {
                        state.locale = *loc == c->locale() ? "" : *loc;
                        lc = &c->for_locale(state.locale);
                        in.understood = lc->matcher().classify(in.text);
                    }
                // Nothing understood in the default language: a pack that understands the
                // message ("hola", "me siento agobiada") becomes the conversation's language.
                if (!in.understood.matched() && state.locale.empty())
                    for (const auto& [code, _] : c->locales()) {
                        const auto& pack = c->for_locale(code);
                        if (&pack == c.get())
                            continue;
                        auto r = pack.matcher().classify(in.text);
                        if (r.matched()) {
                            state.locale = code;
                            lc = &pack;
                            in.understood = std::move(r);
                            break;
                        }
                    }
                // Safety is understood in every language: when another language reads the
                // message as a safety signal that this one missed ("me quiero morir" in an
                // English conversation, "he hit me" in a Spanish one), that reading wins and
                // the answer comes in the language the person just wrote in.
                if (!is_safety_signal(in.understood))
                    for (const auto& [code, _] : c->locales()) {
                        const auto& other = c->for_locale(code);
                        if (&other == lc)
                            continue;
                        auto r = other.matcher().classify(in.text);
                        if (is_safety_signal(r)) {
                            state.locale = &other == c.get() ? "" : code;
                            lc = &other;
                            in.understood = std::move(r);
                            break;
                        }
                    }
            }
        }
        // The per-conversation rate limit. Someone showing risk is never limited, nor is
        // "forget me"; the console is one person at their own terminal.
        if (cfg_.rate_per_minute > 0 && msg.channel != "console" &&
            !in.understood.safety.has_value() && in.understood.topic != "forget_me") {
            if (!take_token(state, cfg_, now)) {
                turn_result limited;
                limited.rate_limited = true;
                limited.intent = "rate_limited";
                if (!state.rate_noticed)
                    limited.reply.texts.push_back(system_line(
                        *lc, "rate_limited",
                        "You're writing faster than I can keep up with. Give me a minute, "
                        "then tell me more."));
                state.rate_noticed = true;
                if (!msg.platform_message_id.empty()) {
                    state.answered_ids.push_back(msg.platform_message_id);
                    if (state.answered_ids.size() > conversation_state::answered_kept)
                        state.answered_ids.erase(state.answered_ids.begin());
                    state.last_reply = reply_json(limited.reply);
                }
                if (!store_->save_if(k, to_json(state).dump(),
                                     std::max(now, state.keep_until - cfg_.idle_expiry_seconds),
                                     version))
                    return conflict(msg, attempt);
                log::info("rate_limited",
                          {{"conversation", log::log_id(msg.channel, msg.conversation_id)},
                           {"channel", msg.channel}});
                return limited;
            }
            state.rate_noticed = false;
        }
        std::string had_checkin = state.checkin_dialog;
        std::int64_t had_due = state.checkin_due;
        // The rate bucket and the answered ids belong to the conversation, not to a dialog:
        // nothing a dialog does to the state resets them.
        auto rate_tokens = state.rate_tokens;
        auto rate_at = state.rate_at;
        auto answered_ids = state.answered_ids;
        auto out = step(*lc, cfg_, std::move(state), in);
        out.state.rate_tokens = rate_tokens;
        out.state.rate_at = rate_at;
        out.state.rate_noticed = false;
        out.state.answered_ids = std::move(answered_ids);
        if (checkins_) {
            if (out.forget || out.state.checkin_dialog.empty()) {
                if (!had_checkin.empty() || out.forget)
                    checkins_->cancel(k);
            } else if (out.state.checkin_dialog != had_checkin ||
                       out.state.checkin_due != had_due) {
                checkins_->schedule({k,
                                     {msg.channel, msg.conversation_id, msg.user_id},
                                     out.state.checkin_dialog,
                                     out.state.checkin_due,
                                     0});
            }
        }
        if (!msg.platform_message_id.empty() && !out.forget) {
            // Committed with the turn, so a redelivery after a crash finds it.
            auto& ids = out.state.answered_ids;
            ids.push_back(msg.platform_message_id);
            if (ids.size() > conversation_state::answered_kept)
                ids.erase(ids.begin(), ids.end() - conversation_state::answered_kept);
            out.state.last_reply = reply_json(out.reply);
        }
        if (out.forget) {
            store_->erase(k);
        } else if (!store_->save_if(k, to_json(out.state).dump(),
                                    // The store expires a conversation by its last activity; a
                                    // conversation whose user chose to keep self-ratings counts as
                                    // active until keep_until.
                                    std::max(now, out.state.keep_until - cfg_.idle_expiry_seconds),
                                    version)) {
            return conflict(msg, attempt);
        }

        result.reply = std::move(out.reply);
        result.intent = !in.command.empty()     ? "command_" + in.command
                        : msg.option_id.empty() ? in.understood.intent
                                                : "option";
        result.topic = msg.option_id.empty() && in.command.empty() ? in.understood.topic : "";
        result.confidence = in.understood.confidence;
        result.forgotten = out.forget;
        if (!out.forget && !out.state.stack.empty()) {
            result.dialog = out.state.stack.back().dialog;
            result.node = out.state.stack.back().node;
        }
        if (log::enabled(log::level::debug)) {
            nlohmann::json f = {{"conversation", log::log_id(msg.channel, msg.conversation_id)},
                                {"channel", msg.channel},
                                {"intent", result.intent},
                                {"topic", result.topic},
                                {"dialog", result.dialog},
                                {"node", result.node}};
            if (log_text_)
                f["text"] = in.text;
            log::debug("turn", f);
        }
    } catch (const std::exception& e) {
        log::error("turn_failed", {{"conversation", log::log_id(msg.channel, msg.conversation_id)},
                                   {"channel", msg.channel},
                                   {"error", e.what()}});
        result = turn_result{};
        result.error = true;
        result.reply.texts.push_back(apology(*c));
    }
    return result;
}

bool turn_processor::forget(const std::string& channel, const std::string& id) {
    if (checkins_)
        checkins_->cancel(key(channel, id));
    return store_->erase(key(channel, id));
}

std::optional<turn_result> turn_processor::run_checkin(const checkin_entry& e, std::int64_t now) {
    auto c = current_content();
    for (int attempt = 1;; ++attempt) {
        auto stored = store_->load_versioned(e.key);
        if (!stored)
            return std::nullopt; // forgotten or expired
        conversation_state state;
        try {
            state = state_from_json(nlohmann::json::parse(stored->json));
        } catch (const std::exception&) {
            return std::nullopt;
        }
        if (state.checkin_dialog != e.dialog)
            return std::nullopt; // withdrawn or replaced
        state.checkin_dialog.clear();
        state.checkin_due = 0;
        const content& lc = c->for_locale(state.locale);
        if (!lc.dialog(e.dialog))
            return std::nullopt;
        turn_input in;
        in.now = now;
        in.start_dialog = e.dialog;
        auto out = step(lc, cfg_, std::move(state), in);
        if (!store_->save_if(e.key, to_json(out.state).dump(),
                             std::max(now, out.state.keep_until - cfg_.idle_expiry_seconds),
                             stored->version)) {
            // A turn (maybe on another instance) came first: look again at what it left.
            if (attempt >= max_attempts)
                throw store_error("the conversation kept changing under a check-in");
            continue;
        }
        turn_result r;
        r.reply = std::move(out.reply);
        r.intent = "checkin";
        if (!out.state.stack.empty()) {
            r.dialog = out.state.stack.back().dialog;
            r.node = out.state.stack.back().node;
        }
        return r;
    }
}

std::size_t turn_processor::sweep(std::int64_t now) {
    if (cfg_.idle_expiry_seconds <= 0)
        return 0;
    return store_->erase_idle_before(now - cfg_.idle_expiry_seconds);
}

} // namespace tandem::bot
