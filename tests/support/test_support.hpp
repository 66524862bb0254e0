// Helpers shared by the tests: paths, temporary folders, content loading.
#pragma once

#include "bot/content.hpp"

#include <filesystem>
#include <memory>
#include <random>
#include <string>

namespace tandem::test {

inline std::filesystem::path source_dir() {
    return TANDEM_SOURCE_DIR;
}
inline std::filesystem::path data_dir() {
    return TANDEM_TEST_DATA;
}
inline std::filesystem::path fixture_content() {
    return data_dir() / "content";
}

// A fresh folder under /tmp, removed when the object dies.
class temp_dir {
  public:
    temp_dir() {
        std::random_device rd;
        path_ = std::filesystem::temp_directory_path() /
                ("tandem-test-" + std::to_string(rd()) + std::to_string(rd()));
        std::filesystem::create_directories(path_);
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    const std::filesystem::path& path() const { return path_; }
    std::string str() const { return path_.string(); }

  private:
    std::filesystem::path path_;
};

inline bot::content_paths fixture_paths() {
    auto root = fixture_content();
    return {(root / "intents").string(), (root / "dialogs").string(),
            (root / "resources.json").string(), (root / "locales.json").string()};
}

inline bot::content_paths shipped_paths() {
    auto root = source_dir();
    auto locales = root / "config" / "locales.json";
    return {(root / "intents").string(), (root / "dialogs").string(),
            (root / "config" / "resources.json").string(),
            std::filesystem::exists(locales) ? locales.string() : std::string()};
}

// Loads content; the test fails (with every problem printed) when it has problems.
std::shared_ptr<const bot::content> load_ok(const bot::content_paths& paths);
// The same, loaded once per process and shared after that (content is immutable once loaded,
// as `tandem serve` shares it between every conversation): for a test case that runs many
// conversations, each on its own store, where loading again for each would only repeat the
// compile and self-test (the transcripts: 58 loads became one).
std::shared_ptr<const bot::content> load_ok_once(const bot::content_paths& paths);

} // namespace tandem::test
