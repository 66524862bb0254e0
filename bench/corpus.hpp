// A generated corpus of realistic chat messages (40-300 bytes of UTF-8) about close
// relationships: what people actually type to a bot like tandem, built from fragment
// pools with a fixed seed so every run measures the same text. Not the eval sets.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tandem::bench {

struct corpus_stats {
    std::size_t messages = 0;
    std::size_t bytes = 0;
    std::size_t min_len = 0;
    std::size_t max_len = 0;
    std::size_t median_len = 0;
    std::size_t non_ascii = 0; // messages with emoji or accented letters
};

std::vector<std::string> make_corpus(std::size_t n, std::uint64_t seed = 20261122);
corpus_stats describe(const std::vector<std::string>& corpus);

} // namespace tandem::bench
