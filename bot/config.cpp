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
        auto& st = c.store;
        st.kind = s.string_or("kind", st.kind);
        if (st.kind != "sqlite" && st.kind != "memory" && st.kind != "redis")
            s.error("kind", "config.bad_value",
                    "store kind is \"sqlite\", \"memory\" or \"redis\", found \"" + st.kind + "\"");
        // Each field belongs to one kind; a field of another kind is a mistake worth naming.
        static const char* sqlite_keys[] = {"file", "synchronous_full", "max_bytes"};
        static const char* redis_keys[] = {
            "host",       "port",         "unix_socket",        "database",
            "key_prefix", "password_env", "connect_timeout_ms", "command_timeout_ms",
            "pool_size"};
        auto only_for = [&](const char* key, const char* kind) {
            if (s.has(key) && st.kind != kind)
                s.error(key, "config.bad_value",
                        std::string(key) + " applies to store kind \"" + kind +
                            "\" only (this store is \"" + st.kind + "\")");
        };
        if (st.kind == "sqlite" || st.kind == "memory" || st.kind == "redis") {
            for (const char* k : sqlite_keys)
                only_for(k, "sqlite");
            for (const char* k : redis_keys)
                only_for(k, "redis");
        }
        st.file = s.string_or("file", st.file);
        st.synchronous_full = s.boolean_or("synchronous_full", st.synchronous_full);
        st.max_bytes = s.integer_or("max_bytes", st.max_bytes, 0, std::int64_t{1} << 50);
        if (st.max_bytes > 0 && st.max_bytes < 65536)
            s.error("max_bytes", "config.bad_value",
                    "store max_bytes is 0 (no cap) or at least 65536");
        st.host = s.string_or("host", st.host);
        if (st.host.empty())
            s.error("host", "config.bad_value", "host cannot be empty");
        st.port = static_cast<int>(s.integer_or("port", st.port, 1, 65535));
        st.unix_socket = s.string_or("unix_socket", st.unix_socket);
        if (s.has("unix_socket") && s.has("host"))
            s.error("unix_socket", "config.bad_value",
                    "give either unix_socket or host/port, not both");
        st.database = static_cast<int>(s.integer_or("database", st.database, 0, 1000));
        st.key_prefix = s.string_or("key_prefix", st.key_prefix);
        st.password_env = s.string_or("password_env", st.password_env);
        if (s.has("password_env") && st.password_env.empty())
            s.error("password_env", "config.bad_value",
                    "password_env names an environment variable; leave it out for no password");
        st.connect_timeout_ms =
            static_cast<int>(s.integer_or("connect_timeout_ms", st.connect_timeout_ms, 1, 60000));
        st.command_timeout_ms =
            static_cast<int>(s.integer_or("command_timeout_ms", st.command_timeout_ms, 1, 60000));
        st.pool_size = static_cast<int>(s.integer_or("pool_size", st.pool_size, 1, 1024));
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
