// Per-source rate limits for the routes strangers reach directly (the widget's pages, its
// HTTP fallback and its WebSocket): a token bucket per client address. Webhooks are not
// limited this way: their requests come from the platforms' few addresses.
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace tandem::adapters::http {

class source_limiter {
  public:
    using clock = std::chrono::steady_clock;
    // per_minute on average, up to burst at once. At most max_sources buckets are kept;
    // beyond, buckets that refilled are dropped first (a full bucket is no bucket).
    source_limiter(double per_minute, int burst, std::size_t max_sources = 100000);

    struct decision {
        bool allowed = true;
        int retry_after_seconds = 0; // when refused: until a request will pass (>= 1)
    };
    // Thread-safe.
    decision take(const std::string& source, clock::time_point now = clock::now());
    std::size_t sources() const;

  private:
    struct bucket {
        double tokens = 0;
        clock::time_point at;
    };
    void prune(clock::time_point now);

    double per_second_;
    double burst_;
    std::size_t max_sources_;
    mutable std::mutex mu_;
    std::unordered_map<std::string, bucket> buckets_;
};

// The client address for limits: with trust_forwarded_for (a reverse proxy in front), the
// last address of X-Forwarded-For (the one the proxy added), else the peer address.
std::string client_source(std::string_view remote, std::string_view forwarded_for,
                          bool trust_forwarded_for);

} // namespace tandem::adapters::http
