#include "adapters/http/http_message.hpp"
#include "adapters/http/router.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace tandem::adapters::http {

namespace {
char lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}
} // namespace

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size())
        return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i]))
            return false;
    return true;
}

std::string_view find_header(const header_list& headers, std::string_view name) {
    for (const auto& [k, v] : headers)
        if (iequals(k, name))
            return v;
    return {};
}

std::string media_type(std::string_view content_type) {
    auto semi = content_type.find(';');
    std::string_view t = content_type.substr(0, semi);
    while (!t.empty() && (t.front() == ' ' || t.front() == '\t'))
        t.remove_prefix(1);
    while (!t.empty() && (t.back() == ' ' || t.back() == '\t'))
        t.remove_suffix(1);
    std::string out(t);
    std::transform(out.begin(), out.end(), out.begin(), lower);
    return out;
}

http_response error_response(int status, std::string_view code) {
    http_response r;
    r.status = status;
    r.body = nlohmann::json{{"error", std::string(code)}}.dump();
    return r;
}

http_response json_response(int status, std::string body) {
    http_response r;
    r.status = status;
    r.body = std::move(body);
    return r;
}

http_response text_response(int status, std::string body) {
    http_response r;
    r.status = status;
    r.content_type = "text/plain; charset=utf-8";
    r.body = std::move(body);
    return r;
}

// --- router ---------------------------------------------------------------

void router::add(route r) {
    if (r.label.empty())
        r.label = r.path;
    routes_.push_back(std::move(r));
}

const route* router::find(std::string_view path) const {
    const route* best = nullptr;
    for (const auto& r : routes_) {
        if (!r.prefix && r.path == path)
            return &r;
        if (r.prefix && path.substr(0, r.path.size()) == r.path &&
            (!best || best->path.size() < r.path.size()))
            best = &r;
    }
    return best;
}

bool router::allows(const route& r, std::string_view method) const {
    return std::find(r.methods.begin(), r.methods.end(), method) != r.methods.end();
}

std::string router::allow_header(const route& r) {
    std::string out;
    for (const auto& m : r.methods) {
        if (!out.empty())
            out += ", ";
        out += m;
    }
    return out;
}

} // namespace tandem::adapters::http
