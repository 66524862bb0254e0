// Starting several threads at the same moment, for the tests that race stores and services.
#pragma once

#include <atomic>
#include <thread>
#include <vector>

namespace tandem::test {

// Runs fn(thread index) on n threads, released together once all have started, and waits
// for them.
template <class F> void on_threads(int n, F fn) {
    std::atomic<int> ready{0};
    std::vector<std::thread> ts;
    for (int i = 0; i < n; ++i)
        ts.emplace_back([&, i] {
            ready.fetch_add(1);
            while (ready.load() < n)
                std::this_thread::yield();
            fn(i);
        });
    for (auto& t : ts)
        t.join();
}

} // namespace tandem::test
