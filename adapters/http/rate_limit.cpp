#include "adapters/http/rate_limit.hpp"

#include <algorithm>
#include <cmath>

namespace tandem::adapters::http {

source_limiter::source_limiter(double per_minute, int burst, std::size_t max_sources)
    : per_second_(per_minute / 60.0), burst_(std::max(1, burst)),
      max_sources_(std::max<std::size_t>(1, max_sources)) {}

source_limiter::decision source_limiter::take(const std::string& source, clock::time_point now) {
    std::lock_guard lock(mu_);
    auto it = buckets_.find(source);
    if (it == buckets_.end()) {
        if (buckets_.size() >= max_sources_)
            prune(now);
        it = buckets_.emplace(source, bucket{burst_, now}).first;
    }
    auto& b = it->second;
    double secs = std::chrono::duration<double>(now - b.at).count();
    if (secs > 0)
        b.tokens = std::min(burst_, b.tokens + secs * per_second_);
    b.at = std::max(b.at, now);
    if (b.tokens >= 1) {
        b.tokens -= 1;
        return {};
    }
    double wait = per_second_ > 0 ? (1 - b.tokens) / per_second_ : 60;
    return {false, std::max(1, static_cast<int>(std::ceil(wait)))};
}

void source_limiter::prune(clock::time_point now) {
    // Drop every bucket that has refilled by now; if none has, drop the fullest half.
    for (auto it = buckets_.begin(); it != buckets_.end();) {
        double secs = std::chrono::duration<double>(now - it->second.at).count();
        if (it->second.tokens + secs * per_second_ >= burst_)
            it = buckets_.erase(it);
        else
            ++it;
    }
    while (buckets_.size() >= max_sources_)
        buckets_.erase(buckets_.begin());
}

std::size_t source_limiter::sources() const {
    std::lock_guard lock(mu_);
    return buckets_.size();
}

std::string client_source(std::string_view remote, std::string_view forwarded_for,
                          bool trust_forwarded_for) {
    if (!trust_forwarded_for || forwarded_for.empty())
        return std::string(remote);
    auto comma = forwarded_for.rfind(',');
    auto last = comma == std::string_view::npos ? forwarded_for : forwarded_for.substr(comma + 1);
    while (!last.empty() && last.front() == ' ')
        last.remove_prefix(1);
    while (!last.empty() && last.back() == ' ')
        last.remove_suffix(1);
    return last.empty() ? std::string(remote) : std::string(last);
}

} // namespace tandem::adapters::http
