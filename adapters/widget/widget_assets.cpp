#include "adapters/widget/widget_assets.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace tandem::adapters::widget {

namespace {

struct known_asset {
    std::string_view url;
    std::string_view name;
    std::string_view type;
};

// Only these are ever served: a URL never becomes a file path by itself.
constexpr known_asset known[] = {
    {"/widget.js", "widget.js", "text/javascript; charset=utf-8"},
    {"/", "index.html", "text/html; charset=utf-8"},
    {"/index.html", "index.html", "text/html; charset=utf-8"},
    {"/demo.css", "demo.css", "text/css; charset=utf-8"},
    {"/favicon.svg", "favicon.svg", "image/svg+xml"},
};

} // namespace

std::optional<web_asset> find_asset(std::string_view url_path, const std::string& dir) {
    for (const auto& k : known) {
        if (k.url != url_path)
            continue;
        web_asset a{std::string(k.name), std::string(k.type), {}};
        if (!dir.empty()) {
            std::ifstream in(std::filesystem::path(dir) / k.name, std::ios::binary);
            if (!in)
                return std::nullopt;
            std::ostringstream ss;
            ss << in.rdbuf();
            a.body = ss.str();
            return a;
        }
        for (std::size_t i = 0; i < detail::embedded_file_count; ++i)
            if (detail::embedded_files[i].name == k.name) {
                a.body = std::string(detail::embedded_files[i].body);
                return a;
            }
        return std::nullopt;
    }
    return std::nullopt;
}

} // namespace tandem::adapters::widget
