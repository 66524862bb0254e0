// tandem's configuration: config/tandem.json read once into typed structs.
// Every field's meaning and default is documented here and in docs/configuration.md.
// Secrets are never in the file: a field names an environment variable instead, and
// env_lookup is the one place that reads the environment.
#pragma once

#include "bot/diagnostics.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tandem::bot {

struct content_config {
    std::string intents_dir = "intents";                  // relative to the config's root
    std::string dialogs_dir = "dialogs";                  // relative to the config's root
    std::string resources_file = "config/resources.json"; // helplines by region
    std::string locales_file = "config/locales.json";     // languages; absent = one language
};

struct store_config {
    std::string kind = "sqlite";        // "sqlite", "memory" or "redis"
    std::string file = "tandem.sqlite"; // sqlite: inside data_dir
    bool synchronous_full = false;      // sqlite: fsync every commit (power-loss safe), slower
    std::int64_t max_bytes = 0; // sqlite: cap on each SQLite file of data_dir (the store's, an
                                // update log's; 0 = none); beyond: as disk full
    // redis (docs/deployment.md): where the server is and how to talk to it.
    std::string host = "127.0.0.1";
    int port = 6379;
    std::string unix_socket;            // used instead of host and port when set
    int database = 0;                   // SELECT this logical database
    std::string key_prefix = "tandem:"; // every key tandem writes starts with it
    std::string password_env;           // environment variable holding the password (AUTH)
    int connect_timeout_ms = 1000;
    int command_timeout_ms = 2000;
    int pool_size = 8; // connections kept open per instance at most
};

struct conversation_config {
    std::int64_t idle_expiry_seconds = 1800; // state of an idle conversation is deleted after this
    std::string default_region = "INTL";     // resource region until the user picks one
    int fallbacks_before_menu = 2;           // consecutive not-understood turns before the menu
    double switch_confidence = 0.6;          // min confidence to offer a topic switch mid-dialog
    std::int64_t records_retention_seconds = 30LL * 24 * 3600; // self-ratings the user recorded
    int quiet_start_hour = 21;  // check-ins are never sent from this hour...
    int quiet_end_hour = 9;     // ...until this one (local time; equal = no quiet hours)
    int utc_offset_minutes = 0; // local time of the deployment's users
    // Per-conversation rate limit (a token bucket): rate_per_minute messages a minute on
    // average, up to rate_burst at once; 0 = off. Never applied to a message showing risk
    // or asking to forget, nor to the console. The shipped config turns it on.
    double rate_per_minute = 0;
    int rate_burst = 10;
};

struct core_config {
    int threads = 2;  // worker threads running turns
    int strands = 64; // conversations are hashed over this many serial queues
    std::int64_t sweep_interval_seconds = 60; // how often expired conversations are deleted
    std::int64_t checkin_poll_seconds = 30;   // how often due check-ins are looked for
};

struct log_config {
    std::string level = "info"; // "debug", "info", "warn", "error"
    bool message_text = false;  // never log what users write unless this is true
};

struct config {
    std::string root = ".";        // folder relative paths are resolved against
    std::string data_dir = "data"; // where state lives (relative to root unless absolute)
    content_config content;
    store_config store;
    conversation_config conversation;
    core_config core;
    log_config log;
    // Top-level sections the core does not know (channel adapters parse their own).
    std::map<std::string, nlohmann::json> sections;

    std::string resolve(const std::string& path) const;   // root-relative unless absolute
    std::string data_path(const std::string& file) const; // inside data_dir
};

using env_lookup = std::function<std::optional<std::string>(const std::string& name)>;
// Reads the process environment.
env_lookup process_env();

// Parses a config file. root is the folder relative paths resolve against (by default the
// config file's parent's parent when the file sits in a "config" folder, else its folder).
// Unknown core keys, wrong types and bad values are all reported.
// known_sections lists the channel sections the caller understands; any other top-level
// key is reported as "schema.unknown_key".
std::optional<config> load_config(const std::string& path, diagnostics& diags,
                                  const std::vector<std::string>& known_sections = {});
config parse_config(const nlohmann::json& j, const std::string& file, diagnostics& diags);

} // namespace tandem::bot
