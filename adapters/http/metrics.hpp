// Process-wide counters for /metrics in the Prometheus text format (version 0.0.4).
// Labels are closed sets chosen by code (route labels, channel names, topic ids from
// content, event names): never request paths, user ids or message text. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace tandem::adapters::http {

class metrics {
  public:
    void count_request(std::string_view route, int status);
    // One finished turn: its channel, the core's topic, wall time and whether it failed.
    void record_turn(std::string_view channel, std::string_view topic, double seconds, bool error);
    // Named events per channel, e.g. "duplicate_update", "outbound_failed", "deferred".
    void count_event(std::string_view channel, std::string_view event);
    std::string render() const;

    std::uint64_t test_event_count(std::string_view channel, std::string_view event) const;

  private:
    struct histogram {
        std::vector<std::uint64_t> buckets; // cumulative at render time
        double sum = 0;
        std::uint64_t count = 0;
    };
    mutable std::mutex mu_;
    std::map<std::pair<std::string, int>, std::uint64_t> requests_;
    std::map<std::pair<std::string, std::string>, std::uint64_t> turns_;
    std::map<std::string, std::uint64_t> turn_errors_;
    std::map<std::string, histogram> latency_;
    std::map<std::pair<std::string, std::string>, std::uint64_t> events_;
};

} // namespace tandem::adapters::http
