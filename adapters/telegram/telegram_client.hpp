// Outbound Bot API calls (sendMessage, answerCallbackQuery, setWebhook, ...) over the shared
// http_client. Honours 429 retry_after, retries 5xx and connection failures, and never logs
// the URL (it contains the token) or message text.
#pragma once

#include "adapters/http/https_client.hpp"
#include "adapters/http/net.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <string>

namespace tandem::adapters::telegram {

struct api_result {
    bool ok = false;         // Telegram answered {"ok": true}
    int status = 0;          // HTTP status (0 when no response arrived)
    int error_code = 0;      // Telegram's error_code when ok is false
    std::string description; // Telegram's description (never contains our text)
    nlohmann::json result;   // the "result" field when ok
    int attempts = 0;
    std::string transport_error; // set when no HTTP response arrived
};

struct bot_api_settings {
    std::string api_base = "https://api.telegram.org";
    std::string token;
    std::chrono::milliseconds timeout{10000};
    int max_attempts = 4;
    std::chrono::milliseconds max_retry_wait{60000};
};

class bot_api {
  public:
    // client must outlive the bot_api.
    bot_api(http::http_client& client, bot_api_settings settings);

    // POSTs params as JSON to <api_base>/bot<token>/<method>.
    awaitable<api_result> call(std::string method, nlohmann::json params);

  private:
    http::http_client& client_;
    bot_api_settings settings_;
};

} // namespace tandem::adapters::telegram
