#include "bot/content.hpp"
#include "bot/reflection.hpp"

#include "bot/json_reader.hpp"
#include "bot/normalizer.hpp"

#include <algorithm>
#include <cctype>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <regex>
#include <set>
#include <sstream>

namespace tandem::bot {

const std::vector<std::string>& required_dialogs() {
    static const std::vector<std::string> d = {"welcome", "menu", "safety", "safety_mode_block",
                                               "system"};
    return d;
}

const std::vector<std::string>& system_nodes() {
    static const std::vector<std::string> n = {"reprompt", "switch_offer",   "stale_option",
                                               "resume",   "dialog_changed", "turn_error",
                                               "why",      "export"};
    return n;
}

std::vector<std::string> template_fields(const std::string& text, bool& ok) {
    std::vector<std::string> out;
    ok = true;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '}') {
            ok = false;
            continue;
        }
        if (text[i] != '{')
            continue;
        auto close = text.find('}', i + 1);
        auto reopen = text.find('{', i + 1);
        if (close == std::string::npos || (reopen != std::string::npos && reopen < close)) {
            ok = false;
            continue;
        }
        out.push_back(text.substr(i + 1, close - i - 1));
        i = close;
    }
    return out;
}

const dialog_def* content::dialog(const std::string& id) const {
    auto it = dialogs_.find(id);
    return it == dialogs_.end() ? nullptr : &it->second;
}

const dialog_def* content::dialog_for(const std::string& intent, const std::string& topic) const {
    auto it = trigger_to_dialog_.find(intent);
    if (it == trigger_to_dialog_.end())
        it = trigger_to_dialog_.find(topic);
    return it == trigger_to_dialog_.end() ? nullptr : dialog(it->second);
}

const dialog_def* content::fallback_dialog() const {
    return dialog_for("fallback", "fallback");
}

std::shared_ptr<content> content::build(sources src, const resource_set& res, std::string locale,
                                        std::string fingerprint, diagnostics& diags) {
    auto c = std::make_shared<content>();
    c->locale_ = std::move(locale);
    c->fingerprint_ = std::move(fingerprint);
    c->resources_ = res;
    c->matcher_ = std::make_unique<intent_matcher>(std::move(src.intents), diags,
                                                   std::move(src.clause_words));
    c->dialogs_ = std::move(src.dialogs);
    for (const auto& u : c->resources_.unverified())
        c->warnings_.push_back("resource not yet verified by a person: " + u);
    c->validate(diags);
    return c;
}

