#include "bot/conversation_store.hpp"

#include <map>
#include <mutex>

namespace tandem::bot {
namespace {

class memory_store final : public conversation_store {
  public:
    std::optional<std::string> load(const std::string& key) override {
        std::lock_guard lock(mu_);
        auto it = rows_.find(key);
        if (it == rows_.end())
            return std::nullopt;
        return it->second.json;
    }
    std::optional<versioned> load_versioned(const std::string& key) override {
        std::lock_guard lock(mu_);
        auto it = rows_.find(key);
        if (it == rows_.end())
            return std::nullopt;
        return versioned{it->second.json, it->second.version};
    }
    void save(const std::string& key, const std::string& json, std::int64_t last) override {
        std::lock_guard lock(mu_);
        auto& r = rows_[key];
        r.json = json;
        r.last = last;
        ++r.version;
    }
    std::optional<std::uint64_t> save_if(const std::string& key, const std::string& json,
                                         std::int64_t last, std::uint64_t expected) override {
        std::lock_guard lock(mu_);
        auto it = rows_.find(key);
        std::uint64_t current = it == rows_.end() ? 0 : it->second.version;
        if (current != expected)
            return std::nullopt;
        auto& r = rows_[key];
        r.json = json;
        r.last = last;
        r.version = expected + 1;
        return r.version;
    }
    bool erase(const std::string& key) override {
        std::lock_guard lock(mu_);
        return rows_.erase(key) > 0;
    }
    std::size_t erase_idle_before(std::int64_t cutoff) override {
        std::lock_guard lock(mu_);
        std::size_t n = 0;
        for (auto it = rows_.begin(); it != rows_.end();) {
            if (it->second.last < cutoff) {
                it = rows_.erase(it);
                ++n;
            } else {
                ++it;
            }
        }
        return n;
    }
    std::size_t size() override {
        std::lock_guard lock(mu_);
        return rows_.size();
    }

  private:
    struct row {
        std::string json;
        std::int64_t last = 0;
        std::uint64_t version = 0;
    };
    std::mutex mu_;
    std::map<std::string, row> rows_;
};

} // namespace

std::shared_ptr<conversation_store> make_memory_store() {
    return std::make_shared<memory_store>();
}

} // namespace tandem::bot
