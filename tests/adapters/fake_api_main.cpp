// fake_platform_api: the tests' fake Bot API / Discord API as a program, for load tests
// (bench/webhooks/telegram_load.sh). Listens on 127.0.0.1 (port from argv[1], default any),
// prints its base URL on stdout, answers every call with {"ok":true,...}, and on SIGINT or
// SIGTERM prints how many calls it answered and exits.
#include "test_support.hpp"

#include <boost/asio/signal_set.hpp>

#include <csignal>
#include <iostream>

int main(int argc, char** argv) {
    using namespace tandem::test;
    net::io_context ioc;
    std::uint16_t port = argc > 1 ? static_cast<std::uint16_t>(std::stoi(argv[1])) : 0;
    fake_api api(ioc, R"({"ok":true,"result":{"message_id":1}})", port, /*record=*/false);
    std::cout << api.base() << std::endl;
    net::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&](auto, int) {
        std::cout << "calls " << api.count() << std::endl;
        ioc.stop();
    });
    ioc.run();
    return 0;
}
