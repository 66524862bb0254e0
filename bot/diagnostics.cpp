#include "bot/diagnostics.hpp"

#include <algorithm>

namespace tandem::bot {

void diagnostics::add(std::string file, std::string pointer, std::string code,
                      std::string message) {
    items_.push_back({std::move(file), std::move(pointer), std::move(code), std::move(message)});
}

void diagnostics::append(const diagnostics& other) {
    items_.insert(items_.end(), other.items_.begin(), other.items_.end());
}

bool diagnostics::has_code(const std::string& code) const {
    return std::any_of(items_.begin(), items_.end(),
                       [&](const diagnostic& d) { return d.code == code; });
}

std::string diagnostics::to_string() const {
    std::string out;
    for (const auto& d : items_) {
        out += d.file;
        out += ':';
        out += d.pointer.empty() ? "/" : d.pointer;
        out += ": ";
        out += d.code;
        out += ": ";
        out += d.message;
        out += '\n';
    }
    return out;
}

std::string pointer_token(const std::string& key) {
    std::string out;
    for (char c : key) {
        if (c == '~')
            out += "~0";
        else if (c == '/')
            out += "~1";
        else
            out += c;
    }
    return out;
}

} // namespace tandem::bot
