#include "bot/conversation_store.hpp"

namespace tandem::bot {

std::optional<conversation_store::versioned>
conversation_store::load_versioned(const std::string& key) {
    auto v = load(key);
    if (!v)
        return std::nullopt;
    return versioned{std::move(*v), 1};
}

std::optional<std::uint64_t> conversation_store::save_if(const std::string& key,
                                                         const std::string& state_json,
                                                         std::int64_t last_active,
                                                         std::uint64_t expected) {
    save(key, state_json, last_active);
    return expected + 1;
}

} // namespace tandem::bot
