// Helpers for the widget tests: a core on the fixture content, a way to run coroutines to
// completion, and a subscriber that records what the hub sends it.
#pragma once

#include "../../support/test_support.hpp"

#include "adapters/widget/widget_hub.hpp"
#include "bot/bot_service.hpp"
#include "bot/conversation_store.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <future>
#include <mutex>

namespace tandem::test {

namespace net = boost::asio;

// Runs ioc until the awaitable finishes; returns its value.
template <class T> T run_until_done(net::io_context& ioc, net::awaitable<T> a) {
    auto fut = net::co_spawn(ioc, std::move(a), net::use_future);
    while (fut.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
        ioc.restart();
        ioc.run_for(std::chrono::milliseconds(5));
    }
    return fut.get();
}

// The real core on the fixture content, in memory.
struct core_fixture {
    std::shared_ptr<bot::conversation_store> store = bot::make_memory_store();
    std::shared_ptr<bot::checkin_store> checkins = bot::make_memory_checkin_store();
    bot::config cfg;
    std::unique_ptr<bot::bot_service> service;
    core_fixture() {
        service =
            std::make_unique<bot::bot_service>(load_ok(fixture_paths()), store, cfg, checkins);
    }
    ~core_fixture() { service->stop(); }
};

class recorder : public adapters::widget::subscriber {
  public:
    bool push(const nlohmann::json& f) override {
        std::lock_guard lock(mu);
        if (frames.size() >= capacity)
            return false;
        frames.push_back(f);
        return true;
    }
    void detached(const std::string& id) override {
        std::lock_guard lock(mu);
        detached_from.push_back(id);
    }
    // Frames of one type.
    std::vector<nlohmann::json> of(const std::string& type) {
        std::lock_guard lock(mu);
        std::vector<nlohmann::json> out;
        for (const auto& f : frames)
            if (f["type"] == type)
                out.push_back(f);
        return out;
    }
    // The seq of every conversation frame, in arrival order.
    std::vector<std::uint64_t> seqs() {
        std::lock_guard lock(mu);
        std::vector<std::uint64_t> out;
        for (const auto& f : frames)
            if (f.contains("seq") && (f["type"] == "user" || f["type"] == "bot"))
                out.push_back(f["seq"].get<std::uint64_t>());
        return out;
    }
    std::mutex mu;
    std::vector<nlohmann::json> frames;
    std::vector<std::string> detached_from;
    std::size_t capacity = 100000;
};

} // namespace tandem::test
