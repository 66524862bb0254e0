#include "adapters/telegram/telegram_config.hpp"

#include "bot/json_reader.hpp"

namespace tandem::adapters::telegram {

telegram_config parse_telegram_config(const bot::config& cfg, const std::string& file,
                                      bot::diagnostics& diags) {
    telegram_config out;
    out.ack_after_turn = cfg.store.kind == "redis"; // see below
    auto it = cfg.sections.find("telegram");
    if (it == cfg.sections.end())
        return out;
    bot::json_reader r(it->second, file, "/telegram", diags);
    if (!r.ok())
        return out;
    using ms = std::chrono::milliseconds;
    out.enabled = r.boolean_or("enabled", out.enabled);
    out.path = r.string_or("path", out.path);
    if (out.path.empty() || out.path.front() != '/')
        r.error("path", "telegram.path", "path must start with '/'");
    out.token_env = r.string_or("token_env", out.token_env);
    out.secret_env = r.string_or("secret_env", out.secret_env);
    out.api_base = r.string_or("api_base", out.api_base);
    out.api_base_env = r.string_or("api_base_env", out.api_base_env);
    out.public_url = r.string_or("public_url", out.public_url);
    out.max_body_bytes = static_cast<std::size_t>(r.integer_or(
        "max_body_bytes", static_cast<std::int64_t>(out.max_body_bytes), 1024, 1 << 20));
    out.dedupe_window = static_cast<std::size_t>(
        r.integer_or("dedupe_window", static_cast<std::int64_t>(out.dedupe_window), 16, 1'000'000));
    out.update_log = r.string_or("update_log", out.update_log);
    if (r.has("update_log") && cfg.store.kind != "sqlite")
        r.error("update_log", "config.bad_value",
                "update_log applies to store kind \"sqlite\" only (this store is \"" +
                    cfg.store.kind + "\")");
    else if (out.update_log.empty() || out.update_log.back() == '/')
        r.error("update_log", "config.bad_value", "update_log names a file in data_dir");
    else if (out.update_log == cfg.store.file)
        r.error("update_log", "config.bad_value",
                "update_log must be a file of its own, not the store's file \"" + cfg.store.file +
                    "\"");
    out.per_chat_interval =
        ms(r.integer_or("per_chat_interval_ms", out.per_chat_interval.count(), 0, 60'000));
    out.request_timeout =
        ms(r.integer_or("request_timeout_ms", out.request_timeout.count(), 100, 120'000));
    out.max_attempts = static_cast<int>(r.integer_or("max_attempts", out.max_attempts, 1, 10));
    out.max_retry_wait =
        ms(r.integer_or("max_retry_wait_ms", out.max_retry_wait.count(), 0, 3'600'000));
    out.max_queued_per_chat = static_cast<std::size_t>(r.integer_or(
        "max_queued_per_chat", static_cast<std::int64_t>(out.max_queued_per_chat), 1, 10'000));
    out.max_pending = static_cast<std::size_t>(
        r.integer_or("max_pending", static_cast<std::int64_t>(out.max_pending), 1, 1'000'000));
    // How an update is acknowledged follows the store (docs/hardening.md, "Faults and load"):
    // one instance keeps a durable inbox in its SQLite file (or memory) and acknowledges at
    // once; several instances on one Redis cannot finish each other's local inbox, so they
    // acknowledge only after the turn (docs/deployment.md). Settings of the other mode are
    // contradictions, named as such.
    const bool shared = cfg.store.kind == "redis";
    const std::string kind_note = "(this store is \"" + cfg.store.kind + "\")";
    out.ack_after_turn = r.boolean_or("ack_after_turn", shared);
    if (out.ack_after_turn != shared)
        r.error("ack_after_turn", "config.bad_value",
                shared ? "ack_after_turn cannot be false with store kind \"redis\": several "
                         "instances cannot finish each other's inbox, so updates are "
                         "acknowledged after their turn"
                       : "ack_after_turn needs store kind \"redis\" (this store is \"" +
                             cfg.store.kind +
                             "\": it keeps a durable inbox and acknowledges at once)");
    out.claim_lease =
        std::chrono::seconds(r.integer_or("claim_lease_seconds", out.claim_lease.count(), 1, 3600));
    if (r.has("claim_lease_seconds") && !shared)
        r.error("claim_lease_seconds", "config.bad_value",
                "claim_lease_seconds applies to store kind \"redis\" only " + kind_note);
    out.max_live_chats = static_cast<std::size_t>(r.integer_or(
        "max_live_chats", static_cast<std::int64_t>(out.max_live_chats), 1, 1'000'000));
    out.outage_retry_rounds =
        static_cast<int>(r.integer_or("outage_retry_rounds", out.outage_retry_rounds, 0, 1000));
    out.outage_backoff_max =
        ms(r.integer_or("outage_backoff_max_ms", out.outage_backoff_max.count(), 1, 3'600'000));
    for (const char* key : {"outage_retry_rounds", "outage_backoff_max_ms"})
        if (r.has(key) && shared)
            r.error(key, "config.bad_value",
                    std::string(key) +
                        " does not apply to store kind \"redis\": an update whose reply could "
                        "not be sent is answered 503 and Telegram's redelivery retries it");
    out.parse_mode = r.string_or("parse_mode", out.parse_mode);
    if (!out.parse_mode.empty() && out.parse_mode != "MarkdownV2")
        r.error("parse_mode", "telegram.parse_mode",
                "parse_mode must be \"\" (plain text) or \"MarkdownV2\"");
    out.private_chats_only = r.boolean_or("private_chats_only", out.private_chats_only);
    if (r.has("allowed_updates"))
        out.allowed_updates = r.string_list("allowed_updates");
    r.finish();
    return out;
}

bool valid_secret_token(const std::string& s) {
    if (s.empty() || s.size() > 256)
        return false;
    for (char c : s) {
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

std::string resolve_secrets(telegram_config& tc, const bot::env_lookup& env, bool need_secret) {
    if (auto base = env(tc.api_base_env); base && !base->empty())
        tc.api_base = *base;
    while (!tc.api_base.empty() && tc.api_base.back() == '/')
        tc.api_base.pop_back();
    std::string missing;
    if (auto t = env(tc.token_env); t && !t->empty())
        tc.token = *t;
    else
        missing += tc.token_env;
    if (auto s = env(tc.secret_env); s && !s->empty())
        tc.secret = *s;
    else if (need_secret)
        missing += (missing.empty() ? "" : ", ") + tc.secret_env;
    if (!missing.empty())
        return "missing environment variable(s): " + missing;
    if (!tc.secret.empty() && !valid_secret_token(tc.secret))
        return tc.secret_env + " must be 1-256 characters of A-Z a-z 0-9 _ -";
    return {};
}

} // namespace tandem::adapters::telegram
