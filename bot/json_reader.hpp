// Typed, diagnosing access to one JSON object of a content or config file.
//
// Every accessor records the key as known; finish() reports every key that was never
// asked for as "schema.unknown_key", so typos in content and config are caught.
// Type errors and missing required keys are reported with the file and JSON pointer;
// accessors then return the default, so loading goes on and every problem is found.
#pragma once

#include "bot/diagnostics.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace tandem::bot {

class json_reader {
  public:
    // Reports "schema.type" when value is not an object (ok() is then false).
    json_reader(const nlohmann::json& value, std::string file, std::string pointer,
                diagnostics& diags);

    bool ok() const { return ok_; }
    const std::string& file() const { return file_; }
    const std::string& pointer() const { return pointer_; }
    std::string path(const std::string& key) const;
    diagnostics& diags() const { return diags_; }

    bool has(const std::string& key) const;
    // Raw access; marks the key as known. nullptr when absent (reported when required).
    const nlohmann::json* get(const std::string& key, bool required = false);

    std::optional<std::string> string(const std::string& key, bool required = false);
    std::string string_or(const std::string& key, std::string fallback);
    std::optional<std::int64_t> integer(const std::string& key, std::int64_t min, std::int64_t max,
                                        bool required = false);
    std::int64_t integer_or(const std::string& key, std::int64_t fallback, std::int64_t min,
                            std::int64_t max);
    double number_or(const std::string& key, double fallback, double min, double max);
    bool boolean_or(const std::string& key, bool fallback);
    // A list of strings; a single string is accepted as a one-item list when allow_single.
    std::vector<std::string> string_list(const std::string& key, bool required = false,
                                         bool allow_single = false);

    // Reports every key of the object that no accessor asked for.
    void finish();

    void error(const std::string& key, const std::string& code, const std::string& message);

  private:
    const nlohmann::json& value_;
    std::string file_;
    std::string pointer_;
    diagnostics& diags_;
    bool ok_;
    std::set<std::string> known_;
};

// Reads a JSON file (comments allowed). Reports "file.read" or "json.parse" and returns
// nullopt on failure.
std::optional<nlohmann::json> read_json_file(const std::string& path, diagnostics& diags);

// JSON type name for messages ("string", "object", ...).
std::string json_type_name(const nlohmann::json& v);

} // namespace tandem::bot
