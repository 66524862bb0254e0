#include "adapters/telegram/telegram_client.hpp"

#include "bot/log.hpp"

namespace tandem::adapters::telegram {

using nlohmann::json;

bot_api::bot_api(http::http_client& client, bot_api_settings settings)
    : client_(client), settings_(std::move(settings)) {}

awaitable<api_result> bot_api::call(std::string method, json params) {
    http::client_request req;
    req.method = "POST";
    req.url = settings_.api_base + "/bot" + settings_.token + "/" + method;
    req.body = params.dump();
    req.timeout = settings_.timeout;
    http::retry_policy policy;
    policy.max_attempts = settings_.max_attempts;
    policy.max_wait = settings_.max_retry_wait;
    policy.retry_after =
        [](const http::client_response& r) -> std::optional<std::chrono::milliseconds> {
        json j = json::parse(r.body, nullptr, false);
        if (j.is_object())
            if (auto p = j.find("parameters"); p != j.end() && p->is_object())
                if (auto ra = p->find("retry_after"); ra != p->end() && ra->is_number())
                    return std::chrono::milliseconds(
                        static_cast<std::int64_t>(ra->get<double>() * 1000));
        return std::nullopt;
    };
    auto res = co_await client_.request_with_retry(std::move(req), std::move(policy));
    api_result out;
    out.attempts = res.attempts;
    if (res.ec) {
        out.transport_error = res.ec.message();
        bot::log::warn(
            "telegram.api_failed",
            {{"method", method}, {"error", out.transport_error}, {"attempts", out.attempts}});
        co_return out;
    }
    out.status = res.response.status;
    json j = json::parse(res.response.body, nullptr, false);
    if (j.is_object()) {
        auto ok = j.find("ok");
        out.ok = ok != j.end() && ok->is_boolean() && ok->get<bool>();
        if (auto r = j.find("result"); r != j.end())
            out.result = *r;
        if (auto d = j.find("description"); d != j.end() && d->is_string())
            out.description = d->get<std::string>();
        if (auto e = j.find("error_code"); e != j.end() && e->is_number_integer())
            out.error_code = e->get<int>();
    }
    if (!out.ok)
        bot::log::warn("telegram.api_error", {{"method", method},
                                              {"status", out.status},
                                              {"error_code", out.error_code},
                                              {"description", out.description},
                                              {"attempts", out.attempts}});
    co_return out;
}

} // namespace tandem::adapters::telegram
