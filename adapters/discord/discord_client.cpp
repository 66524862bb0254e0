#include "adapters/discord/discord_client.hpp"

#include "bot/log.hpp"

namespace tandem::adapters::discord {

using nlohmann::json;

discord_api::discord_api(http::http_client& client, rest_settings settings)
    : client_(client), settings_(std::move(settings)) {}

namespace {

void log_failure(const std::string& what, const rest_result& r) {
    bot::log::warn("discord.api_failed", {{"call", what},
                                          {"status", r.status},
                                          {"error", r.transport_error},
                                          {"attempts", r.attempts}});
}

} // namespace

awaitable<rest_result> discord_api::send(std::string method, std::string path, json body,
                                         bool bot_auth, std::string what) {
    http::client_request req;
    req.method = std::move(method);
    req.url = settings_.api_base + path;
    req.body = body.dump();
    req.timeout = settings_.timeout;
    // Discord asks every API client to identify itself this way.
    req.headers.emplace_back("User-Agent", "DiscordBot (https://github.com/tandem-bot, 0.1.0)");
    if (bot_auth)
        req.headers.emplace_back("Authorization", "Bot " + settings_.bot_token);
    http::retry_policy policy;
    policy.max_attempts = settings_.max_attempts;
    policy.max_wait = settings_.max_retry_wait;
    policy.retry_after =
        [](const http::client_response& r) -> std::optional<std::chrono::milliseconds> {
        json j = json::parse(r.body, nullptr, false);
        if (j.is_object())
            if (auto ra = j.find("retry_after"); ra != j.end() && ra->is_number())
                return std::chrono::milliseconds(
                    static_cast<std::int64_t>(ra->get<double>() * 1000 + 0.5));
        return std::nullopt;
    };
    auto res = co_await client_.request_with_retry(std::move(req), std::move(policy));
    rest_result out;
    out.attempts = res.attempts;
    if (res.ec) {
        out.transport_error = res.ec.message();
    } else {
        out.status = res.response.status;
        out.ok = out.status >= 200 && out.status < 300;
        out.body = json::parse(res.response.body, nullptr, false);
        if (out.body.is_discarded())
            out.body = nullptr;
    }
    if (!out.ok)
        log_failure(what, out);
    co_return out;
}

awaitable<rest_result> discord_api::edit_original(std::string app_id, std::string token,
                                                  json message) {
    return send("PATCH", "/webhooks/" + app_id + "/" + token + "/messages/@original",
                std::move(message), false, "edit_original");
}

awaitable<rest_result> discord_api::create_followup(std::string app_id, std::string token,
                                                    json message) {
    return send("POST", "/webhooks/" + app_id + "/" + token, std::move(message), false,
                "create_followup");
}

awaitable<std::string> discord_api::open_dm(std::string user_id) {
    json body = json::object();
    body["recipient_id"] = std::move(user_id);
    auto r = co_await send("POST", "/users/@me/channels", std::move(body), true, "open_dm");
    if (r.ok && r.body.is_object())
        if (auto id = r.body.find("id"); id != r.body.end() && id->is_string())
            co_return id->get<std::string>();
    co_return std::string();
}

awaitable<rest_result> discord_api::create_message(std::string channel_id, json message) {
    return send("POST", "/channels/" + channel_id + "/messages", std::move(message), true,
                "create_message");
}

awaitable<rest_result> discord_api::put_commands(std::string app_id, std::string guild_id,
                                                 json commands) {
    std::string path = guild_id.empty()
                           ? "/applications/" + app_id + "/commands"
                           : "/applications/" + app_id + "/guilds/" + guild_id + "/commands";
    return send("PUT", path, std::move(commands), true, "put_commands");
}

} // namespace tandem::adapters::discord
