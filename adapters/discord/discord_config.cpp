#include "adapters/discord/discord_config.hpp"

#include "bot/json_reader.hpp"

namespace tandem::adapters::discord {

discord_config parse_discord_config(const bot::config& cfg, const std::string& file,
                                    bot::diagnostics& diags) {
    discord_config out;
    auto it = cfg.sections.find("discord");
    if (it == cfg.sections.end())
        return out;
    bot::json_reader r(it->second, file, "/discord", diags);
    if (!r.ok())
        return out;
    using ms = std::chrono::milliseconds;
    out.enabled = r.boolean_or("enabled", out.enabled);
    out.path = r.string_or("path", out.path);
    if (out.path.empty() || out.path.front() != '/')
        r.error("path", "discord.path", "path must start with '/'");
    out.public_key_env = r.string_or("public_key_env", out.public_key_env);
    out.application_id_env = r.string_or("application_id_env", out.application_id_env);
    out.bot_token_env = r.string_or("bot_token_env", out.bot_token_env);
    out.api_base = r.string_or("api_base", out.api_base);
    out.api_base_env = r.string_or("api_base_env", out.api_base_env);
    out.command_name = r.string_or("command_name", out.command_name);
    out.guild_id = r.string_or("guild_id", out.guild_id);
    out.max_body_bytes = static_cast<std::size_t>(r.integer_or(
        "max_body_bytes", static_cast<std::int64_t>(out.max_body_bytes), 1024, 1 << 20));
    out.timestamp_tolerance = std::chrono::seconds(
        r.integer_or("timestamp_tolerance_s", out.timestamp_tolerance.count(), 1, 86'400));
    out.inline_wait = ms(r.integer_or("inline_wait_ms", out.inline_wait.count(), 0, 2'800));
    out.ephemeral = r.boolean_or("ephemeral", out.ephemeral);
    out.request_timeout =
        ms(r.integer_or("request_timeout_ms", out.request_timeout.count(), 100, 120'000));
    out.max_attempts = static_cast<int>(r.integer_or("max_attempts", out.max_attempts, 1, 10));
    out.max_retry_wait =
        ms(r.integer_or("max_retry_wait_ms", out.max_retry_wait.count(), 0, 3'600'000));
    out.inbox = r.string_or("inbox", out.inbox);
    if (r.has("inbox") && cfg.store.kind != "sqlite")
        r.error("inbox", "config.bad_value",
                "inbox applies to store kind \"sqlite\" only (this store is \"" + cfg.store.kind +
                    "\")");
    else if (out.inbox.empty() || out.inbox.back() == '/')
        r.error("inbox", "config.bad_value", "inbox names a file in data_dir");
    else if (out.inbox == cfg.store.file)
        r.error("inbox", "config.bad_value",
                "inbox must be a file of its own, not the store's file \"" + cfg.store.file + "\"");
    r.finish();
    return out;
}

std::string resolve_secrets(discord_config& dc, const bot::env_lookup& env, discord_needs needs) {
    if (auto base = env(dc.api_base_env); base && !base->empty())
        dc.api_base = *base;
    while (!dc.api_base.empty() && dc.api_base.back() == '/')
        dc.api_base.pop_back();
    auto read = [&](const std::string& name, std::string& out) {
        if (auto v = env(name); v && !v->empty())
            out = *v;
    };
    read(dc.public_key_env, dc.public_key);
    read(dc.application_id_env, dc.application_id);
    read(dc.bot_token_env, dc.bot_token);
    std::string missing;
    auto need = [&](bool needed, const std::string& value, const std::string& name) {
        if (needed && value.empty())
            missing += (missing.empty() ? "" : ", ") + name;
    };
    need(needs.public_key, dc.public_key, dc.public_key_env);
    need(needs.application_id, dc.application_id, dc.application_id_env);
    need(needs.bot_token, dc.bot_token, dc.bot_token_env);
    if (!missing.empty())
        return "missing environment variable(s): " + missing;
    return {};
}

} // namespace tandem::adapters::discord
