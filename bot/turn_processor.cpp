#include "bot/turn_processor.hpp"

#include "bot/checkins.hpp"
#include "bot/content.hpp"
#include "bot/conversation_store.hpp"
#include "bot/dialog_engine.hpp"
#include "bot/linking.hpp"
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

// Every line of a system node (each line's first variant), with {$name} filled from vars;
// fallback when the content has no such node.
std::vector<std::string> system_lines(const content& c, const char* node,
                                      std::vector<std::string> fallback,
                                      const std::map<std::string, std::string>& vars = {}) {
    std::vector<std::string> out;
    if (const auto* sys = c.dialog("system"))
        if (const auto* n = sys->node(node))
            for (const auto& variants : n->say)
                if (!variants.empty())
                    out.push_back(variants.front());
    if (out.empty())
        out = std::move(fallback);
    for (auto& line : out)
        for (const auto& [name, value] : vars) {
            const std::string field = "{$" + name + "}";
            for (auto at = line.find(field); at != std::string::npos;
                 at = line.find(field, at + value.size()))
                line.replace(at, field.size(), value);
        }
    return out;
}

// "telegram:42" -> {"telegram", "42", "42"}.
conversation_ref ref_of(const std::string& key) {
    auto colon = key.find(':');
    std::string id = colon == std::string::npos ? key : key.substr(colon + 1);
    return {colon == std::string::npos ? "" : key.substr(0, colon), id, id};
}

