#include "app/runtime.hpp"

#include "bot/log.hpp"
#include "bot/redis_client.hpp"

#include <filesystem>
#include <iostream>

namespace tandem::app {

// Channel sections of config/tandem.json; each adapter validates its own.
static const std::vector<std::string> known_sections = {"server", "telegram", "discord", "widget"};

bool parse_common(std::vector<std::string>& args, common_options& out, std::string& error) {
    std::vector<std::string> rest;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const auto& a = args[i];
        auto take = [&](std::string& dst) {
            if (i + 1 >= args.size() || args[i + 1].empty()) {
                error = a + " needs a value";
                return false;
            }
            dst = args[++i];
            return true;
        };
        if (a == "--config") {
            if (!take(out.config_path))
                return false;
        } else if (a.rfind("--config=", 0) == 0) {
            out.config_path = a.substr(9);
        } else if (a == "--data") {
            if (!take(out.data_dir))
                return false;
        } else if (a.rfind("--data=", 0) == 0) {
            out.data_dir = a.substr(7);
        } else {
            rest.push_back(a);
        }
    }
    args = std::move(rest);
    return true;
}

bot::content_paths content_paths_for(const bot::config& cfg) {
    std::error_code ec;
    auto locales = cfg.resolve(cfg.content.locales_file);
    return {cfg.resolve(cfg.content.intents_dir), cfg.resolve(cfg.content.dialogs_dir),
            cfg.resolve(cfg.content.resources_file),
            std::filesystem::exists(locales, ec) ? locales : std::string()};
}

std::optional<bot::config> open_config(const common_options& opts) {
    bot::diagnostics diags;
    auto cfg = bot::load_config(opts.config_path, diags, known_sections);
    if (!diags.empty()) {
        std::cerr << "tandem: the configuration has problems:\n" << diags.to_string();
        return std::nullopt;
    }
    if (!opts.data_dir.empty())
        cfg->data_dir = std::filesystem::absolute(opts.data_dir).string();
    bot::log::set_level(bot::log::parse_level(cfg->log.level));
    return cfg;
}

std::optional<runtime> open_runtime(const common_options& opts, bool with_service) {
    auto cfg = open_config(opts);
    if (!cfg)
        return std::nullopt;
    runtime rt;
    rt.cfg = std::move(*cfg);
    bot::diagnostics diags;
    rt.content = bot::content::load(content_paths_for(rt.cfg), diags);
    if (!diags.empty()) {
        std::cerr << "tandem: the content has " << diags.size()
                  << " problem(s); fix them and run `tandem check`:\n"
                  << diags.to_string();
        return std::nullopt;
    }
    if (!with_service)
        return rt;
    try {
        if (rt.cfg.store.kind == "memory") {
            rt.store = bot::make_memory_store();
            rt.checkins = bot::make_memory_checkin_store();
        } else if (rt.cfg.store.kind == "redis") {
            std::string problem;
            auto opts = bot::redis::options_from_config(rt.cfg, bot::process_env(), problem);
            if (!problem.empty()) {
                std::cerr << "tandem: " << problem << "\n";
                return std::nullopt;
            }
            rt.store = bot::make_redis_store(opts);
            // Check-ins stay with the instance that scheduled them (docs/deployment.md).
            rt.checkins = bot::make_memory_checkin_store();
        } else {
            auto file = rt.cfg.data_path(rt.cfg.store.file);
            rt.store =
                bot::make_sqlite_store(file, rt.cfg.store.synchronous_full, rt.cfg.store.max_bytes);
            rt.checkins = bot::make_sqlite_checkin_store(file);
        }
    } catch (const bot::store_error& e) {
        std::cerr << "tandem: cannot open the conversation store: " << e.what() << "\n";
        return std::nullopt;
    }
    rt.service = std::make_unique<bot::bot_service>(rt.content, rt.store, rt.cfg, rt.checkins);
    return rt;
}

std::string content_stamp(const bot::config& cfg) {
    namespace fs = std::filesystem;
    std::string s;
    std::error_code ec;
    for (const auto& dir : {cfg.content.intents_dir, cfg.content.dialogs_dir}) {
        for (const auto& e : fs::recursive_directory_iterator(cfg.resolve(dir), ec)) {
            auto t = fs::last_write_time(e.path(), ec);
            s += e.path().string() + "@" + std::to_string(t.time_since_epoch().count()) + ";";
        }
    }
    for (const auto& f : {cfg.content.resources_file, cfg.content.locales_file}) {
        auto t = fs::last_write_time(cfg.resolve(f), ec);
        s += std::to_string(ec ? 0 : t.time_since_epoch().count()) + ";";
    }
    return s;
}

} // namespace tandem::app
