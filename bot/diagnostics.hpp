// Problems found while loading content or config. Loaders collect every problem and
// return them all; nothing stops at the first one.
#pragma once

#include <string>
#include <vector>

namespace tandem::bot {

struct diagnostic {
    std::string file;    // path as given to the loader
    std::string pointer; // JSON pointer inside the file ("" for the whole file)
    std::string code;    // stable rule code, e.g. "node.target_missing"
    std::string message; // what is wrong and how to fix it
};

class diagnostics {
  public:
    void add(std::string file, std::string pointer, std::string code, std::string message);
    void append(const diagnostics& other);
    bool empty() const { return items_.empty(); }
    std::size_t size() const { return items_.size(); }
    const std::vector<diagnostic>& items() const { return items_; }
    bool has_code(const std::string& code) const;
    // One line per problem: "file:/pointer: code: message".
    std::string to_string() const;

  private:
    std::vector<diagnostic> items_;
};

// Escapes one JSON-pointer token ("~" -> "~0", "/" -> "~1").
std::string pointer_token(const std::string& key);

} // namespace tandem::bot
