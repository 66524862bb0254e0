// Runs a program in the background (for servers under test): its stdout and stderr go to
// a log file the test reads, and the test sends it signals and waits for its exit.
// Header-only; POSIX.
#pragma once

#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <fstream>
#include <optional>
#include <spawn.h>
#include <sstream>
#include <stdexcept>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <vector>

extern char** environ;

namespace tandem::test {

class child_process {
  public:
    // Starts argv (argv[0] is a path) with this process's environment, minus the variables
    // named in unset, plus set ("NAME=value"). Output is appended to log_path.
    child_process(const std::vector<std::string>& argv, const std::vector<std::string>& set,
                  const std::vector<std::string>& unset, std::string log_path)
        : log_path_(std::move(log_path)) {
        std::vector<std::string> env;
        for (char** e = environ; *e; ++e) {
            std::string kv(*e);
            auto name = kv.substr(0, kv.find('='));
            bool drop = false;
            for (const auto& u : unset)
                drop = drop || u == name;
            for (const auto& s : set)
                drop = drop || s.substr(0, s.find('=')) == name;
            if (!drop)
                env.push_back(kv);
        }
        env.insert(env.end(), set.begin(), set.end());
        std::vector<char*> cargv, cenv;
        for (const auto& a : argv)
            cargv.push_back(const_cast<char*>(a.c_str()));
        cargv.push_back(nullptr);
        for (const auto& e : env)
            cenv.push_back(const_cast<char*>(e.c_str()));
        cenv.push_back(nullptr);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 1, log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                         0600);
        posix_spawn_file_actions_adddup2(&fa, 1, 2);
        int rc = posix_spawn(&pid_, cargv[0], &fa, nullptr, cargv.data(), cenv.data());
        posix_spawn_file_actions_destroy(&fa);
        if (rc != 0)
            throw std::runtime_error("cannot start " + argv[0]);
    }
    ~child_process() {
        if (!exited_) {
            ::kill(pid_, SIGKILL);
            int st = 0;
            ::waitpid(pid_, &st, 0);
        }
    }
    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;

    void signal(int sig) const { ::kill(pid_, sig); }

    // The exit code once the process ended within limit (-1 when killed by a signal), or
    // nullopt while it still runs.
    std::optional<int> wait_exit(std::chrono::milliseconds limit) {
        auto end = std::chrono::steady_clock::now() + limit;
        for (;;) {
            int st = 0;
            if (::waitpid(pid_, &st, WNOHANG) == pid_) {
                exited_ = true;
                return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
            }
            if (std::chrono::steady_clock::now() > end)
                return std::nullopt;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    }

    // Everything it printed so far.
    std::string log() const {
        std::ifstream in(log_path_, std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }

  private:
    std::string log_path_;
    pid_t pid_ = -1;
    bool exited_ = false;
};

} // namespace tandem::test
