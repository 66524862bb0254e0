#include "bot/dialog.hpp"

#include "bot/json_reader.hpp"

#include <filesystem>
#include <regex>

namespace tandem::bot {

const node_def* dialog_def::node(const std::string& id) const {
    auto it = nodes.find(id);
    return it == nodes.end() ? nullptr : &it->second;
}

namespace {

const std::regex& ident_rule() {
    static const std::regex r("^[a-z][a-z0-9_]{0,63}$");
    return r;
}

const std::regex& option_id_rule() {
    static const std::regex r("^[a-z0-9_]{1,32}$");
    return r;
}

// A line: a string, or an array of string variants.
std::optional<variants> read_variants(const nlohmann::json& v, const std::string& file,
                                      const std::string& ptr, diagnostics& diags) {
    if (v.is_string())
        return variants{v.get<std::string>()};
    if (v.is_array() && !v.empty()) {
        variants out;
        for (std::size_t i = 0; i < v.size(); ++i) {
            if (!v[i].is_string()) {
                diags.add(file, ptr + "/" + std::to_string(i), "schema.type",
                          "expected a string, found " + json_type_name(v[i]));
                continue;
            }
            out.push_back(v[i].get<std::string>());
        }
        return out;
    }
    diags.add(file, ptr, "schema.type",
              "expected a string or a non-empty list of variants, found " + json_type_name(v));
    return std::nullopt;
}

std::optional<condition> read_condition(const nlohmann::json& v, const std::string& file,
                                        const std::string& ptr, diagnostics& diags) {
    json_reader r(v, file, ptr, diags);
    if (!r.ok())
        return std::nullopt;
    condition c;
    auto read_list = [&](const char* key, condition::kind k) -> std::optional<condition> {
        const auto* list = r.get(key);
        c.k = k;
        if (!list->is_array() || list->empty()) {
            r.error(key, "schema.type", "expected a non-empty list of conditions");
            return std::nullopt;
        }
        for (std::size_t i = 0; i < list->size(); ++i)
            if (auto cc =
                    read_condition((*list)[i], file, r.path(key) + "/" + std::to_string(i), diags))
                c.children.push_back(std::move(*cc));
        r.finish();
        return c;
    };
    if (r.has("all"))
        return read_list("all", condition::kind::all);
    if (r.has("any"))
        return read_list("any", condition::kind::any);
    if (r.has("not")) {
        c.k = condition::kind::negate;
        if (auto cc = read_condition(*r.get("not"), file, r.path("not"), diags))
            c.children.push_back(std::move(*cc));
        r.finish();
        return c;
    }
    c.k = condition::kind::compare;
    c.slot = r.string_or("slot", "");
    c.op = r.string_or("op", "");
    if (!r.has("slot") || !r.has("op")) {
        r.error("", "schema.missing",
                "a condition needs \"slot\" and \"op\" (or \"all\", \"any\", \"not\")");
        return std::nullopt;
    }
    static const std::vector<std::string> ops = {"eq", "ne", "lt",  "le",   "gt",
                                                 "ge", "in", "set", "unset"};
    if (std::find(ops.begin(), ops.end(), c.op) == ops.end())
        r.error("op", "condition.bad_op",
                "unknown operator \"" + c.op + "\" (eq ne lt le gt ge in set unset)");
    if (const auto* val = r.get("value"))
        c.value = *val;
    else if (c.op != "set" && c.op != "unset")
        r.error("", "schema.missing", "operator \"" + c.op + "\" needs a \"value\"");
    if (c.op == "in" && !c.value.is_array())
        r.error("value", "schema.type", "operator \"in\" needs a list value");
    r.finish();
    return c;
}

std::map<std::string, nlohmann::json> read_set(json_reader& r, const std::string& key) {
    std::map<std::string, nlohmann::json> out;
    const auto* v = r.get(key);
    if (!v)
        return out;
    if (!v->is_object()) {
        r.error(key, "schema.type", "expected an object of slot: value");
        return out;
    }
    for (const auto& [k, val] : v->items())
        out[k] = val;
    return out;
}

option_def read_option(const nlohmann::json& v, std::size_t index, const std::string& file,
                       const std::string& ptr, diagnostics& diags) {
    option_def o;
    o.pointer = ptr;
    json_reader r(v, file, ptr, diags);
    o.id = r.string_or("id", std::to_string(index + 1));
    if (!std::regex_match(o.id, option_id_rule()))
        r.error("id", "option.bad_id",
                "option ids are 1-32 characters of a-z, 0-9 and _ (they travel in button "
                "payloads); found \"" +
                    o.id + "\"");
    o.label = r.string_or("label", "");
    if (!r.has("label"))
        r.error("", "schema.missing", "missing required field \"label\"");
    else if (o.label.empty() || o.label.size() > 80)
        r.error("label", "option.bad_label", "a label is 1-80 characters");
    o.next = r.string_or("next", "");
    o.start = r.string_or("start", "");
    o.end = r.boolean_or("end", false);
    int targets = !o.next.empty() + !o.start.empty() + o.end;
    if (targets != 1)
        r.error("", "option.target",
                "an option leads to exactly one of \"next\", \"start\" or \"end\": true");
    o.set = read_set(r, "set");
    o.intent = r.string_or("intent", "");
    o.keywords = r.string_list("keywords");
    if (const auto* c = r.get("if"))
        o.when = read_condition(*c, file, r.path("if"), diags);
    r.finish();
    return o;
}

node_def read_node(const std::string& id, const nlohmann::json& v, const std::string& file,
                   const std::string& ptr, diagnostics& diags) {
    node_def n;
    n.id = id;
    n.pointer = ptr;
    json_reader r(v, file, ptr, diags);
    if (!r.ok())
        return n;
    if (const auto* say = r.get("say")) {
        if (say->is_string()) {
            n.say.push_back({say->get<std::string>()});
        } else if (say->is_array()) {
            for (std::size_t i = 0; i < say->size(); ++i)
                if (auto line = read_variants((*say)[i], file,
                                              r.path("say") + "/" + std::to_string(i), diags))
                    n.say.push_back(std::move(*line));
        } else {
            r.error("say", "schema.type", "expected a list of lines");
        }
    }
    if (const auto* ask = r.get("ask"))
        if (auto a = read_variants(*ask, file, r.path("ask"), diags))
            n.ask = std::move(*a);
    n.set = read_set(r, "set");
    if (const auto* opts = r.get("options")) {
        if (!opts->is_array()) {
            r.error("options", "schema.type", "expected a list of options");
        } else {
            for (std::size_t i = 0; i < opts->size(); ++i)
                n.options.push_back(read_option(
                    (*opts)[i], i, file, r.path("options") + "/" + std::to_string(i), diags));
        }
    }
    if (const auto* cap = r.get("capture")) {
        json_reader cr(*cap, file, r.path("capture"), diags);
        capture_def c;
        c.slot = cr.string_or("slot", "");
        c.next = cr.string_or("next", "");
        if (c.slot.empty() || c.next.empty())
            cr.error("", "schema.missing", "a capture needs \"slot\" and \"next\"");
        cr.finish();
        n.capture = c;
    }
    if (const auto* ex = r.get("expect")) {
        if (!ex->is_object()) {
            r.error("expect", "schema.type", "expected an object of intent: node");
        } else {
            for (const auto& [k, val] : ex->items()) {
                if (!val.is_string())
                    diags.add(file, r.path("expect") + "/" + pointer_token(k), "schema.type",
                              "expected a node id");
                else
                    n.expect[k] = val.get<std::string>();
            }
        }
    }
    if (const auto* br = r.get("branch")) {
        if (!br->is_array() || br->empty()) {
            r.error("branch", "schema.type", "expected a non-empty list of {\"if\", \"next\"}");
        } else {
            for (std::size_t i = 0; i < br->size(); ++i) {
                std::string bp = r.path("branch") + "/" + std::to_string(i);
                json_reader b((*br)[i], file, bp, diags);
                branch_def bd;
                bd.next = b.string_or("next", "");
                if (bd.next.empty())
                    b.error("", "schema.missing", "a branch needs \"next\"");
                if (const auto* c = b.get("if"))
                    bd.when = read_condition(*c, file, b.path("if"), diags);
                b.finish();
                n.branch.push_back(std::move(bd));
            }
        }
    }
    n.next = r.string_or("next", "");
    n.start = r.string_or("start", "");
    n.fallback = r.string_or("fallback", "");
    n.record = r.string_or("record", "");
    if (const auto* ck = r.get("checkin")) {
        json_reader cr(*ck, file, r.path("checkin"), diags);
        checkin_def c;
        c.cancel = cr.boolean_or("cancel", false);
        c.dialog = cr.string_or("dialog", "");
        c.after_hours = static_cast<int>(cr.integer_or("after_hours", 0, 0, 24 * 90));
        c.after_slot = cr.string_or("after_slot", "");
        if (!c.cancel && (c.dialog.empty() || (c.after_hours == 0) == c.after_slot.empty()))
            cr.error("", "checkin.bad",
                     "a check-in names the \"dialog\" to start and either \"after_hours\" or "
                     "\"after_slot\" (or is {\"cancel\": true})");
        cr.finish();
        n.checkin = c;
    }
    if (!n.record.empty() && !std::regex_match(n.record, ident_rule()))
        r.error("record", "node.bad_record", "a series name is snake_case");
    n.end = r.boolean_or("end", false);
    r.finish();
    return n;
}

} // namespace

std::optional<dialog_def> load_dialog_file(const std::string& path, diagnostics& diags) {
    auto j = read_json_file(path, diags);
    if (!j)
        return std::nullopt;
    json_reader r(*j, path, "", diags);
    if (!r.ok())
        return std::nullopt;
    dialog_def d;
    d.file = path;
    d.id = std::filesystem::path(path).stem().string();
    if (!std::regex_match(d.id, ident_rule()))
        diags.add(path, "", "dialog.id_mismatch",
                  "the file name is the dialog id and must be snake_case: \"" + d.id + "\"");
    r.integer("schema_version", 1, 1, true);
    d.version = static_cast<int>(r.integer_or("version", 1, 1, 1000000));
    d.title = r.string_or("title", d.id);
    if (r.has("id") && r.string_or("id", "") != d.id)
        r.error("id", "dialog.id_mismatch",
                "\"id\" must equal the file name \"" + d.id + "\" (or be left out)");
    d.triggers = r.string_list("triggers");
    d.closeness_work = r.boolean_or("closeness_work", false);
    d.safety_kind = r.string_or("safety_kind", "");
    r.string("description");
    if (const auto* slots = r.get("slots")) {
        if (!slots->is_object()) {
            r.error("slots", "schema.type", "expected an object of slot name: {\"type\"}");
        } else {
            for (const auto& [name, sv] : slots->items()) {
                std::string sp = r.path("slots") + "/" + pointer_token(name);
                json_reader s(sv, path, sp, diags);
                slot_def sd;
                sd.type = s.string_or("type", "text");
                if (sd.type != "text" && sd.type != "enum" && sd.type != "number" &&
                    sd.type != "bool")
                    s.error("type", "slot.bad_type", "slot types are text, enum, number, bool");
                sd.values = s.string_list("values");
                if (sd.type == "enum" && sd.values.empty())
                    s.error("", "schema.missing", "an enum slot needs \"values\"");
                sd.from_intent = s.boolean_or("from_intent", false);
                sd.label = s.string_or("label", "");
                s.string("description");
                s.finish();
                if (!std::regex_match(name, ident_rule()))
                    diags.add(path, sp, "slot.bad_name", "slot names are snake_case");
                d.slots[name] = sd;
            }
        }
    }
    d.start = r.string_or("start", "");
    if (!r.has("start"))
        r.error("", "schema.missing", "missing required field \"start\"");
    if (const auto* nodes = r.get("nodes", true)) {
        if (!nodes->is_object() || nodes->empty()) {
            r.error("nodes", "schema.type", "expected a non-empty object of node id: node");
        } else {
            for (const auto& [id, nv] : nodes->items()) {
                std::string np = r.path("nodes") + "/" + pointer_token(id);
                if (!std::regex_match(id, ident_rule()))
                    diags.add(path, np, "node.bad_id", "node ids are snake_case: \"" + id + "\"");
                d.nodes[id] = read_node(id, nv, path, np, diags);
                d.node_order.push_back(id);
            }
        }
    }
    if (const auto* mig = r.get("migrations")) {
        if (!mig->is_object()) {
            r.error("migrations", "schema.type",
                    "expected {\"<old version>\": {\"<old node>\": \"<new node>\"}}");
        } else {
            for (const auto& [ver, map] : mig->items()) {
                std::string mp = r.path("migrations") + "/" + pointer_token(ver);
                int v = 0;
                try {
                    v = std::stoi(ver);
                } catch (...) {
                }
                if (v < 1 || v >= d.version || !map.is_object()) {
                    diags.add(path, mp, "dialog.bad_migration",
                              "migration keys are older version numbers mapping old node ids "
                              "to current ones");
                    continue;
                }
                for (const auto& [from, to] : map.items())
                    if (to.is_string())
                        d.migrations[v][from] = to.get<std::string>();
            }
        }
    }
    r.finish();
    return d;
}

} // namespace tandem::bot
