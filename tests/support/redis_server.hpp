// A private redis-server for a test: started on a unix socket in its own temp folder (no TCP
// port), stopped at the end. A machine without redis-server fails the test that needs it:
// scripts/setup.sh installs it (scripts/packages.d/redis.txt). Header-only; POSIX.
#pragma once

#include "bot/conversation_store.hpp"
#include "bot/redis_client.hpp"
#include "child_process.hpp"
#include "test_support.hpp"

#include <chrono>
#include <csignal>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace tandem::test {

inline std::string find_redis_server() {
    for (const char* p : {"/usr/bin/redis-server", "/usr/local/bin/redis-server"})
        if (std::filesystem::exists(p))
            return p;
    throw std::runtime_error("redis-server is not installed: run scripts/setup.sh");
}

class redis_server {
  public:
    // persistent: an append-only file fsynced on every write, so a restart keeps everything.
    explicit redis_server(bool persistent = false) : persistent_(persistent) { start(); }
    ~redis_server() { stop(); }
    redis_server(const redis_server&) = delete;
    redis_server& operator=(const redis_server&) = delete;

    void start() {
        std::vector<std::string> argv{find_redis_server(),
                                      "--port",
                                      "0",
                                      "--unixsocket",
                                      socket(),
                                      "--unixsocketperm",
                                      "700",
                                      "--dir",
                                      dir_.str(),
                                      "--save",
                                      "",
                                      "--appendonly",
                                      persistent_ ? "yes" : "no",
                                      "--appendfsync",
                                      "always",
                                      "--daemonize",
                                      "no"};
        proc_ = std::make_unique<child_process>(argv, std::vector<std::string>{},
                                                std::vector<std::string>{},
                                                (dir_.path() / "redis.log").string());
        // Ready once it answers PING (a generous guard against a server that never comes up).
        bot::redis::client probe(options("probe:"));
        for (int i = 0; i < 1000; ++i) {
            if (probe.ping())
                return;
            if (proc_->wait_exit(std::chrono::milliseconds(0)))
                break;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        throw std::runtime_error("redis-server did not start:\n" + proc_->log());
    }

    // A clean shutdown (SIGTERM: redis-server writes what it must and exits).
    void stop() {
        if (!proc_)
            return;
        proc_->signal(SIGTERM);
        proc_->wait_exit(std::chrono::seconds(30));
        proc_.reset(); // SIGKILL if it is still there
        std::error_code ec;
        std::filesystem::remove(socket(), ec);
    }

    // Gone at once, as when the machine it ran on died.
    void kill() {
        if (!proc_)
            return;
        proc_->signal(SIGKILL);
        proc_->wait_exit(std::chrono::seconds(30));
        proc_.reset();
        std::error_code ec;
        std::filesystem::remove(socket(), ec);
    }

    std::string socket() const { return (dir_.path() / "redis.sock").string(); }

    bot::redis_options options(const std::string& prefix = "tandem:") const {
        bot::redis_options o;
        o.unix_socket = socket();
        o.key_prefix = prefix;
        o.connect_timeout_ms = 2000;
        o.command_timeout_ms = 10000;
        return o;
    }

  private:
    temp_dir dir_;
    bool persistent_;
    std::unique_ptr<child_process> proc_;
};

} // namespace tandem::test