namespace {

std::string hash_files(const std::vector<std::string>& files) {
    std::string all;
    for (const auto& f : files) {
        std::ifstream in(f, std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        all += f;
        all += ss.str();
    }
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016zx", std::hash<std::string>{}(all));
    return buf;
}

std::map<std::string, locale_info> load_locales(const std::string& path, std::string& def,
                                                diagnostics& diags) {
    std::map<std::string, locale_info> out;
    auto j = read_json_file(path, diags);
    if (!j)
        return out;
    json_reader r(*j, path, "", diags);
    if (!r.ok())
        return out;
    r.integer("schema_version", 1, 1, true);
    def = r.string_or("default", "en");
    const auto* list = r.get("locales", true);
    r.finish();
    if (!list)
        return out;
    if (!list->is_object()) {
        diags.add(path, "/locales", "schema.type", "expected an object of code: {name, aliases}");
        return out;
    }
    static const std::regex code_rule("^[a-z]{2,3}$");
    for (const auto& [code, v] : list->items()) {
        std::string ptr = "/locales/" + pointer_token(code);
        if (!std::regex_match(code, code_rule))
            diags.add(path, ptr, "locale.bad_code",
                      "locale codes are two or three lower-case letters (ISO 639), e.g. \"es\"");
        json_reader lr(v, path, ptr, diags);
        locale_info li;
        li.code = code;
        li.name = lr.string_or("name", code);
        for (const auto& a : lr.string_list("aliases"))
            li.aliases.push_back(normalize(a));
        // Words that start a clause: lower-case words (letters, spaces between words), as
        // the normaliser leaves them.
        const auto words = lr.string_list("clause_words");
        for (std::size_t k = 0; k < words.size(); ++k) {
            const auto n = normalize(words[k]);
            const bool word = !n.empty() && n == words[k] && n.front() != ' ' && n.back() != ' ' &&
                              std::all_of(n.begin(), n.end(), [](char ch) {
                                  const auto u = static_cast<unsigned char>(ch);
                                  return u >= 0x80 || std::islower(u) || ch == ' ';
                              });
            if (!word)
                diags.add(path, ptr + "/clause_words/" + std::to_string(k), "locale.clause_word",
                          "\"" + words[k] +
                              "\" is not a clause word: write one or more lower-case words as "
                              "the normaliser leaves them (letters and single spaces, no "
                              "punctuation or contractions), e.g. \"but\" or \"even though\"");
            else
                li.clause_words.push_back(n);
        }
        lr.finish();
        out[code] = std::move(li);
    }
    if (!out.count(def))
        diags.add(path, "/default", "locale.default_missing",
                  "the default locale \"" + def + "\" is not in \"locales\"");
    return out;
}

} // namespace

std::shared_ptr<content> content::load(const content_paths& paths, diagnostics& diags) {
    namespace fs = std::filesystem;
    std::vector<std::string> all_files;
    auto intent_files = list_json_files(paths.intents_dir, diags);
    auto dialog_files = list_json_files(paths.dialogs_dir, diags);
    sources base;
    base.intents = load_intent_files(intent_files, diags);
    for (const auto& f : dialog_files)
        if (auto d = load_dialog_file(f, diags))
            base.dialogs[d->id] = std::move(*d);
    resource_set res;
    if (auto rs = resource_set::load(paths.resources_file, diags))
        res = std::move(*rs);
    all_files.insert(all_files.end(), intent_files.begin(), intent_files.end());
    all_files.insert(all_files.end(), dialog_files.begin(), dialog_files.end());
    all_files.push_back(paths.resources_file);

    std::string def = "en";
    std::map<std::string, locale_info> locales;
    if (!paths.locales_file.empty()) {
        locales = load_locales(paths.locales_file, def, diags);
        all_files.push_back(paths.locales_file);
        if (auto it = locales.find(def); it != locales.end())
            base.clause_words = it->second.clause_words;
    }
    // Packs: every non-default locale, built from the default files with the pack's own
    // intents and dialogs overriding them by id.
    std::map<std::string, sources> pack_sources;
    for (const auto& [code, li] : locales) {
        if (code == def)
            continue;
        sources pack = base;
        pack.clause_words = li.clause_words;
        std::error_code ec;
        auto pi = (fs::path(paths.intents_dir) / code).string();
        auto pd = (fs::path(paths.dialogs_dir) / code).string();
        if (!fs::is_directory(pi, ec) && !fs::is_directory(pd, ec)) {
            diags.add(paths.locales_file, "/locales/" + code, "locale.pack_missing",
                      "no pack folder " + pi + " or " + pd + " for locale \"" + code + "\"");
            continue;
        }
        if (fs::is_directory(pi, ec)) {
            auto files = list_json_files(pi, diags);
            all_files.insert(all_files.end(), files.begin(), files.end());
            for (auto& d : load_intent_files(files, diags)) {
                auto it = std::find_if(pack.intents.begin(), pack.intents.end(),
                                       [&](const intent_def& x) { return x.id == d.id; });
                if (it != pack.intents.end())
                    *it = std::move(d);
                else
                    pack.intents.push_back(std::move(d));
            }
        }
        if (fs::is_directory(pd, ec)) {
            auto files = list_json_files(pd, diags);
            all_files.insert(all_files.end(), files.begin(), files.end());
            for (const auto& f : files)
                if (auto d = load_dialog_file(f, diags))
                    pack.dialogs[d->id] = std::move(*d);
        }
        pack_sources[code] = std::move(pack);
    }
    auto fp = hash_files(all_files);
    // Each locale pack compiles its own matcher (most of the load time): packs are built on
    // threads of their own while this one builds the default bundle.
    struct pack_build {
        std::string code;
        diagnostics diags;
        std::future<std::shared_ptr<content>> bundle;
    };
    std::vector<pack_build> builds;
    builds.reserve(pack_sources.size());
    for (auto& entry : pack_sources) {
        const auto& code = entry.first;
        auto& src = entry.second; // a named reference: clang 14 cannot capture a binding
        builds.push_back({code, {}, {}});
        auto& b = builds.back();
        b.bundle = std::async(std::launch::async, [&src, &res, &b, &fp] {
            return build(std::move(src), res.localized(b.code), b.code, fp, b.diags);
        });
    }
    auto c = build(std::move(base), res, def, fp, diags);
    c->locales_ = locales;
    for (auto& b : builds) {
        auto p = b.bundle.get();
        // The default files' problems were reported once already; report only new ones.
        std::set<std::string> seen;
        for (const auto& d : diags.items())
            seen.insert(d.file + d.pointer + d.code + d.message);
        for (const auto& d : b.diags.items())
            if (seen.insert(d.file + d.pointer + d.code + d.message).second)
                diags.add(d.file, d.pointer, d.code, "[" + b.code + "] " + d.message);
        p->locales_ = locales;
        c->packs_[b.code] = std::move(p);
    }
    return c;
}

const content& content::for_locale(const std::string& code) const {
    if (code.empty() || code == locale_)
        return *this;
    auto it = packs_.find(code.substr(0, code.find_first_of("-_")));
    return it == packs_.end() ? *this : *it->second;
}

std::optional<std::string> content::locale_for(const std::string& hint) const {
    if (hint.empty())
        return std::nullopt;
    std::string h;
    for (char ch : hint)
        h += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    std::string base = h.substr(0, h.find_first_of("-_"));
    if (locales_.count(base))
        return base;
    std::string padded = " " + normalize(hint) + " ";
    for (const auto& [code, li] : locales_)
        for (const auto& a : li.aliases)
            if (!a.empty() && padded.find(" " + a + " ") != std::string::npos)
                return code;
    return std::nullopt;
}

namespace {

struct dialog_checker {
    const dialog_def& d;
    const content& c;
    const std::map<std::string, std::string>& triggers;
    const std::set<std::string>& series;
    diagnostics& diags;
    std::set<std::string> slots_read, slots_set;
    std::map<std::string, std::string> read_at; // slot -> first pointer that reads it

