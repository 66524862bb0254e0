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
    // Per language: {"label", "note"} in that language (numbers and addresses stay as they are).
    std::map<std::string, std::map<std::string, std::string>> translations;
};

// The words a language uses to render resource lines ("call 988" / "llama al 988").
struct resource_words {
    std::string call = "call", text = "text", tty = "TTY", email = "email";
    std::string emergency = "your local emergency number"; // when a region has none
};

struct region_def {
    std::string code;
    std::string name;
    std::vector<std::string> aliases;         // normalised words a user may type ("uk", "england")
    std::map<std::string, std::string> names; // the region's name per language
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
    // A copy that renders in a language: translated labels, notes and region names where
    // the file has them, and that language's words ("languages" in the file).
    resource_set localized(const std::string& language) const;

  private:
    const resource_entry* find(const std::string& category, const std::string& region) const;
    std::string default_region_ = "INTL";
    std::map<std::string, region_def> regions_;
    std::map<std::string, resource_words> languages_;
    resource_words words_;
};

} // namespace tandem::bot
