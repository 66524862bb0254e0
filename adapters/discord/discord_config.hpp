// The "discord" section of config/tandem.json and the secrets it names.
#pragma once

#include "bot/config.hpp"
#include "bot/diagnostics.hpp"

#include <chrono>
#include <cstddef>
#include <string>

namespace tandem::adapters::discord {

struct discord_config {
    bool enabled = true;                                       // false switches the channel off
    std::string path = "/webhooks/discord";                    // Interactions Endpoint route
    std::string public_key_env = "DISCORD_PUBLIC_KEY";         // env var: app public key (hex)
    std::string application_id_env = "DISCORD_APPLICATION_ID"; // env var: application id
    std::string bot_token_env = "DISCORD_BOT_TOKEN";           // env var: bot token (commands only)
    std::string api_base = "https://discord.com/api/v10";      // REST base
    std::string api_base_env = "DISCORD_API_BASE";             // env var overriding api_base
    std::string command_name = "reflect";                      // the slash command
    std::string guild_id; // register-commands: one guild (instant) instead of global
    std::size_t max_body_bytes = 65536;
    std::chrono::seconds timestamp_tolerance{300};    // older/newer signatures are refused
    std::chrono::milliseconds inline_wait{2000};      // answer inline if the turn is quicker
    bool ephemeral = true;                            // replies only the user can see
    std::chrono::milliseconds request_timeout{10000}; // one REST call
    int max_attempts = 4;
    std::chrono::milliseconds max_retry_wait{60000};
    // store.kind "sqlite": the inbox of deferred interactions, a SQLite file in data_dir of
    // its own (discord_adapter.hpp; docs/hardening.md).
    std::string inbox = "discord-inbox.sqlite";

    // Resolved from the environment; never read from the file.
    std::string public_key;
    std::string application_id;
    std::string bot_token;
};

discord_config parse_discord_config(const bot::config& cfg, const std::string& file,
                                    bot::diagnostics& diags);

// What a command needs from the environment.
struct discord_needs {
    bool public_key = false;
    bool application_id = false;
    bool bot_token = false;
};
// Reads secrets and the API base override. Returns "" when everything needed is present,
// else the reason (names of missing variables). Does not log.
std::string resolve_secrets(discord_config& dc, const bot::env_lookup& env, discord_needs needs);

} // namespace tandem::adapters::discord