    bool known_intent(const std::string& id) const {
        return c.matcher().find(id) || id == "fallback" || is_core_topic(id);
    }

    void check_text(const std::string& text, const std::string& ptr) {
        if (text.size() > 2000)
            diags.add(d.file, ptr, "text.too_long",
                      "a reply line is limited to 2000 characters (Discord's limit); this one "
                      "has " +
                          std::to_string(text.size()));
        bool ok = true;
        for (const auto& f : template_fields(text, ok)) {
            if (f == "emergency" || f == "$region" || f == "$safety_mode" ||
                (d.id == "system" &&
                 (f == "$title" || f == "$current" || f == "$understood" || f == "$remembered" ||
                  f == "$export" || f == "$expires" || f == "$code" || f == "$minutes")))
                continue;
            if (f.rfind("$trend:", 0) == 0) {
                if (!series.count(f.substr(7)))
                    diags.add(d.file, ptr, "template.bad",
                              "no node records the series \"" + f.substr(7) + "\" ({" + f + "})");
                continue;
            }
            if (f.rfind("res:", 0) == 0) {
                const auto& cats = resource_set::categories();
                if (std::find(cats.begin(), cats.end(), f.substr(4)) == cats.end())
                    diags.add(d.file, ptr, "template.bad",
                              "unknown resource category in {" + f + "}");
                continue;
            }
            std::string slot = f;
            if (auto bar = f.find('|'); bar != std::string::npos) {
                slot = f.substr(0, bar);
                std::string probe = "x";
                if (!apply_filters(probe, f.substr(bar + 1))) {
                    diags.add(d.file, ptr, "template.bad",
                              "unknown filter in {" + f +
                                  "} (filters: reflect, address, strip:PHRASE)");
                    continue;
                }
            }
            if (slot.empty() || slot[0] == '$') {
                diags.add(d.file, ptr, "template.bad", "unknown placeholder {" + f + "}");
                continue;
            }
            read_slot(slot, ptr);
        }
        if (!ok)
            diags.add(d.file, ptr, "template.bad", "unbalanced { } in the text");
    }

