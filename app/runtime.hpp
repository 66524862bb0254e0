// What every tandem command shares: common flags, config, content, store, core.
#pragma once

#include "bot/bot_service.hpp"
#include "bot/checkins.hpp"
#include "bot/config.hpp"
#include "bot/content.hpp"
#include "bot/conversation_store.hpp"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tandem::app {

// Flags every command accepts: --config FILE, --data DIR. parse_common removes them from
// args and reports bad use (missing value) in error.
struct common_options {
    std::string config_path = "config/tandem.json";
    std::string data_dir; // empty = from config
};
bool parse_common(std::vector<std::string>& args, common_options& out, std::string& error);

struct runtime {
    bot::config cfg;
    std::shared_ptr<const bot::content> content;
    std::shared_ptr<bot::conversation_store> store;
    std::shared_ptr<bot::checkin_store> checkins;
    std::unique_ptr<bot::bot_service> service;
};

// Loads config and content (printing every problem to stderr) and, when with_service,
// opens the store and starts the core. Returns nullopt after printing the problems.
std::optional<runtime> open_runtime(const common_options& opts, bool with_service);

// The content paths a config names, resolved (the locales file only when it exists).
bot::content_paths content_paths_for(const bot::config& cfg);

// Loads only the config (printing problems); nullopt on any problem.
std::optional<bot::config> open_config(const common_options& opts);

// A fingerprint of the content files (paths and modification times of intents, dialogs,
// resources and locales): it changes when an author saves a file. Used by --watch.
std::string content_stamp(const bot::config& cfg);

} // namespace tandem::app
