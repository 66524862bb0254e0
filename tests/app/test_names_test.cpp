// ctest knows Catch2 test cases by name (catch_discover_tests). A name with ';' is cut at
// the ';' (CMake's list separator), so ctest runs a filter that matches nothing, and Catch2
// reports success: the test silently never runs. Six tests were in that state.
#include "../support/test_support.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

using namespace tandem;
namespace fs = std::filesystem;

namespace {
// The names of the TEST_CASEs in a source file (adjacent string literals joined).
std::vector<std::string> test_names(const std::string& src) {
    std::vector<std::string> out;
    for (std::size_t p = 0; (p = src.find("TEST_CASE(", p)) != std::string::npos;) {
        bool at_line_start = p == 0 || src[p - 1] == '\n';
        p += 10;
        if (!at_line_start)
            continue;
        std::string name;
        for (;;) {
            while (p < src.size() && std::isspace(static_cast<unsigned char>(src[p])))
                ++p;
            if (p >= src.size() || src[p] != '"')
                break;
            auto e = src.find('"', p + 1);
            if (e == std::string::npos)
                break;
            name += src.substr(p + 1, e - p - 1);
            p = e + 1;
        }
        out.push_back(name);
    }
    return out;
}
} // namespace

TEST_CASE("tests: no test case name has a semicolon (ctest would skip it)", "[tests]") {
    std::vector<std::string> bad;
    std::size_t names = 0;
    for (const auto& e : fs::recursive_directory_iterator(test::source_dir() / "tests")) {
        if (e.path().extension() != ".cpp" ||
            e.path().string().find("node_modules") != std::string::npos)
            continue;
        std::ifstream in(e.path());
        std::stringstream ss;
        ss << in.rdbuf();
        for (const auto& n : test_names(ss.str())) {
            ++names;
            if (n.find(';') != std::string::npos)
                bad.push_back(e.path().filename().string() + ": " + n);
        }
    }
    CHECK(names > 200);
    for (const auto& b : bad)
        UNSCOPED_INFO(b);
    CHECK(bad.empty());
    // The scan does see a ';' (so the test can fail).
    auto probe = test_names("TEST_CASE(\"a; b\" \"c\", \"[x]\")");
    REQUIRE(probe.size() == 1);
    CHECK(probe[0] == "a; bc");
}