    void read_slot(const std::string& slot, const std::string& ptr) {
        if (slot == "$region" || slot == "$safety_mode" || slot == "$interrupted")
            return;
        if (slot.rfind("$trend:", 0) == 0) {
            if (!series.count(slot.substr(7)))
                diags.add(d.file, ptr, "template.bad",
                          "no node records the series \"" + slot.substr(7) + "\"");
            return;
        }
        if (!d.slots.count(slot)) {
            diags.add(d.file, ptr, "slot.undeclared",
                      "slot \"" + slot + "\" is used but not declared in \"slots\"");
            return;
        }
        slots_read.insert(slot);
        read_at.emplace(slot, ptr);
    }

    void check_set(const std::map<std::string, nlohmann::json>& set, const std::string& ptr) {
        for (const auto& [name, value] : set) {
            std::string p = ptr + "/" + pointer_token(name);
            auto it = d.slots.find(name);
            if (it == d.slots.end()) {
                diags.add(d.file, p, "slot.undeclared",
                          "slot \"" + name + "\" is set but not declared in \"slots\"");
                continue;
            }
            slots_set.insert(name);
            const auto& sd = it->second;
            bool good = value.is_null() || (sd.type == "text" && value.is_string()) ||
                        (sd.type == "number" && value.is_number()) ||
                        (sd.type == "bool" && value.is_boolean()) ||
                        (sd.type == "enum" && value.is_string() &&
                         std::find(sd.values.begin(), sd.values.end(), value.get<std::string>()) !=
                             sd.values.end());
            if (!good)
                diags.add(d.file, p, "slot.bad_value",
                          "value " + value.dump() + " does not fit " + sd.type + " slot \"" + name +
                              "\"");
        }
    }

    void check_condition(const condition& cnd, const std::string& ptr) {
        if (cnd.k != condition::kind::compare) {
            for (const auto& ch : cnd.children)
                check_condition(ch, ptr);
            return;
        }
        read_slot(cnd.slot, ptr);
    }

    void target(const std::string& node, const std::string& ptr) {
        if (!node.empty() && !d.nodes.count(node))
            diags.add(d.file, ptr, "node.target_missing",
                      "there is no node \"" + node + "\" in this dialog");
    }

    void dialog_target(const std::string& id, const std::string& ptr) {
        if (!id.empty() && !c.dialog(id))
            diags.add(d.file, ptr, "dialog.unknown_dialog", "there is no dialog \"" + id + "\"");
    }

    void intent_ref(const std::string& id, const std::string& ptr) {
        if (!known_intent(id))
            diags.add(d.file, ptr, "dialog.unknown_intent",
                      "\"" + id + "\" is not an intent id or core topic");
    }

