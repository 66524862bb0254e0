#include "bot/config.hpp"

#include "bot/json_reader.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>

namespace tandem::bot {

namespace fs = std::filesystem;

std::string config::resolve(const std::string& path) const {
    if (path.empty() || fs::path(path).is_absolute())
        return path;
    return (fs::path(root) / path).lexically_normal().string();
}

std::string config::data_path(const std::string& file) const {
    if (fs::path(file).is_absolute())
        return file;
    return (fs::path(resolve(data_dir)) / file).lexically_normal().string();
}

env_lookup process_env() {
    return [](const std::string& name) -> std::optional<std::string> {
        const char* v = std::getenv(name.c_str());
        if (!v || !*v)
            return std::nullopt;
        return std::string(v);
    };
}

config parse_config(const nlohmann::json& j, const std::string& file, diagnostics& diags) {
    config c;
    json_reader r(j, file, "", diags);
    if (!r.ok())
        return c;
    r.integer("schema_version", 1, 1);
    c.data_dir = r.string_or("data_dir", c.data_dir);
    if (c.data_dir.empty())
        r.error("data_dir", "config.bad_value", "data_dir cannot be empty");

    if (const auto* v = r.get("content")) {
        json_reader s(*v, file, "/content", diags);
        c.content.intents_dir = s.string_or("intents_dir", c.content.intents_dir);
        c.content.dialogs_dir = s.string_or("dialogs_dir", c.content.dialogs_dir);
        c.content.resources_file = s.string_or("resources_file", c.content.resources_file);
        c.content.locales_file = s.string_or("locales_file", c.content.locales_file);
        s.finish();
    }
    if (const auto* v = r.get("store")) {
        json_reader s(*v, file, "/store", diags);
        c.store.kind = s.string_or("kind", c.store.kind);
        if (c.store.kind != "sqlite" && c.store.kind != "memory")
            s.error("kind", "config.bad_value",
                    "store kind is \"sqlite\" or \"memory\", found \"" + c.store.kind + "\"");
        c.store.file = s.string_or("file", c.store.file);
        c.store.synchronous_full = s.boolean_or("synchronous_full", c.store.synchronous_full);
        c.store.max_bytes = s.integer_or("max_bytes", c.store.max_bytes, 0, std::int64_t{1} << 50);
        if (c.store.max_bytes > 0 && c.store.max_bytes < 65536)
            s.error("max_bytes", "config.bad_value",
                    "store max_bytes is 0 (no cap) or at least 65536");
        s.finish();
    }
    if (const auto* v = r.get("conversation")) {
        json_reader s(*v, file, "/conversation", diags);
        auto& cc = c.conversation;
        cc.idle_expiry_seconds =
            s.integer_or("idle_expiry_seconds", cc.idle_expiry_seconds, 0, 365LL * 24 * 3600);
        cc.default_region = s.string_or("default_region", cc.default_region);
        cc.fallbacks_before_menu = static_cast<int>(
            s.integer_or("fallbacks_before_menu", cc.fallbacks_before_menu, 1, 10));
        cc.switch_confidence = s.number_or("switch_confidence", cc.switch_confidence, 0.0, 1.0);
        cc.quiet_start_hour =
            static_cast<int>(s.integer_or("quiet_start_hour", cc.quiet_start_hour, 0, 23));
        cc.quiet_end_hour =
            static_cast<int>(s.integer_or("quiet_end_hour", cc.quiet_end_hour, 0, 23));
        cc.utc_offset_minutes = static_cast<int>(
            s.integer_or("utc_offset_minutes", cc.utc_offset_minutes, -14 * 60, 14 * 60));
        cc.records_retention_seconds = s.integer_or(
            "records_retention_seconds", cc.records_retention_seconds, 0, 365LL * 24 * 3600);
        cc.rate_per_minute = s.number_or("rate_per_minute", cc.rate_per_minute, 0.0, 6000.0);
        cc.rate_burst = static_cast<int>(s.integer_or("rate_burst", cc.rate_burst, 1, 1000));
        s.finish();
    }
    if (const auto* v = r.get("core")) {
        json_reader s(*v, file, "/core", diags);
        c.core.threads = static_cast<int>(s.integer_or("threads", c.core.threads, 1, 256));
        c.core.strands = static_cast<int>(s.integer_or("strands", c.core.strands, 1, 65536));
        c.core.sweep_interval_seconds =
            s.integer_or("sweep_interval_seconds", c.core.sweep_interval_seconds, 1, 86400);
        c.core.checkin_poll_seconds =
            s.integer_or("checkin_poll_seconds", c.core.checkin_poll_seconds, 1, 3600);
        s.finish();
    }
    if (const auto* v = r.get("log")) {
        json_reader s(*v, file, "/log", diags);
        c.log.level = s.string_or("level", c.log.level);
        if (c.log.level != "debug" && c.log.level != "info" && c.log.level != "warn" &&
            c.log.level != "error" && c.log.level != "off")
            s.error("level", "config.bad_value", "level is debug, info, warn, error or off");
        c.log.message_text = s.boolean_or("message_text", c.log.message_text);
        s.finish();
    }
    // Everything else belongs to a channel adapter, which validates its own section.
    for (const auto& [key, value] : j.items()) {
        if (!r.has(key))
            continue;
        static const char* core_keys[] = {"schema_version", "data_dir", "content", "store",
                                          "conversation",   "core",     "log"};
        bool core = false;
        for (const char* k : core_keys)
            core = core || key == k;
        if (!core) {
            r.get(key);
            c.sections[key] = value;
        }
    }
    r.finish();
    return c;
}

std::optional<config> load_config(const std::string& path, diagnostics& diags,
                                  const std::vector<std::string>& known_sections) {
    std::size_t before = diags.size();
    auto j = read_json_file(path, diags);
    if (!j)
        return std::nullopt;
    config c = parse_config(*j, path, diags);
    for (const auto& [name, _] : c.sections)
        if (std::find(known_sections.begin(), known_sections.end(), name) == known_sections.end())
            diags.add(path, "/" + pointer_token(name), "schema.unknown_key",
                      "unknown field \"" + name + "\" (check the spelling)");
    fs::path p = fs::absolute(path).lexically_normal();
    fs::path dir = p.parent_path();
    fs::path root = dir.filename() == "config" ? dir.parent_path() : dir;
    std::error_code ec;
    auto rel = fs::proximate(root, fs::current_path(ec), ec);
    c.root = (ec || rel.empty()) ? root.string() : rel.string();
    if (diags.size() != before)
        return std::nullopt;
    return c;
}

} // namespace tandem::bot
