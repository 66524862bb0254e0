// Platform-neutral HTTP request and response values exchanged between the Beast server
// (http_server.cpp) and the route handlers of the webhook adapters. Handlers never see
// Beast types, so they compile fast and are easy to test.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tandem::adapters::http {

using header_list = std::vector<std::pair<std::string, std::string>>;

// Case-insensitive ASCII comparison of header names.
bool iequals(std::string_view a, std::string_view b);

// First value of the named header (case-insensitive), or empty when absent.
std::string_view find_header(const header_list& headers, std::string_view name);

// The media type of a Content-Type value, lower-cased, without parameters
// ("Application/JSON; charset=utf-8" -> "application/json").
std::string media_type(std::string_view content_type);

struct http_request {
    std::string method; // "GET", "POST", ... as sent
    std::string target; // path plus query, as sent
    std::string path;   // target without the query
    header_list headers;
    std::string body;   // raw bytes, exactly as received (signatures are checked on these)
    std::string remote; // peer address, for logs

    std::string_view header(std::string_view name) const { return find_header(headers, name); }
};

struct http_response {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    header_list headers; // extra headers (e.g. Allow, Retry-After)
    // Called once the response was written (true) or writing failed (false). Lets a handler
    // start work that must follow its answer, e.g. Discord follow-ups after a deferral.
    std::function<void(bool written)> on_sent;
};

// A JSON body {"error": code} with the given status; never contains request data.
http_response error_response(int status, std::string_view code);
http_response json_response(int status, std::string body);
http_response text_response(int status, std::string body);

} // namespace tandem::adapters::http
