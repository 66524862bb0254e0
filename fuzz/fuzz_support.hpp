// Shared by the libFuzzer targets: fixture paths and a scratch folder for loaders that
// read files. Each fuzzing process gets its own folder, removed when it exits.
#pragma once

#include "bot/content.hpp"
#include "bot/normalizer.hpp"

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace tandem::fuzz {

// True when s is valid UTF-8 (sanitising leaves it unchanged).
inline bool valid_utf8(const std::string& s) {
    return bot::sanitize_utf8(s) == s;
}

inline std::filesystem::path fixture_content() {
    return std::filesystem::path(TANDEM_TEST_DATA) / "content";
}

inline bot::content_paths paths_in(const std::filesystem::path& root) {
    return {(root / "intents").string(), (root / "dialogs").string(),
            (root / "resources.json").string(), (root / "locales.json").string()};
}

class scratch_dir {
  public:
    scratch_dir() {
        path_ =
            std::filesystem::temp_directory_path() / ("tandem-fuzz-" + std::to_string(::getpid()));
        std::filesystem::create_directories(path_);
    }
    ~scratch_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    const std::filesystem::path& path() const { return path_; }
    // Writes data to path()/name (creating folders) and returns the full path.
    std::string write(const std::string& name, const std::uint8_t* data, std::size_t size) const {
        auto p = path_ / name;
        std::filesystem::create_directories(p.parent_path());
        std::ofstream out(p, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
        return p.string();
    }

  private:
    std::filesystem::path path_;
};

inline const scratch_dir& scratch() {
    static scratch_dir d;
    return d;
}

// A failed property: print it and abort, so libFuzzer saves the input as a crash.
[[noreturn]] inline void fail(std::string_view what) {
    std::fprintf(stderr, "fuzz property violated: %.*s\n", static_cast<int>(what.size()),
                 what.data());
    std::abort();
}

inline void check(bool ok, std::string_view what) {
    if (!ok)
        fail(what);
}

} // namespace tandem::fuzz