std::optional<conversation_state> parse_state(const std::string& json) {
    try {
        return state_from_json(nlohmann::json::parse(json));
    } catch (const std::exception&) {
        return std::nullopt;
    }
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
    // This chat's key; k is the conversation's: the same, unless this chat joined another
    // chat's conversation with /link.
    const std::string own = key(msg.channel, msg.conversation_id);
    std::string k = own;
    std::optional<conversation_state> alias; // this chat's own record when it joined another
    std::uint64_t alias_version = 0;
    // A joined chat's message ids are kept with the chat's key: ids of two platforms may meet.
    std::string message_id = msg.platform_message_id;
    try {
        conversation_state state;
        bool fresh = true;
        std::uint64_t version = 0; // what this attempt read; the save succeeds only if unchanged
        if (auto stored = store_->load_versioned(k)) {
            version = stored->version;
            try {
                state = state_from_json(nlohmann::json::parse(stored->json));
                fresh = false;
                if (!state.linked_to.empty()) {
                    alias = std::move(state);
                    alias_version = version;
                    k = alias->linked_to;
                    state = conversation_state{};
                    fresh = true;
                    if (auto joined = store_->load_versioned(k)) {
                        version = joined->version;
                        if (!message_id.empty())
                            message_id = own + ":" + message_id;
                        state = state_from_json(nlohmann::json::parse(joined->json));
                        fresh = false;
                    } else {
                        // The conversation it joined is gone (forgotten, expired): this chat
                        // starts on its own again, its save replacing the link.
                        k = own;
                        version = alias_version;
                        alias.reset();
                    }
                }
                // Idempotent by platform message id, also when this is a second attempt after
                // a conflict: the turn that won may have been this very message (delivered
                // twice, to two instances).
                if (!fresh)
                    if (auto r = replay(state, message_id))
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
        linking::command link;
        if (msg.option_id.empty()) {
            in.text = cut_utf8(sanitize_utf8(msg.text), max_text_bytes);
            link = linking::parse(in.text);
            auto cmd = command_word(in.text);
            if (link.what != linking::command::kind::none) {
                // /link and /unlink are answered below, after the rate limit.
            } else if (cmd == "why" || cmd == "export") {
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
                if (!message_id.empty()) {
                    state.answered_ids.push_back(message_id);
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
        if (link.what != linking::command::kind::none)
            return link_turn(link, msg, now, attempt, *lc, own, k, std::move(state), version,
                             alias ? &*alias : nullptr);
        std::string had_checkin = state.checkin_dialog;
        std::int64_t had_due = state.checkin_due;
        // The rate bucket and the answered ids belong to the conversation, not to a dialog:
        // nothing a dialog does to the state resets them.
        auto rate_tokens = state.rate_tokens;
        auto rate_at = state.rate_at;
        auto answered_ids = state.answered_ids;
        // Nor the chats linked to it (/restart starts the dialog over, not the link).
        auto linked = state.linked;
        auto link_code = state.link_code;
        auto link_code_expires = state.link_code_expires;
        auto out = step(*lc, cfg_, std::move(state), in);
        out.state.rate_tokens = rate_tokens;
        out.state.rate_at = rate_at;
        out.state.rate_noticed = false;
        out.state.answered_ids = std::move(answered_ids);
        out.state.linked = std::move(linked);
        out.state.link_code = std::move(link_code);
        out.state.link_code_expires = link_code_expires;
        out.state.linked_to.clear();
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
        if (!message_id.empty() && !out.forget) {
            // Committed with the turn, so a redelivery after a crash finds it.
            auto& ids = out.state.answered_ids;
            ids.push_back(message_id);
            if (ids.size() > conversation_state::answered_kept)
                ids.erase(ids.begin(), ids.end() - conversation_state::answered_kept);
            out.state.last_reply = reply_json(out.reply);
        }
        std::vector<std::string> erased;
        if (out.forget) {
            // Everything: the conversation, every chat that joined it, a pending code.
            erase_conversation(k, out.state, &erased);
            if (own != k)
                store_->erase(own);
        } else if (!store_->save_if(k, to_json(out.state).dump(),
                                    // The store expires a conversation by its last activity; a
                                    // conversation whose user chose to keep self-ratings counts as
                                    // active until keep_until.
                                    std::max(now, out.state.keep_until - cfg_.idle_expiry_seconds),
                                    version)) {
            return conflict(msg, attempt);
        } else if (alias && now - alias->last_active > 3600) {
            // The joined chat's own record expires by its own activity: keep it alive while
            // it is used (at most one extra write an hour).
            alias->last_active = now;
            try {
                store_->save_if(own, to_json(*alias).dump(), now, alias_version);
            } catch (const store_error& e) {
                log::warn("link_touch_failed",
                          {{"conversation", log::log_id(msg.channel, msg.conversation_id)},
                           {"error", e.what()}});
            }
        }

        result.reply = std::move(out.reply);
        result.intent = !in.command.empty()     ? "command_" + in.command
                        : msg.option_id.empty() ? in.understood.intent
                                                : "option";
        result.topic = msg.option_id.empty() && in.command.empty() ? in.understood.topic : "";
        result.confidence = in.understood.confidence;
        result.forgotten = out.forget;
        for (const auto& e : erased)
            if (e != own)
                result.also_forgotten.push_back(ref_of(e));
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

std::optional<turn_result>
turn_processor::link_turn(const linking::command& cmd, const inbound_message& msg, std::int64_t now,
                          int attempt, const content& lc, const std::string& own,
                          const std::string& k, conversation_state state, std::uint64_t version,
                          const conversation_state* joined) {
    using kind = linking::command::kind;
    turn_result r;
    r.intent = cmd.what == kind::unlink ? "command_unlink" : "command_link";
    auto say = [&](const char* node, std::vector<std::string> fallback,
                   const std::map<std::string, std::string>& vars = {}) {
        r.reply.texts = system_lines(lc, node, std::move(fallback), vars);
    };
    const auto active = std::max(now, state.keep_until - cfg_.idle_expiry_seconds);
    // The answers that change nothing but the rate bucket still save it, so that guessing
    // codes is as rate-limited as any message.
    auto persist = [&] {
        return store_->save_if(k, to_json(state).dump(), active, version);
    };

    if (cmd.what == kind::issue) {
        // A new code replaces the one before; the code names the conversation itself, so a
        // code asked for in a joined chat opens the same conversation.
        auto code = linking::new_code();
        store_->save(linking::code_key(code),
                     linking::record_json({k, now + linking::code_life_seconds}), now);
        const std::string previous = state.link_code;
        state.link_code = code;
        state.link_code_expires = now + linking::code_life_seconds;
        state.last_active = now;
        if (!store_->save_if(k, to_json(state).dump(), active, version)) {
            store_->erase(linking::code_key(code));
            return conflict(msg, attempt);
        }
        if (!previous.empty())
            store_->erase(linking::code_key(previous));
        say("link_code",
            {"Your link code is {$code}. Within {$minutes} minutes, send /link {$code} to me in "
             "the other app, and both chats will share this conversation. It works once.",
             "Only share it with yourself: whoever sends it joins this conversation."},
            {{"code", linking::display(code)},
             {"minutes", std::to_string(linking::code_life_seconds / 60)}});
        return r;
    }

    if (cmd.what == kind::unlink) {
        if (joined) {
            // This chat leaves; the conversation stays with the chat it started in.
            std::erase(state.linked, own);
            if (!store_->save_if(k, to_json(state).dump(), active, version))
                return conflict(msg, attempt);
            store_->erase(own);
            if (checkins_)
                checkins_->cancel(own);
            say("unlink_done", {"Done. This chat is on its own again and starts fresh; the "
                                "conversation stays in the other chat."});
            return r;
        }
        if (state.linked.empty()) {
            if (!persist())
                return conflict(msg, attempt);
            say("unlink_none", {"This chat isn't linked to any other."});
            return r;
        }
        for (const auto& other : state.linked) {
            auto stored = store_->load(other);
            auto s = stored ? parse_state(*stored) : std::nullopt;
            if (s && s->linked_to == k)
                store_->erase(other);
        }
        state.linked.clear();
        if (!store_->save_if(k, to_json(state).dump(), active, version))
            return conflict(msg, attempt);
        say("unlink_all", {"Done. The other chats are unlinked and start fresh; this "
                           "conversation stays here."});
        return r;
    }

    // Redeeming a code. Every way it can fail gets the same answer, so a guess learns nothing.
    auto bad = [&]() -> std::optional<turn_result> {
        if (!persist())
            return conflict(msg, attempt);
        say("link_bad",
            {"That code doesn't work. Codes last {$minutes} minutes and work once: "
             "type /link in the other chat for a new one."},
            {{"minutes", std::to_string(linking::code_life_seconds / 60)}});
        return r;
    };
    if (cmd.code.empty())
        return bad();
    const std::string code_key = linking::code_key(cmd.code);
    auto stored = store_->load(code_key);
    auto record = stored ? linking::parse_record(*stored) : std::nullopt;
    if (!record || record->expires < now)
        return bad();
    if (record->target == k || record->target == own) {
        if (!persist())
            return conflict(msg, attempt);
        say("link_self", {"That's the code for this very conversation. Send it from the other "
                          "app to link the two."});
        return r;
    }
    if (joined || !state.linked.empty()) {
        if (!persist())
            return conflict(msg, attempt);
        say("link_busy", {"This chat is already linked with another one. Type /unlink here "
                          "first, then use the code again."});
        return r;
    }
    auto target = store_->load_versioned(record->target);
    auto target_state = target ? parse_state(target->json) : std::nullopt;
    if (!target_state || !target_state->linked_to.empty())
        return bad();
    // Used once: of two chats sending the same code at once, one erases the record.
    if (!store_->erase(code_key))
        return bad();
    // From here on the code is spent, so conflicts are retried here rather than by running
    // the whole turn again.
    for (int tries = 1;; ++tries) {
        if (std::find(target_state->linked.begin(), target_state->linked.end(), own) ==
            target_state->linked.end())
            target_state->linked.push_back(own);
        if (target_state->link_code == cmd.code) {
            target_state->link_code.clear();
            target_state->link_code_expires = 0;
        }
        if (store_->save_if(record->target, to_json(*target_state).dump(),
                            std::max(now, target_state->last_active), target->version))
            break;
        if (tries >= max_attempts)
            throw store_error("the linked conversation kept changing");
        target = store_->load_versioned(record->target);
        target_state = target ? parse_state(target->json) : std::nullopt;
        if (!target_state || !target_state->linked_to.empty())
            return bad();
    }
    // This chat's own conversation, if it had one, gives way to the one it joins.
    conversation_state link_state;
    link_state.linked_to = record->target;
    link_state.created = now;
    link_state.last_active = now;
    for (int tries = 1;; ++tries) {
        if (store_->save_if(own, to_json(link_state).dump(), now, version))
            break;
        if (tries >= max_attempts)
            throw store_error("this chat kept changing while it was linked");
        auto mine = store_->load_versioned(own);
        version = mine ? mine->version : 0;
    }
    if (checkins_)
        checkins_->cancel(own);
    say("link_done", {"Linked. This chat now continues the conversation from the other one; "
                      "whatever you say here or there, I keep in one place.",
                      "Type /unlink to separate them, or /forget to delete all of it."});
    if (!target_state->stack.empty()) {
        r.dialog = target_state->stack.back().dialog;
        r.node = target_state->stack.back().node;
    }
    return r;
}

bool turn_processor::forget(const std::string& channel, const std::string& id,
                            std::vector<conversation_ref>* also) {
    const std::string own = key(channel, id);
    if (checkins_)
        checkins_->cancel(own);
    auto stored = store_->load(own);
    auto state = stored ? parse_state(*stored) : std::nullopt;
    std::vector<std::string> erased;
    bool existed = false;
    if (state && !state->linked_to.empty()) {
        // A chat that joined another's conversation: that conversation is this person's
        // too, so it goes with everything linked to it.
        const std::string joined = state->linked_to;
        if (auto other = store_->load(joined))
            if (auto s = parse_state(*other))
                erase_conversation(joined, *s, &erased);
        store_->erase(own);
        existed = true;
    } else if (state) {
        existed = erase_conversation(own, *state, &erased);
    } else {
        existed = store_->erase(own);
    }
    if (also)
        for (const auto& e : erased)
            if (e != own)
                also->push_back(ref_of(e));
    return existed;
}

bool turn_processor::erase_conversation(const std::string& k, const conversation_state& state,
                                        std::vector<std::string>* erased) {
    for (const auto& other : state.linked) {
        // Only a chat still linked to this conversation: one that left (/unlink) or whose
        // link expired may hold a conversation of its own by now.
        auto stored = store_->load(other);
        auto s = stored ? parse_state(*stored) : std::nullopt;
        if (s && s->linked_to == k) {
            store_->erase(other);
            if (checkins_)
                checkins_->cancel(other);
            if (erased)
                erased->push_back(other);
        }
    }
    if (!state.link_code.empty())
        store_->erase(linking::code_key(state.link_code));
    if (checkins_)
        checkins_->cancel(k);
    if (erased)
        erased->push_back(k);
    return store_->erase(k);
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
