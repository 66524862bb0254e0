#include "bot/json_reader.hpp"

#include "bot/normalizer.hpp"

#include <fstream>
#include <sstream>
#include <unordered_set>
#include <vector>

namespace tandem::bot {

std::string json_type_name(const nlohmann::json& v) {
    switch (v.type()) {
    case nlohmann::json::value_t::null:
        return "null";
    case nlohmann::json::value_t::object:
        return "object";
    case nlohmann::json::value_t::array:
        return "array";
    case nlohmann::json::value_t::string:
        return "string";
    case nlohmann::json::value_t::boolean:
        return "boolean";
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
        return "integer";
    case nlohmann::json::value_t::number_float:
        return "number";
    default:
        return "value";
    }
}

json_reader::json_reader(const nlohmann::json& value, std::string file, std::string pointer,
                         diagnostics& diags)
    : value_(value), file_(std::move(file)), pointer_(std::move(pointer)), diags_(diags),
      ok_(value.is_object()) {
    if (!ok_)
        diags_.add(file_, pointer_, "schema.type",
                   "expected an object, found " + json_type_name(value));
}

std::string json_reader::path(const std::string& key) const {
    return pointer_ + "/" + pointer_token(key);
}

bool json_reader::has(const std::string& key) const {
    return ok_ && value_.contains(key);
}

void json_reader::error(const std::string& key, const std::string& code,
                        const std::string& message) {
    diags_.add(file_, key.empty() ? pointer_ : path(key), code, message);
}

const nlohmann::json* json_reader::get(const std::string& key, bool required) {
    known_.insert(key);
    if (!ok_)
        return nullptr;
    auto it = value_.find(key);
    if (it == value_.end()) {
        if (required)
            diags_.add(file_, pointer_, "schema.missing", "missing required field \"" + key + "\"");
        return nullptr;
    }
    return &*it;
}

std::optional<std::string> json_reader::string(const std::string& key, bool required) {
    const auto* v = get(key, required);
    if (!v)
        return std::nullopt;
    if (!v->is_string()) {
        error(key, "schema.type", "expected a string, found " + json_type_name(*v));
        return std::nullopt;
    }
    return v->get<std::string>();
}

std::string json_reader::string_or(const std::string& key, std::string fallback) {
    auto s = string(key);
    return s ? *s : std::move(fallback);
}

std::optional<std::int64_t> json_reader::integer(const std::string& key, std::int64_t min,
                                                 std::int64_t max, bool required) {
    const auto* v = get(key, required);
    if (!v)
        return std::nullopt;
    if (!v->is_number_integer()) {
        error(key, "schema.type", "expected an integer, found " + json_type_name(*v));
        return std::nullopt;
    }
    auto n = v->get<std::int64_t>();
    if (v->is_number_unsigned() && v->get<std::uint64_t>() > static_cast<std::uint64_t>(max))
        n = max + (max < INT64_MAX ? 1 : 0);
    if (n < min || n > max) {
        error(key, "schema.range",
              "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                  ", found " + v->dump());
        return std::nullopt;
    }
    return n;
}

std::int64_t json_reader::integer_or(const std::string& key, std::int64_t fallback,
                                     std::int64_t min, std::int64_t max) {
    auto n = integer(key, min, max);
    return n ? *n : fallback;
}

double json_reader::number_or(const std::string& key, double fallback, double min, double max) {
    const auto* v = get(key);
    if (!v)
        return fallback;
    if (!v->is_number()) {
        error(key, "schema.type", "expected a number, found " + json_type_name(*v));
        return fallback;
    }
    double d = v->get<double>();
    if (!(d >= min && d <= max)) {
        error(key, "schema.range",
              "must be between " + std::to_string(min) + " and " + std::to_string(max));
        return fallback;
    }
    return d;
}

bool json_reader::boolean_or(const std::string& key, bool fallback) {
    const auto* v = get(key);
    if (!v)
        return fallback;
    if (!v->is_boolean()) {
        error(key, "schema.type", "expected true or false, found " + json_type_name(*v));
        return fallback;
    }
    return v->get<bool>();
}

std::vector<std::string> json_reader::string_list(const std::string& key, bool required,
                                                  bool allow_single) {
    std::vector<std::string> out;
    const auto* v = get(key, required);
    if (!v)
        return out;
    if (allow_single && v->is_string()) {
        out.push_back(v->get<std::string>());
        return out;
    }
    if (!v->is_array()) {
        error(key, "schema.type", "expected a list of strings, found " + json_type_name(*v));
        return out;
    }
    for (std::size_t i = 0; i < v->size(); ++i) {
        const auto& item = (*v)[i];
        if (!item.is_string()) {
            diags_.add(file_, path(key) + "/" + std::to_string(i), "schema.type",
                       "expected a string, found " + json_type_name(item));
            continue;
        }
        out.push_back(item.get<std::string>());
    }
    return out;
}

void json_reader::finish() {
    if (!ok_)
        return;
    for (const auto& [key, _] : value_.items()) {
        if (!known_.count(key))
            diags_.add(file_, path(key), "schema.unknown_key",
                       "unknown field \"" + key + "\" (check the spelling)");
    }
}

std::optional<nlohmann::json> read_json_file(const std::string& path, diagnostics& diags) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        diags.add(path, "", "file.read", "cannot open the file");
        return std::nullopt;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    // JSON lets a key appear twice in one object and keeps the last: an author who adds a
    // second "exclude" list to an intent would silently lose the first. Found while writing
    // content, so every content and config file is checked: each duplicate is an error with
    // the JSON pointer of the key.
    struct frame {
        bool object;
        std::unordered_set<std::string> keys;
        std::string key;
        std::size_t index = 0;
    };
    std::vector<frame> frames;
    auto pointer_of_top = [&frames] {
        std::string p;
        for (std::size_t i = 0; i + 1 < frames.size(); ++i)
            p += "/" + (frames[i].object ? pointer_token(frames[i].key)
                                         : std::to_string(frames[i].index));
        return p;
    };
    auto child_done = [&frames] {
        if (!frames.empty() && !frames.back().object)
            ++frames.back().index;
    };
    bool duplicates = false;
    auto check = [&](int, nlohmann::json::parse_event_t ev, nlohmann::json& v) {
        using ev_t = nlohmann::json::parse_event_t;
        switch (ev) {
        case ev_t::object_start:
            frames.push_back({true, {}, {}, 0});
            break;
        case ev_t::array_start:
            frames.push_back({false, {}, {}, 0});
            break;
        case ev_t::object_end:
        case ev_t::array_end:
            if (!frames.empty())
                frames.pop_back();
            child_done();
            break;
        case ev_t::key:
            if (!frames.empty() && v.is_string()) {
                auto k = v.get<std::string>();
                if (!frames.back().keys.insert(k).second) {
                    duplicates = true;
                    diags.add(path, pointer_of_top() + "/" + pointer_token(k), "json.duplicate_key",
                              "the key \"" + k +
                                  "\" appears twice in this object; only the last one would "
                                  "count, so merge them into one");
                }
                frames.back().key = std::move(k);
            }
            break;
        case ev_t::value:
            child_done();
            break;
        }
        return true;
    };
    try {
        auto j = nlohmann::json::parse(text, check, true, /*ignore_comments=*/true);
        if (duplicates)
            return std::nullopt;
        return j;
    } catch (const nlohmann::json::parse_error& e) {
        // nlohmann reports a byte offset; turn it into line:column for authors.
        std::size_t line = 1, col = 1;
        for (std::size_t i = 0; i < text.size() && i + 1 < e.byte; ++i) {
            if (text[i] == '\n') {
                ++line;
                col = 1;
            } else {
                ++col;
            }
        }
        std::string what = e.what();
        auto pos = what.find("parse error");
        std::string detail = pos == std::string::npos ? what : what.substr(pos);
        // nlohmann repeats the position ("parse error at line 1, column 5: "); ours is above.
        if (auto c = detail.find(": ");
            detail.rfind("parse error at line", 0) == 0 && c != std::string::npos)
            detail = detail.substr(c + 2);
        // Its "last read: '...'" quotes the raw bytes, which may be invalid UTF-8 (found by
        // the bad-input table): keep the message printable.
        diags.add(path, "", "json.parse",
                  "line " + std::to_string(line) + ", column " + std::to_string(col) + ": " +
                      sanitize_utf8(detail));
        return std::nullopt;
    } catch (const nlohmann::json::exception& e) {
        // Valid syntax that nlohmann cannot hold, e.g. a number beyond double ("1e309",
        // found by fuzzing): a problem in the file, never a crash.
        std::string what = e.what();
        auto pos = what.find("] ");
        diags.add(path, "", "json.parse", pos == std::string::npos ? what : what.substr(pos + 2));
        return std::nullopt;
    }
}

} // namespace tandem::bot
