// Runs the tandem binary (or a shell command) and captures what it prints.
#pragma once

#include <string>

namespace tandem::test {

struct run_result {
    int status = -1; // exit code
    std::string out; // stdout and stderr, in order
};

// Runs `sh -c command` with stderr merged into stdout.
run_result sh(const std::string& command);
// Quotes a string for the shell.
std::string q(const std::string& s);
// The tandem binary under test.
inline std::string tandem_bin() {
    return TANDEM_BINARY;
}

} // namespace tandem::test
