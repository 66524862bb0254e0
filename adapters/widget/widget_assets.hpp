// The widget's web files (widget.js, the demo page and its stylesheet): embedded in the
// binary at build time from adapters/widget/web, or read from a folder (widget.assets_dir)
// so a designer can change them without rebuilding.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace tandem::adapters::widget {

struct web_asset {
    std::string name;         // file name inside web/
    std::string content_type; // with charset for text
    std::string body;
};

// The asset served at a URL path ("/" is the demo page), from dir when it is not empty,
// else from the copy built in. nullopt for any other path (or a file missing from dir).
std::optional<web_asset> find_asset(std::string_view url_path, const std::string& dir = {});

namespace detail {
struct embedded_file {
    std::string_view name;
    std::string_view body;
};
extern const embedded_file embedded_files[];
extern const std::size_t embedded_file_count;
} // namespace detail

} // namespace tandem::adapters::widget
