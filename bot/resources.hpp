// Safety resources (helplines) by region, from config/resources.json.
#pragma once

#include "bot/diagnostics.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tandem::bot {

struct resource_entry {
    std::string label, call, text, tty, url, email, note, source;
    bool verified = false;
};

struct region_def {
    std::string code;
    std::string name;
    std::vector<std::string> aliases; // normalised words a user may type ("uk", "england")
    std::map<std::string, resource_entry> resources; // category -> entry
};

class resource_set {
  public:
    static const std::vector<std::string>& categories();

    // Loads and validates; reports "resources.*" problems.
    static std::optional<resource_set> load(const std::string& path, diagnostics& diags);

    const std::string& default_region() const { return default_region_; }
    const region_def* region(const std::string& code) const;
    // Finds a region by code or alias in normalised user text (whole words).
    std::optional<std::string> region_for(const std::string& normalized_text) const;
    // Resource lines for a category in a region: falls back to the INTL/default region,
    // then to the directory. Never empty when the default region has a directory.
    std::string render(const std::string& category, const std::string& region) const;
    // The emergency number (or label) for a region.
    std::string emergency(const std::string& region) const;
    // Entries not verified by a person (for `tandem check` warnings).
    std::vector<std::string> unverified() const;
    const std::map<std::string, region_def>& regions() const { return regions_; }

  private:
    const resource_entry* find(const std::string& category, const std::string& region) const;
    std::string default_region_ = "INTL";
    std::map<std::string, region_def> regions_;
};

} // namespace tandem::bot
