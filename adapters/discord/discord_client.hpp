// Outbound Discord REST calls: interaction follow-ups (authorised by the interaction
// token) and command registration (authorised by the bot token). Honours 429 retry_after.
// Never logs tokens, URLs or message content.
#pragma once

#include "adapters/http/https_client.hpp"
#include "adapters/http/net.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <string>

namespace tandem::adapters::discord {

struct rest_result {
    bool ok = false;     // 2xx
    int status = 0;      // 0 when no response arrived
    nlohmann::json body; // parsed response (null when not JSON)
    int attempts = 0;
    std::string transport_error;
};

struct rest_settings {
    std::string api_base = "https://discord.com/api/v10";
    std::string bot_token; // for register_commands and DMs (check-ins); may be empty
    std::chrono::milliseconds timeout{10000};
    int max_attempts = 4;
    std::chrono::milliseconds max_retry_wait{60000};
};

class discord_api {
  public:
    // client must outlive the discord_api.
    discord_api(http::http_client& client, rest_settings settings);

    // PATCH /webhooks/{app}/{token}/messages/@original
    awaitable<rest_result> edit_original(std::string app_id, std::string token,
                                         nlohmann::json message);
    // POST /webhooks/{app}/{token}
    awaitable<rest_result> create_followup(std::string app_id, std::string token,
                                           nlohmann::json message);
    // POST /users/@me/channels (bot token): the DM channel with a user. Returns its id, or
    // an empty string when Discord refused or could not be reached.
    awaitable<std::string> open_dm(std::string user_id);
    // POST /channels/{channel}/messages (bot token).
    awaitable<rest_result> create_message(std::string channel_id, nlohmann::json message);
    // PUT /applications/{app}/commands, or .../guilds/{guild}/commands when guild_id is set.
    awaitable<rest_result> put_commands(std::string app_id, std::string guild_id,
                                        nlohmann::json commands);

  private:
    awaitable<rest_result> send(std::string method, std::string path, nlohmann::json body,
                                bool bot_auth, std::string what);

    http::http_client& client_;
    rest_settings settings_;
};

} // namespace tandem::adapters::discord
