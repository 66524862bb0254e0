#include "process.hpp"

#include <cstdio>
#include <sys/wait.h>

namespace tandem::test {

run_result sh(const std::string& command) {
    run_result r;
    std::string full = "( " + command + " ) 2>&1";
    FILE* p = ::popen(full.c_str(), "r");
    if (!p)
        return r;
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0)
        r.out.append(buf, n);
    int st = ::pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}

std::string q(const std::string& s) {
    std::string out = "'";
    for (char c : s) {
        if (c == '\'')
            out += "'\\''";
        else
            out += c;
    }
    return out + "'";
}

} // namespace tandem::test