    void run() {
        for (std::size_t i = 0; i < d.triggers.size(); ++i)
            intent_ref(d.triggers[i], "/triggers/" + std::to_string(i));
        if (!d.safety_kind.empty()) {
            const auto& kinds = safety_kinds();
            if (std::find(kinds.begin(), kinds.end(), d.safety_kind) == kinds.end())
                diags.add(d.file, "/safety_kind", "safety.bad_kind",
                          "unknown safety kind \"" + d.safety_kind + "\"");
        }
        if (!d.start.empty() && !d.nodes.count(d.start))
            diags.add(d.file, "/start", "dialog.start_missing",
                      "start node \"" + d.start + "\" does not exist");
        for (const auto& [name, sd] : d.slots)
            if (sd.from_intent)
                slots_set.insert(name);
        for (const auto& id : d.node_order) {
            const auto& n = d.nodes.at(id);
            const auto& p = n.pointer;
            for (std::size_t i = 0; i < n.say.size(); ++i)
                for (std::size_t v = 0; v < n.say[i].size(); ++v)
                    check_text(n.say[i][v],
                               p + "/say/" + std::to_string(i) +
                                   (n.say[i].size() > 1 ? "/" + std::to_string(v) : ""));
            for (std::size_t v = 0; v < n.ask.size(); ++v)
                check_text(n.ask[v],
                           p + "/ask" + (n.ask.size() > 1 ? "/" + std::to_string(v) : ""));
            check_set(n.set, p + "/set");
            std::set<std::string> option_ids;
            for (std::size_t i = 0; i < n.options.size(); ++i) {
                const auto& o = n.options[i];
                if (!option_ids.insert(o.id).second)
                    diags.add(d.file, o.pointer + "/id", "option.duplicate_id",
                              "two options of this node share the id \"" + o.id + "\"");
                check_text(o.label, o.pointer + "/label");
                target(o.next, o.pointer + "/next");
                dialog_target(o.start, o.pointer + "/start");
                check_set(o.set, o.pointer + "/set");
                if (!o.intent.empty())
                    intent_ref(o.intent, o.pointer + "/intent");
                if (o.when)
                    check_condition(*o.when, o.pointer + "/if");
            }
            if (n.capture) {
                auto it = d.slots.find(n.capture->slot);
                if (it == d.slots.end())
                    diags.add(d.file, p + "/capture/slot", "slot.undeclared",
                              "slot \"" + n.capture->slot + "\" is captured but not declared");
                else if (it->second.type != "text" && it->second.type != "number")
                    diags.add(d.file, p + "/capture/slot", "slot.bad_value",
                              "free text can fill only text or number slots");
                slots_set.insert(n.capture->slot);
                target(n.capture->next, p + "/capture/next");
            }
            for (const auto& [intent, node] : n.expect) {
                intent_ref(intent, p + "/expect/" + pointer_token(intent));
                target(node, p + "/expect/" + pointer_token(intent));
            }
            for (std::size_t i = 0; i < n.branch.size(); ++i) {
                target(n.branch[i].next, p + "/branch/" + std::to_string(i) + "/next");
                if (n.branch[i].when)
                    check_condition(*n.branch[i].when, p + "/branch/" + std::to_string(i) + "/if");
            }
            if (!n.branch.empty() && n.branch.back().when)
                diags.add(d.file, p + "/branch", "node.no_way_out",
                          "the last branch needs no \"if\" (the default), or the dialog can "
                          "get stuck");
            if (n.checkin && !n.checkin->cancel) {
                dialog_target(n.checkin->dialog, p + "/checkin/dialog");
                if (!n.checkin->after_slot.empty()) {
                    auto it = d.slots.find(n.checkin->after_slot);
                    if (it == d.slots.end() || it->second.type != "number")
                        diags.add(d.file, p + "/checkin/after_slot", "slot.undeclared",
                                  "after_slot must name a number slot of this dialog");
                    else
                        read_slot(n.checkin->after_slot, p + "/checkin/after_slot");
                }
            }
            target(n.next, p + "/next");
            target(n.fallback, p + "/fallback");
            dialog_target(n.start, p + "/start");
            bool leads = !n.next.empty() || !n.branch.empty() || !n.start.empty() || n.end;
            if (!n.waits() && !leads)
                diags.add(d.file, p, "node.no_way_out",
                          "the node neither waits for an answer (options, capture, expect) nor "
                          "leads on (next, branch, start, end)");
            if (n.waits() && leads)
                diags.add(d.file, p, "node.ambiguous",
                          "a node that waits for an answer cannot also have next, branch, start "
                          "or end");
            if (n.waits() && n.ask.empty() && n.say.empty())
                diags.add(d.file, p, "node.empty",
                          "the node waits for an answer but says and asks nothing");
        }
        // Reachability from start.
        if (d.nodes.count(d.start)) {
            std::set<std::string> seen{d.start};
            std::deque<std::string> todo{d.start};
            while (!todo.empty()) {
                const auto& n = d.nodes.at(todo.front());
                todo.pop_front();
                std::vector<std::string> out{n.next, n.fallback};
                for (const auto& o : n.options)
                    out.push_back(o.next);
                if (n.capture)
                    out.push_back(n.capture->next);
                for (const auto& [_, t] : n.expect)
                    out.push_back(t);
                for (const auto& b : n.branch)
                    out.push_back(b.next);
                for (const auto& t : out)
                    if (!t.empty() && d.nodes.count(t) && seen.insert(t).second)
                        todo.push_back(t);
            }
            // The system dialog's nodes are said by the core directly.
            if (d.id != "system")
                for (const auto& id : d.node_order)
                    if (!seen.count(id))
                        diags.add(d.file, d.nodes.at(id).pointer, "node.unreachable",
                                  "no path from the start node \"" + d.start + "\" reaches \"" +
                                      id + "\"");
        }
        for (const auto& s : slots_read)
            if (!slots_set.count(s))
                diags.add(d.file, read_at[s], "slot.never_set",
                          "slot \"" + s + "\" is read here but no node, option or capture sets it");
    }
};

} // namespace

void content::validate(diagnostics& diags) {
    // Triggers: each intent starts at most one dialog.
    for (const auto& [id, d] : dialogs_) {
        for (std::size_t i = 0; i < d.triggers.size(); ++i) {
            auto [it, fresh] = trigger_to_dialog_.emplace(d.triggers[i], id);
            if (!fresh)
                diags.add(d.file, "/triggers/" + std::to_string(i), "dialog.duplicate_trigger",
                          "\"" + d.triggers[i] + "\" already starts dialog \"" + it->second + "\"");
        }
    }
    std::set<std::string> series;
    for (const auto& [id, d] : dialogs_)
        for (const auto& [nid, n] : d.nodes)
            if (!n.record.empty())
                series.insert(n.record);
    for (const auto& [id, d] : dialogs_)
        dialog_checker{d, *this, trigger_to_dialog_, series, diags, {}, {}, {}}.run();
    std::string dialogs_dir = dialogs_.empty() ? "dialogs" : dialogs_.begin()->second.file;
    if (auto pos = dialogs_dir.find_last_of('/'); pos != std::string::npos)
        dialogs_dir = dialogs_dir.substr(0, pos);
    for (const auto& req : required_dialogs())
        if (!dialogs_.count(req))
            diags.add(dialogs_dir, "", "content.required_dialog",
                      "the core needs a dialog \"" + req + "\" (" + req + ".json)");
    if (!fallback_dialog())
        diags.add(dialogs_dir, "", "content.required_dialog",
                  "the core needs a dialog with \"fallback\" in its triggers");
    if (const auto* sys = dialog("system")) {
        for (const auto& n : system_nodes())
            if (!sys->node(n))
                diags.add(sys->file, "/nodes", "content.required_dialog",
                          "the system dialog needs a node \"" + n + "\"");
        if (const auto* sw = sys->node("switch_offer")) {
            std::set<std::string> ids;
            for (const auto& o : sw->options)
                ids.insert(o.id);
            if (!ids.count("switch") || !ids.count("stay"))
                diags.add(sys->file, sw->pointer + "/options", "content.required_dialog",
                          "switch_offer needs options with ids \"switch\" and \"stay\"");
        }
    }
    for (const auto& req : {"forget_me", "restart", "help", "goodbye"})
        if (!dialog_for(req, req))
            diags.add(dialogs_dir, "", "content.required_dialog",
                      std::string("no dialog handles the \"") + req + "\" interrupt");
    matcher_->self_test(diags);
}

} // namespace tandem::bot
