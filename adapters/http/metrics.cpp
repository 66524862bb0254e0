#include "adapters/http/metrics.hpp"

#include <array>
#include <cstdio>

namespace tandem::adapters::http {

namespace {

constexpr std::array<double, 11> bucket_bounds{0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                               0.5,   1.0,  2.5,   5.0,  10.0};

std::string label(std::string_view v) {
    std::string out;
    out.reserve(v.size());
    for (char c : v) {
        if (c == '\\' || c == '"')
            out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out;
}

std::string num(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

} // namespace

void metrics::count_request(std::string_view route, int status) {
    std::lock_guard lock(mu_);
    ++requests_[{std::string(route), status}];
}

void metrics::record_turn(std::string_view channel, std::string_view topic, double seconds,
                          bool error) {
    std::lock_guard lock(mu_);
    ++turns_[{std::string(channel), std::string(topic.empty() ? "none" : topic)}];
    if (error)
        ++turn_errors_[std::string(channel)];
    auto& h = latency_[std::string(channel)];
    if (h.buckets.empty())
        h.buckets.assign(bucket_bounds.size(), 0);
    for (std::size_t i = 0; i < bucket_bounds.size(); ++i)
        if (seconds <= bucket_bounds[i])
            ++h.buckets[i];
    h.sum += seconds;
    ++h.count;
}

void metrics::count_event(std::string_view channel, std::string_view event) {
    std::lock_guard lock(mu_);
    ++events_[{std::string(channel), std::string(event)}];
}

std::uint64_t metrics::test_event_count(std::string_view channel, std::string_view event) const {
    std::lock_guard lock(mu_);
    auto it = events_.find({std::string(channel), std::string(event)});
    return it == events_.end() ? 0 : it->second;
}

std::string metrics::render() const {
    std::lock_guard lock(mu_);
    std::string out;
    out += "# HELP tandem_http_requests_total HTTP requests by route and status.\n"
           "# TYPE tandem_http_requests_total counter\n";
    for (const auto& [k, v] : requests_)
        out += "tandem_http_requests_total{route=\"" + label(k.first) + "\",status=\"" +
               std::to_string(k.second) + "\"} " + std::to_string(v) + "\n";
    out += "# HELP tandem_turns_total Turns handled by channel and topic.\n"
           "# TYPE tandem_turns_total counter\n";
    for (const auto& [k, v] : turns_)
        out += "tandem_turns_total{channel=\"" + label(k.first) + "\",topic=\"" + label(k.second) +
               "\"} " + std::to_string(v) + "\n";
    out += "# HELP tandem_turn_errors_total Turns that failed, by channel.\n"
           "# TYPE tandem_turn_errors_total counter\n";
    for (const auto& [k, v] : turn_errors_)
        out += "tandem_turn_errors_total{channel=\"" + label(k) + "\"} " + std::to_string(v) + "\n";
    out += "# HELP tandem_turn_seconds Turn latency by channel.\n"
           "# TYPE tandem_turn_seconds histogram\n";
    for (const auto& [ch, h] : latency_) {
        for (std::size_t i = 0; i < bucket_bounds.size(); ++i)
            out += "tandem_turn_seconds_bucket{channel=\"" + label(ch) + "\",le=\"" +
                   num(bucket_bounds[i]) + "\"} " + std::to_string(h.buckets[i]) + "\n";
        out += "tandem_turn_seconds_bucket{channel=\"" + label(ch) + "\",le=\"+Inf\"} " +
               std::to_string(h.count) + "\n";
        out += "tandem_turn_seconds_sum{channel=\"" + label(ch) + "\"} " + num(h.sum) + "\n";
        out += "tandem_turn_seconds_count{channel=\"" + label(ch) + "\"} " +
               std::to_string(h.count) + "\n";
    }
    out += "# HELP tandem_events_total Adapter events (duplicates, retries, failures).\n"
           "# TYPE tandem_events_total counter\n";
    for (const auto& [k, v] : events_)
        out += "tandem_events_total{channel=\"" + label(k.first) + "\",event=\"" + label(k.second) +
               "\"} " + std::to_string(v) + "\n";
    return out;
}

} // namespace tandem::adapters::http
