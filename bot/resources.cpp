#include "bot/resources.hpp"

#include "bot/json_reader.hpp"
#include "bot/normalizer.hpp"

#include <algorithm>

namespace tandem::bot {

namespace {

// {"es": {"label": "...", "note": "..."}}: only the given keys, each a string.
std::map<std::string, std::map<std::string, std::string>>
read_translations(json_reader& r, const std::string& key, const std::vector<std::string>& fields,
                  diagnostics& diags, const std::string& path, const std::string& ptr) {
    std::map<std::string, std::map<std::string, std::string>> out;
    const auto* t = r.get(key);
    if (!t)
        return out;
    if (!t->is_object()) {
        r.error(key, "schema.type", "expected an object of language code: {...}");
        return out;
    }
    for (const auto& [lang, v] : t->items()) {
        json_reader lr(v, path, ptr + "/" + key + "/" + pointer_token(lang), diags);
        if (!lr.ok())
            continue;
        for (const auto& f : fields)
            if (lr.has(f))
                out[lang][f] = lr.string_or(f, "");
        lr.finish();
    }
    return out;
}

} // namespace

const std::vector<std::string>& resource_set::categories() {
    static const std::vector<std::string> c = {
        "emergency",           "suicide_crisis",      "domestic_abuse",
        "domestic_abuse_men",  "sexual_violence",     "young_people",
        "young_people_dating", "people_who_use_harm", "directory"};
    return c;
}

std::optional<resource_set> resource_set::load(const std::string& path, diagnostics& diags) {
    auto j = read_json_file(path, diags);
    if (!j)
        return std::nullopt;
    json_reader r(*j, path, "", diags);
    if (!r.ok())
        return std::nullopt;
    resource_set rs;
    r.integer("schema_version", 1, 1, true);
    rs.default_region_ = r.string_or("default_region", "INTL");
    const auto* regions = r.get("regions", true);
    for (const auto& [lang, w] : read_translations(
             r, "languages", {"call", "text", "tty", "email", "emergency"}, diags, path, "")) {
        resource_words rw;
        const auto& words = w; // (clang 14 cannot capture a structured binding)
        auto take = [&words](const char* k, std::string& dst) {
            if (auto it = words.find(k); it != words.end())
                dst = it->second;
        };
        take("call", rw.call);
        take("text", rw.text);
        take("tty", rw.tty);
        take("email", rw.email);
        take("emergency", rw.emergency);
        rs.languages_[lang] = rw;
    }
    r.finish();
    if (!regions)
        return std::nullopt;
    if (!regions->is_object()) {
        diags.add(path, "/regions", "schema.type", "expected an object of region code: region");
        return std::nullopt;
    }
    const auto& cats = categories();
    for (const auto& [code, rv] : regions->items()) {
        std::string rp = "/regions/" + pointer_token(code);
        json_reader rr(rv, path, rp, diags);
        if (!rr.ok())
            continue;
        region_def reg;
        reg.code = code;
        reg.name = rr.string_or("name", code);
        for (auto& a : rr.string_list("aliases"))
            reg.aliases.push_back(normalize(a));
        for (auto& [lang, t] : read_translations(rr, "translations", {"name"}, diags, path, rp))
            reg.names[lang] = t["name"];
        const auto* res = rr.get("resources", true);
        rr.finish();
        if (res && !res->is_object()) {
            rr.error("resources", "schema.type", "expected an object of category: entry");
            res = nullptr;
        }
        if (res) {
            for (const auto& [cat, ev] : res->items()) {
                std::string ep = rp + "/resources/" + pointer_token(cat);
                if (std::find(cats.begin(), cats.end(), cat) == cats.end())
                    diags.add(path, ep, "resources.bad_category",
                              "unknown category \"" + cat + "\"");
                json_reader er(ev, path, ep, diags);
                resource_entry e;
                e.label = er.string_or("label", "");
                if (e.label.empty())
                    er.error("", "schema.missing", "an entry needs a \"label\"");
                e.call = er.string_or("call", "");
                e.text = er.string_or("text", "");
                e.tty = er.string_or("tty", "");
                e.url = er.string_or("url", "");
                e.email = er.string_or("email", "");
                e.note = er.string_or("note", "");
                if (const auto* src = er.get("source", true)) {
                    if (src->is_string())
                        e.source = src->get<std::string>();
                    else if (src->is_array())
                        for (const auto& s : *src)
                            e.source += (e.source.empty() ? "" : ",") +
                                        (s.is_string() ? s.get<std::string>() : s.dump());
                    else
                        er.error("source", "schema.type", "expected a source key or list");
                }
                if (!er.has("verified"))
                    er.error("", "resources.verified_missing",
                             "every entry says whether a person verified it: \"verified\": "
                             "true or false");
                e.verified = er.boolean_or("verified", false);
                e.translations =
                    read_translations(er, "translations", {"label", "note"}, diags, path, ep);
                er.finish();
                reg.resources[cat] = e;
            }
        }
        rs.regions_[code] = std::move(reg);
    }
    if (!rs.regions_.count(rs.default_region_))
        diags.add(path, "/default_region", "resources.default_missing",
                  "default region \"" + rs.default_region_ + "\" is not defined");
    else if (!rs.regions_[rs.default_region_].resources.count("directory") ||
             !rs.regions_[rs.default_region_].resources.count("emergency"))
        diags.add(path, "/regions/" + rs.default_region_, "resources.fallback_missing",
                  "the default region needs \"emergency\" and \"directory\" entries, which every "
                  "other region falls back to");
    return rs;
}

const region_def* resource_set::region(const std::string& code) const {
    auto it = regions_.find(code);
    return it == regions_.end() ? nullptr : &it->second;
}

std::optional<std::string> resource_set::region_for(const std::string& text) const {
    std::string padded = " " + text + " ";
    for (const auto& [code, reg] : regions_) {
        std::string lc;
        for (char c : code)
            lc += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (padded.find(" " + lc + " ") != std::string::npos)
            return code;
        for (const auto& a : reg.aliases)
            if (!a.empty() && padded.find(" " + a + " ") != std::string::npos)
                return code;
    }
    return std::nullopt;
}

const resource_entry* resource_set::find(const std::string& category,
                                         const std::string& region) const {
    for (const auto* code : {&region, &default_region_}) {
        if (auto* reg = this->region(*code)) {
            auto it = reg->resources.find(category);
            if (it != reg->resources.end())
                return &it->second;
        }
    }
    return nullptr;
}

namespace {
std::string render_entry(const resource_entry& e, const resource_words& w) {
    std::string s = "- " + e.label;
    std::vector<std::string> ways;
    if (!e.call.empty())
        ways.push_back(w.call + " " + e.call);
    if (!e.text.empty())
        ways.push_back(w.text + " " + e.text);
    if (!e.tty.empty())
        ways.push_back(w.tty + " " + e.tty);
    if (!e.email.empty())
        ways.push_back(w.email + " " + e.email);
    if (!e.url.empty())
        ways.push_back(e.url);
    for (std::size_t i = 0; i < ways.size(); ++i)
        s += (i == 0 ? ": " : ", ") + ways[i];
    if (!e.note.empty())
        s += ". " + e.note;
    return s;
}
} // namespace

std::string resource_set::render(const std::string& category, const std::string& region) const {
    if (const auto* e = find(category, region))
        return render_entry(*e, words_);
    if (const auto* d = find("directory", region))
        return render_entry(*d, words_);
    return "";
}

std::string resource_set::emergency(const std::string& region) const {
    const auto* e = find("emergency", region);
    if (!e)
        return words_.emergency;
    return e->call.empty() ? e->label : e->call;
}

resource_set resource_set::localized(const std::string& language) const {
    resource_set out = *this;
    if (auto it = languages_.find(language); it != languages_.end())
        out.words_ = it->second;
    for (auto& [code, reg] : out.regions_) {
        if (auto n = reg.names.find(language); n != reg.names.end() && !n->second.empty())
            reg.name = n->second;
        for (auto& [cat, e] : reg.resources) {
            auto t = e.translations.find(language);
            if (t == e.translations.end())
                continue;
            if (auto l = t->second.find("label"); l != t->second.end() && !l->second.empty())
                e.label = l->second;
            if (auto n = t->second.find("note"); n != t->second.end() && !n->second.empty())
                e.note = n->second;
        }
    }
    return out;
}

std::vector<std::string> resource_set::unverified() const {
    std::vector<std::string> out;
    for (const auto& [code, reg] : regions_)
        for (const auto& [cat, e] : reg.resources)
            if (!e.verified)
                out.push_back(code + "/" + cat + " (" + e.label + ")");
    return out;
}

} // namespace tandem::bot
