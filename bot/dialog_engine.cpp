#include "bot/dialog_engine.hpp"

#include "bot/checkins.hpp"
#include "bot/normalizer.hpp"
#include "bot/reflection.hpp"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <set>

namespace tandem::bot {
namespace {

std::uint64_t fnv1a(std::string_view s) {
    std::uint64_t h = 1469598103934665603ull;
    for (unsigned char c : s) {
        h ^= c;
        h *= 1099511628211ull;
    }
    return h;
}

std::uint64_t mix(std::uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

const std::set<std::string>& stopwords() {
    static const std::set<std::string> s = {
        "a",   "an",   "the",    "i",    "my",    "to",   "of",    "it",   "is",
        "and", "or",   "with",   "for",  "about", "some", "this",  "that", "me",
        "you", "your", "please", "just", "ok",    "okay", "am",    "are",  "be",
        "in",  "on",   "at",     "let",  "us",    "we",   "would", "like", "lets"};
    return s;
}

std::vector<std::string> content_words(const std::string& normalized) {
    std::vector<std::string> out;
    std::string cur;
    auto flush = [&] {
        if (!cur.empty() && !stopwords().count(cur))
            out.push_back(cur);
        cur.clear();
    };
    for (char c : normalized) {
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            static_cast<unsigned char>(c) >= 0x80)
            cur += c;
        else
            flush();
    }
    flush();
    return out;
}

bool contains_phrase(const std::string& text, const std::string& phrase) {
    if (phrase.empty())
        return false;
    std::string t = " " + text + " ", p = " " + phrase + " ";
    for (char& ch : t)
        if (!std::isalnum(static_cast<unsigned char>(ch)) && static_cast<unsigned char>(ch) < 0x80)
            ch = ' ';
    return t.find(p) != std::string::npos;
}

std::optional<std::string> first_number(const std::string& normalized) {
    static const std::vector<std::string> words = {
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"};
    for (std::size_t i = 0; i < normalized.size(); ++i) {
        if (std::isdigit(static_cast<unsigned char>(normalized[i]))) {
            std::size_t j = i;
            while (j < normalized.size() && j - i < 9 &&
                   std::isdigit(static_cast<unsigned char>(normalized[j])))
                ++j;
            return std::to_string(std::stoll(normalized.substr(i, j - i)));
        }
    }
    for (const auto& w : content_words(normalized))
        for (std::size_t k = 0; k < words.size(); ++k)
            if (w == words[k])
                return std::to_string(k);
    return std::nullopt;
}

class engine {
  public:
    engine(const content& c, const conversation_config& cfg, conversation_state& s,
           outbound_message& reply, const turn_input& in)
        : c_(c), cfg_(cfg), s_(s), reply_(reply), in_(in) {}

    bool forget = false;

    // A turn never answers with nothing (an empty message is an error on most channels and
    // a silence to the user): when a dialog ended on a button with no words of its own, the
    // system dialog's optional "ended" node is said, or a plain acknowledgement.
    void never_silent() {
        if (!reply_.texts.empty() || forget)
            return;
        system_say("ended");
        if (reply_.texts.empty())
            say("Okay. I'm here whenever you want to talk.");
    }

    void run() {
        const auto& cls = in_.understood;
        ++s_.turns;
        s_.last_active = in_.now;
        if (!migrate_state(c_, s_)) {
            system_say("dialog_changed");
            if (!in_.option_id.empty()) {
                start_named("menu");
                return;
            }
        }
        if (!in_.start_dialog.empty()) {
            // A check-in the user asked for: it opens its dialog, whatever was left open.
            s_.stack.clear();
            s_.pending_switch.clear();
            start_named(in_.start_dialog);
            return;
        }
        if (in_.command == "why" || in_.command == "export") {
            explain(in_.command);
            return;
        }
        if (!in_.option_id.empty()) {
            s_.last_intent = "option";
            s_.last_topic = s_.stack.empty() ? "" : s_.stack.back().dialog;
            press(in_.option_id);
            return;
        }
        s_.last_intent = cls.intent;
        s_.last_topic = cls.topic;
        if (auto it = cls.captures.find("region"); it != cls.captures.end())
            if (auto code = c_.resources().region_for(normalize(it->second)))
                s_.region = *code;

        // A tier-C intent ranked below the topic band is a net for messages nothing else
        // understood; at a free-text question the answer is understood, so it stays quiet.
        const bool safety_net = cls.safety && cls.safety->tier == "C" && !cls.ranked.empty() &&
                                cls.ranked.front().priority < 50;
        const bool safety = cls.safety.has_value() && !(safety_net && capturing());
        if (!s_.welcomed && !safety && cls.topic != "forget_me") {
            s_.welcomed = true;
            if (const auto* w = c_.dialog("welcome")) {
                auto saved = std::move(s_.stack);
                s_.stack.clear();
                start(*w, false, nullptr);
                s_.stack = std::move(saved);
                reply_.options.clear();
                reply_.end = false;
            }
        }
        if (safety) {
            s_.stack.clear();
            s_.pending_switch.clear();
            s_.fallbacks = 0;
            if (is_safety_mode_kind(cls.safety->kind))
                s_.safety_mode = cls.safety->kind;
            const auto* d = c_.dialog_for(cls.intent, "");
            if (!d)
                d = c_.dialog("safety");
            if (d)
                start(*d, false, &cls);
            return;
        }
        if (cls.topic == "forget_me" || cls.topic == "restart" || cls.topic == "goodbye") {
            s_.stack.clear();
            s_.pending_switch.clear();
            s_.fallbacks = 0;
            if (const auto* d = c_.dialog_for(cls.intent, cls.topic))
                start(*d, false, &cls);
            return;
        }
        if (cls.topic == "help" &&
            (cls.intent == "help" || cls.captures.count("language") || !capturing())) {
            // At a free-text question the answer is the user's words ("you never help"
            // quoted from a fight); only a plain call for help, or for another language,
            // interrupts it.
            const auto* d = c_.dialog_for(cls.intent, cls.topic);
            s_.pending_switch.clear();
            if (d && (s_.stack.empty() || s_.stack.back().dialog != d->id)) {
                start(*d, false, &cls);
                return;
            }
        }
        if (!s_.pending_switch.empty()) {
            std::string target = std::move(s_.pending_switch);
            s_.pending_switch.clear();
            if (cls.topic == "affirm" || contains_phrase(cls.normalized, "switch")) {
                switch_to(target);
                return;
            }
            if (cls.topic == "deny" || contains_phrase(cls.normalized, "stay")) {
                reask();
                return;
            }
        }
        if (!s_.stack.empty()) {
            in_node();
            return;
        }
        idle();
    }

  private:
    const content& c_;
    const conversation_config& cfg_;
    conversation_state& s_;
    outbound_message& reply_;
    const turn_input& in_;
    std::set<std::string> shown_resources_;

    bool capturing() const {
        if (s_.stack.empty())
            return false;
        const auto* d = c_.dialog(s_.stack.back().dialog);
        const auto* n = d ? d->node(s_.stack.back().node) : nullptr;
        return n && n->capture;
    }

    std::string region() const {
        if (!s_.region.empty())
            return s_.region;
        if (!cfg_.default_region.empty() && c_.resources().region(cfg_.default_region))
            return cfg_.default_region;
        return c_.resources().default_region();
    }

    const std::string& pick(const variants& v, const std::string& key) {
        static const std::string empty;
        if (v.empty())
            return empty;
        if (v.size() == 1)
            return v[0];
        std::uint64_t h = mix(s_.seed ^ fnv1a(key) ^ mix(s_.turns));
        std::size_t n = v.size(), idx;
        auto it = s_.last_variant.find(key);
        if (it == s_.last_variant.end() || it->second < 0 ||
            static_cast<std::size_t>(it->second) >= n)
            idx = h % n;
        else
            idx = (static_cast<std::size_t>(it->second) + 1 + h % (n - 1)) % n;
        s_.last_variant[key] = static_cast<int>(idx);
        return v[idx];
    }

    std::string render(const std::string& text, const dialog_frame* f,
                       const std::map<std::string, std::string>& extra = {}) {
        std::string out;
        out.reserve(text.size() + 32);
        for (std::size_t i = 0; i < text.size(); ++i) {
            if (text[i] != '{') {
                out += text[i];
                continue;
            }
            auto close = text.find('}', i + 1);
            if (close == std::string::npos) {
                out += text.substr(i);
                break;
            }
            std::string field = text.substr(i + 1, close - i - 1);
            i = close;
            std::string value = expand(field, f, extra);
            // An empty value must not leave a double space ("you'd  go").
            if (value.empty() && !out.empty() && out.back() == ' ' &&
                (i + 1 >= text.size() || text[i + 1] == ' ' ||
                 std::ispunct(static_cast<unsigned char>(text[i + 1]))))
                out.pop_back();
            out += value;
        }
        while (!out.empty() && (out.back() == ' ' || out.back() == '\n'))
            out.pop_back();
        return out;
    }

    std::string expand(std::string field, const dialog_frame* f,
                       const std::map<std::string, std::string>& extra) {
        if (auto it = extra.find(field); it != extra.end())
            return it->second;
        if (field == "emergency")
            return c_.resources().emergency(region());
        if (field.rfind("res:", 0) == 0) {
            // A helpline is listed once per answer, even when two categories fall back to
            // the same entry.
            std::string line = c_.resources().render(field.substr(4), region());
            return shown_resources_.insert(line).second ? line : std::string();
        }
        if (field == "$region") {
            const auto* r = c_.resources().region(region());
            return r ? r->name : region();
        }
        if (field == "$safety_mode")
            return s_.safety_mode;
        if (field.rfind("$trend:", 0) == 0)
            return trend(field.substr(7));
        if (!f)
            return "";
        std::string filters;
        if (auto bar = field.find('|'); bar != std::string::npos) {
            filters = field.substr(bar + 1);
            field = field.substr(0, bar);
        }
        auto it = f->slots.find(field);
        if (it == f->slots.end())
            return "";
        std::string value = trim_fragment(it->second);
        apply_filters(value, filters); // validated at load time
        return value;
    }

    void say(std::string text) {
        if (!text.empty())
            reply_.texts.push_back(std::move(text));
    }

    const dialog_def* top_dialog() const {
        return s_.stack.empty() ? nullptr : c_.dialog(s_.stack.back().dialog);
    }

    // The id of the dialog this one interrupted (small talk or help in the middle of a
    // dialog), which asks its question again when this one ends; empty when none waits.
    std::string interrupted() const {
        return s_.stack.size() > 1 ? s_.stack[s_.stack.size() - 2].dialog : std::string();
    }

    std::string slot_value(const std::string& slot, const dialog_frame& f) const {
        if (slot == "$region")
            return region();
        if (slot == "$safety_mode")
            return s_.safety_mode;
        if (slot == "$interrupted")
            return interrupted();
        if (slot.rfind("$trend:", 0) == 0)
            return trend(slot.substr(7));
        auto it = f.slots.find(slot);
        return it == f.slots.end() ? std::string() : it->second;
    }

    static std::string json_text(const nlohmann::json& v) {
        if (v.is_string())
            return v.get<std::string>();
        if (v.is_boolean())
            return v.get<bool>() ? "true" : "false";
        if (v.is_number_integer())
            return std::to_string(v.get<long long>());
        if (v.is_number())
            return std::to_string(v.get<double>());
        return v.dump();
    }

    bool eval(const condition& cnd, const dialog_frame& f) const {
        switch (cnd.k) {
        case condition::kind::all:
            return std::all_of(cnd.children.begin(), cnd.children.end(),
                               [&](const condition& ch) { return eval(ch, f); });
        case condition::kind::any:
            return std::any_of(cnd.children.begin(), cnd.children.end(),
                               [&](const condition& ch) { return eval(ch, f); });
        case condition::kind::negate:
            return cnd.children.empty() || !eval(cnd.children[0], f);
        case condition::kind::compare:
            break;
        }
        bool present =
            (cnd.slot[0] == '$') ? !slot_value(cnd.slot, f).empty() : f.slots.count(cnd.slot) > 0;
        std::string v = slot_value(cnd.slot, f);
        if (cnd.op == "set")
            return present && !v.empty();
        if (cnd.op == "unset")
            return !present || v.empty();
        if (!present)
            return cnd.op == "ne";
        if (cnd.op == "in") {
            for (const auto& item : cnd.value)
                if (json_text(item) == v)
                    return true;
            return false;
        }
        if (cnd.value.is_number()) {
            double a;
            try {
                a = std::stod(v);
            } catch (...) {
                return cnd.op == "ne";
            }
            double b = cnd.value.get<double>();
            if (cnd.op == "eq")
                return a == b;
            if (cnd.op == "ne")
                return a != b;
            if (cnd.op == "lt")
                return a < b;
            if (cnd.op == "le")
                return a <= b;
            if (cnd.op == "gt")
                return a > b;
            if (cnd.op == "ge")
                return a >= b;
            return false;
        }
        std::string b = json_text(cnd.value);
        if (cnd.op == "eq")
            return v == b;
        if (cnd.op == "ne")
            return v != b;
        if (cnd.op == "lt")
            return v < b;
        if (cnd.op == "le")
            return v <= b;
        if (cnd.op == "gt")
            return v > b;
        if (cnd.op == "ge")
            return v >= b;
        return false;
    }

    void apply_set(const std::map<std::string, nlohmann::json>& set, dialog_frame& f) {
        for (const auto& [k, v] : set) {
            if (v.is_null())
                f.slots.erase(k);
            else
                f.slots[k] = json_text(v);
        }
    }

    std::vector<const option_def*> visible(const node_def& n, const dialog_frame& f) const {
        std::vector<const option_def*> out;
        for (const auto& o : n.options)
            if (!o.when || eval(*o.when, f))
                out.push_back(&o);
        return out;
    }

    std::string line_key(const dialog_frame& f, const std::string& node, const std::string& part) {
        return f.dialog + "/" + node + "/" + part;
    }

    static std::string utc_time(std::int64_t at) {
        std::time_t t = static_cast<std::time_t>(at);
        std::tm tm{};
        gmtime_r(&t, &tm);
        char buf[40];
        std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
        return buf;
    }

    std::string describe_intent(const std::string& id, const std::string& topic) const {
        if (id.empty())
            return "nothing yet";
        if (id == "option")
            return "a button press";
        if (id == "fallback")
            return "something I didn't recognise";
        const auto* d = c_.matcher().find(id);
        std::string name = (d && !d->description.empty()) ? d->description : id;
        std::replace(name.begin(), name.end(), '_', ' ');
        std::string t = topic;
        std::replace(t.begin(), t.end(), '_', ' ');
        return "\"" + name + "\"" + (t.empty() || t == name ? "" : " (" + t + ")");
    }

    // /why and /export: what tandem understood and keeps, in plain words or as stored.
    void explain(const std::string& what) {
        std::map<std::string, std::string> extra;
        extra["$understood"] = describe_intent(s_.last_intent, s_.last_topic);
        std::string kept;
        for (const auto& f : s_.stack) {
            const auto* d = c_.dialog(f.dialog);
            kept += "- We're in: " + (d ? d->title : f.dialog) + "\n";
            for (const auto& [k, v] : f.slots) {
                std::string name = k;
                std::replace(name.begin(), name.end(), '_', ' ');
                kept += "  - " + name + ": " + v + "\n";
            }
        }
        if (s_.stack.empty())
            kept += "- No exercise in progress.\n";
        const auto* r = c_.resources().region(region());
        kept += "- Helplines shown for: " + (r ? r->name : region()) + "\n";
        if (!s_.safety_mode.empty())
            kept += "- A safety concern came up, so closeness exercises are set aside.\n";
        for (const auto& [series, list] : s_.records)
            kept += "- Check-ins you kept (" + series + "): " + std::to_string(list.size()) + "\n";
        if (!s_.checkin_dialog.empty())
            kept += "- A check-in you asked for, due " + utc_time(s_.checkin_due) +
                    " (type \"stop check-ins\" to cancel)\n";
        kept += "- Messages so far: " + std::to_string(s_.turns) + " (their text is not kept)";
        extra["$remembered"] = kept;
        auto j = to_json(s_);
        j.erase("seed");
        j.erase("last_variant");
        // Kept only so a redelivered message gets the same answer; shown as what it is, not
        // nested (an export of an export would grow without end).
        if (!s_.last_reply.is_null())
            j["last_reply"] = "my answer to your last message, kept until your next one";
        extra["$export"] = j.dump(2);
        std::int64_t until = in_.expiry_seconds > 0 ? s_.last_active + in_.expiry_seconds : 0;
        if (until > 0)
            until = std::max(until, s_.keep_until);
        if (until > 0) {
            extra["$expires"] = utc_time(until) + ", unless we talk again";
        } else {
            extra["$expires"] = "you delete it";
        }
        system_say(what, extra);
        if (!s_.stack.empty())
            reask();
    }

    void schedule(const checkin_def& ck, const dialog_frame& f) {
        if (ck.cancel) {
            s_.checkin_dialog.clear();
            s_.checkin_due = 0;
            return;
        }
        std::int64_t hours = ck.after_hours;
        if (!ck.after_slot.empty()) {
            try {
                hours = std::stoll(slot_value(ck.after_slot, f));
            } catch (...) {
                return; // no usable number: nothing is scheduled
            }
        }
        hours = std::clamp<std::int64_t>(hours, 1, 24 * 90);
        s_.checkin_dialog = ck.dialog;
        s_.checkin_due = outside_quiet_hours(in_.now + hours * 3600, cfg_.quiet_start_hour,
                                             cfg_.quiet_end_hour, cfg_.utc_offset_minutes);
    }

    // Keeps the dialog's number slots as one entry of a series the user can look back on.
    void record(const std::string& series, const dialog_def& d, const dialog_frame& f) {
        conversation_state::record_entry e;
        e.at = in_.now;
        for (const auto& [name, sd] : d.slots)
            if (sd.type == "number")
                if (auto it = f.slots.find(name); it != f.slots.end())
                    e.values[sd.label.empty() ? name : sd.label] = it->second;
        if (e.values.empty())
            return;
        auto& list = s_.records[series];
        list.push_back(std::move(e));
        if (list.size() > 12)
            list.erase(list.begin());
        if (cfg_.records_retention_seconds > 0)
            s_.keep_until = std::max(s_.keep_until, in_.now + cfg_.records_retention_seconds);
    }

    // "closeness you want: 8 -> 7 -> 7" over the last entries of a series.
    std::string trend(const std::string& series) const {
        auto it = s_.records.find(series);
        if (it == s_.records.end() || it->second.empty())
            return "";
        const auto& list = it->second;
        std::size_t from = list.size() > 5 ? list.size() - 5 : 0;
        std::string out;
        for (const auto& [label, _] : list.back().values) {
            std::string line = "- " + label + ": ";
            bool first = true;
            for (std::size_t i = from; i < list.size(); ++i) {
                auto v = list[i].values.find(label);
                if (v == list[i].values.end())
                    continue;
                line += (first ? "" : " \u2192 ") + v->second;
                first = false;
            }
            out += (out.empty() ? "" : "\n") + line;
        }
        return out;
    }

    // Says the node's question and shows its options.
    void ask(const node_def& n) {
        auto& f = s_.stack.back();
        if (!n.ask.empty())
            say(render(pick(n.ask, line_key(f, n.id, "ask")), &f));
        reply_.options.clear();
        for (const auto* o : visible(n, f))
            reply_.options.push_back({o->id, render(o->label, &f)});
    }

    void reask() {
        if (s_.stack.empty()) {
            start_named("menu");
            return;
        }
        const auto* d = top_dialog();
        const auto* n = d ? d->node(s_.stack.back().node) : nullptr;
        if (!n || !n->waits()) {
            s_.stack.clear();
            start_named("menu");
            return;
        }
        ask(*n);
    }

    void system_say(const std::string& node, const std::map<std::string, std::string>& extra = {},
                    bool with_options = false) {
        const auto* sys = c_.dialog("system");
        const auto* n = sys ? sys->node(node) : nullptr;
        if (!n)
            return;
        dialog_frame dummy;
        dummy.dialog = "system";
        for (std::size_t i = 0; i < n->say.size(); ++i)
            say(render(pick(n->say[i], "system/" + node + "/" + std::to_string(i)), &dummy, extra));
        if (!n->ask.empty())
            say(render(pick(n->ask, "system/" + node + "/ask"), &dummy, extra));
        if (with_options) {
            reply_.options.clear();
            for (const auto& o : n->options)
                reply_.options.push_back({o.id, render(o.label, &dummy, extra)});
        }
    }

    // Runs from node_id until the conversation waits for the user or the dialog ends.
    void enter(std::string node_id) {
        for (int guard = 0; guard < 64; ++guard) {
            if (s_.stack.empty())
                return;
            auto& f = s_.stack.back();
            const auto* d = c_.dialog(f.dialog);
            const auto* n = d ? d->node(node_id) : nullptr;
            if (!n) {
                s_.stack.pop_back();
                reply_.end = s_.stack.empty();
                return;
            }
            f.node = node_id;
            apply_set(n->set, f);
            if (!n->record.empty())
                record(n->record, *d, f);
            if (n->checkin)
                schedule(*n->checkin, f);
            for (std::size_t i = 0; i < n->say.size(); ++i)
                say(render(pick(n->say[i], line_key(f, n->id, std::to_string(i))), &f));
            if (!n->branch.empty()) {
                for (const auto& b : n->branch) {
                    if (!b.when || eval(*b.when, f)) {
                        node_id = b.next;
                        break;
                    }
                }
                continue;
            }
            if (!n->next.empty()) {
                node_id = n->next;
                continue;
            }
            if (!n->start.empty()) {
                start_named(n->start, true);
                return;
            }
            if (n->end) {
                finish_frame();
                return;
            }
            ask(*n);
            return;
        }
        // A content loop without a waiting node: stop rather than spin.
        s_.stack.clear();
        reply_.options.clear();
        reply_.end = true;
    }

    void finish_frame() {
        s_.stack.pop_back();
        reply_.options.clear();
        if (s_.stack.empty()) {
            reply_.end = true;
            return;
        }
        system_say("resume");
        reask();
    }

    bool is_forget_dialog(const dialog_def& d) const {
        const auto* fd = c_.dialog_for("forget_me", "forget_me");
        return fd && fd->id == d.id;
    }

    void start(const dialog_def& target, bool replace, const classification* from) {
        const dialog_def* d = &target;
        if (d->closeness_work && !s_.safety_mode.empty()) {
            if (const auto* block = c_.dialog("safety_mode_block"))
                d = block;
        }
        if (!d->safety_kind.empty() && is_safety_mode_kind(d->safety_kind))
            s_.safety_mode = d->safety_kind;
        if (is_forget_dialog(*d)) {
            forget = true;
            auto keep_seed = s_.seed;
            s_ = conversation_state{};
            s_.seed = keep_seed;
        }
        dialog_frame f;
        f.dialog = d->id;
        f.version = d->version;
        f.node = d->start;
        if (replace && !s_.stack.empty()) {
            // "start" moves the conversation on: what the user already told us (e.g. who
            // it is about) comes along where the new dialog declares the same slot, and
            // the dialogs underneath are left behind.
            for (const auto& [name, value] : s_.stack.back().slots)
                if (d->slots.count(name))
                    f.slots[name] = value;
            s_.stack.clear();
        }
        if (s_.stack.size() >= 8) // interruptions pile up: keep the newest few
            s_.stack.erase(s_.stack.begin());
        if (from)
            for (const auto& [name, value] : from->captures)
                if (auto it = d->slots.find(name); it != d->slots.end() && it->second.from_intent)
                    f.slots[name] = value;
        s_.stack.push_back(std::move(f));
        enter(d->start);
    }

    void start_named(const std::string& id, bool replace = false) {
        if (const auto* d = c_.dialog(id))
            start(*d, replace, nullptr);
    }

    void switch_to(const std::string& id) {
        s_.stack.clear();
        s_.fallbacks = 0;
        start_named(id);
    }

    void choose(const option_def& o) {
        auto& f = s_.stack.back();
        apply_set(o.set, f);
        s_.fallbacks = 0;
        if (o.end)
            finish_frame();
        else if (!o.start.empty())
            start_named(o.start, true);
        else
            enter(o.next);
    }

    void press(const std::string& id) {
        if (!s_.pending_switch.empty() && (id == "switch" || id == "stay")) {
            std::string target = std::move(s_.pending_switch);
            s_.pending_switch.clear();
            if (id == "switch")
                switch_to(target);
            else
                reask();
            return;
        }
        s_.pending_switch.clear();
        if (!s_.stack.empty()) {
            const auto* d = top_dialog();
            const auto* n = d ? d->node(s_.stack.back().node) : nullptr;
            if (n)
                for (const auto* o : visible(*n, s_.stack.back()))
                    if (o->id == id) {
                        choose(*o);
                        return;
                    }
        }
        system_say("stale_option");
        reask();
    }

    const option_def* match_option(const node_def& n, const dialog_frame& f) {
        auto opts = visible(n, f);
        if (opts.empty())
            return nullptr;
        const auto& cls = in_.understood;
        std::string text = normalize(trim_fragment(cls.normalized));
        // 1. The option's number.
        if (!text.empty() && text.size() <= 3 && std::all_of(text.begin(), text.end(), [](char ch) {
                return std::isdigit(static_cast<unsigned char>(ch));
            })) {
            auto k = std::stoul(text);
            return (k >= 1 && k <= opts.size()) ? opts[k - 1] : nullptr;
        }
        // 2. The label itself.
        for (const auto* o : opts)
            if (normalize(trim_fragment(render(o->label, &f))) == text)
                return o;
        // 3. A keyword (only when exactly one option claims the message).
        const option_def* hit = nullptr;
        int hits = 0;
        for (const auto* o : opts)
            for (const auto& kw : o->keywords)
                if (contains_phrase(text, normalize(kw))) {
                    if (hit != o)
                        ++hits;
                    hit = o;
                    break;
                }
        if (hits == 1)
            return hit;
        // 4. The message's intent.
        if (cls.matched())
            for (const auto* o : opts)
                if (!o->intent.empty() && (o->intent == cls.intent || o->intent == cls.topic))
                    return o;
        // 5. The message's words all belong to exactly one label.
        auto words = content_words(text);
        if (words.empty() || words.size() > 4)
            return nullptr;
        hit = nullptr;
        hits = 0;
        for (const auto* o : opts) {
            auto lw = content_words(normalize(render(o->label, &f)));
            bool all = std::all_of(words.begin(), words.end(), [&](const std::string& w) {
                return std::find(lw.begin(), lw.end(), w) != lw.end();
            });
            if (all) {
                ++hits;
                hit = o;
            }
        }
        return hits == 1 ? hit : nullptr;
    }

    bool is_topic_intent(const classification& cls) const {
        static const std::set<std::string> topics = {"feeling_smothered", "feeling_distant",
                                                     "wanting_to_apologize", "conflict"};
        return topics.count(cls.topic) > 0;
    }

    bool is_topic_dialog(const dialog_def& d) const {
        for (const auto& t : d.triggers) {
            const auto* i = c_.matcher().find(t);
            static const std::set<std::string> topics = {"feeling_smothered", "feeling_distant",
                                                         "wanting_to_apologize", "conflict"};
            if ((i && topics.count(i->topic)) || topics.count(t))
                return true;
        }
        return false;
    }

    void in_node() {
        const auto& cls = in_.understood;
        auto& f = s_.stack.back();
        const auto* d = c_.dialog(f.dialog);
        const auto* n = d ? d->node(f.node) : nullptr;
        if (!n || !n->waits()) {
            s_.stack.clear();
            idle();
            return;
        }
        if (const auto* o = match_option(*n, f)) {
            choose(*o);
            return;
        }
        if (cls.matched()) {
            auto it = n->expect.find(cls.intent);
            if (it == n->expect.end())
                it = n->expect.find(cls.topic);
            if (it != n->expect.end()) {
                s_.fallbacks = 0;
                enter(it->second);
                return;
            }
        }
        if (n->capture) {
            if (cls.intent == "skip") {
                s_.fallbacks = 0;
                enter(n->capture->next);
                return;
            }
            const auto& sd = d->slots.at(n->capture->slot);
            std::string value;
            if (sd.type == "number") {
                auto num = first_number(cls.normalized);
                if (!num) {
                    not_understood(*n);
                    return;
                }
                value = *num;
            } else {
                value = trim_fragment(in_.text);
                if (value.size() > 400) {
                    std::size_t cut = 400;
                    while (cut > 0 && (static_cast<unsigned char>(value[cut]) & 0xC0) == 0x80)
                        --cut;
                    value = value.substr(0, cut) + "...";
                }
            }
            if (value.empty()) {
                not_understood(*n);
                return;
            }
            f.slots[n->capture->slot] = value;
            s_.fallbacks = 0;
            enter(n->capture->next);
            return;
        }
        if (cls.matched() && is_topic_intent(cls) && cls.confidence >= cfg_.switch_confidence) {
            const auto* target = c_.dialog_for(cls.intent, cls.topic);
            if (target && target->id != f.dialog && !is_topic_dialog(*d)) {
                // Menus and small talk give way at once; only a reflection in progress asks.
                switch_to(target->id);
                return;
            }
            if (target && target->id != f.dialog) {
                s_.pending_switch = target->id;
                system_say("switch_offer", {{"$title", target->title}, {"$current", d->title}},
                           true);
                return;
            }
        }
        if (cls.matched() && !is_topic_intent(cls) && cls.topic != "affirm" &&
            cls.topic != "deny") {
            // Small talk mid-dialog (thanks, "are you a bot?"): answer, then resume.
            const auto* side = c_.dialog_for(cls.intent, cls.topic);
            if (side && !side->closeness_work && side->id != f.dialog) {
                s_.fallbacks = 0;
                start(*side, false, &cls);
                return;
            }
        }
        not_understood(*n);
    }

    void not_understood(const node_def& n) {
        ++s_.fallbacks;
        if (s_.fallbacks >= cfg_.fallbacks_before_menu) {
            s_.fallbacks = 0;
            s_.stack.clear();
            start_named("menu");
            return;
        }
        if (!n.fallback.empty()) {
            enter(n.fallback);
            return;
        }
        system_say("reprompt");
        ask(n);
    }

    void idle() {
        const auto& cls = in_.understood;
        const dialog_def* d = cls.matched() ? c_.dialog_for(cls.intent, cls.topic) : nullptr;
        if (d) {
            s_.fallbacks = 0;
        } else {
            ++s_.fallbacks;
            d = c_.fallback_dialog();
            if (s_.fallbacks >= cfg_.fallbacks_before_menu) {
                s_.fallbacks = 0;
                d = c_.dialog("menu");
            }
        }
        if (d)
            start(*d, false, &cls);
    }
};

} // namespace

std::string command_word(const std::string& text) {
    std::size_t a = text.find_first_not_of(" \t");
    if (a == std::string::npos || text[a] != '/')
        return "";
    std::size_t b = a + 1;
    while (b < text.size() && (std::isalnum(static_cast<unsigned char>(text[b])) || text[b] == '_'))
        ++b;
    std::string word = text.substr(a + 1, b - a - 1);
    if (b < text.size() && text[b] == '@') // "/why@tandem_bot" in group chats
        while (b < text.size() && text[b] != ' ')
            ++b;
    if (text.find_first_not_of(" \t", b) != std::string::npos)
        return "";
    for (auto& ch : word)
        ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    static const std::set<std::string> known = {"start", "help",   "restart", "forget",
                                                "why",   "export", "menu"};
    return known.count(word) ? word : "";
}

conversation_state new_state(const std::string& key, std::int64_t now) {
    conversation_state s;
    s.seed = mix(fnv1a(key));
    s.created = now;
    s.last_active = now;
    return s;
}

bool migrate_state(const content& c, conversation_state& state) {
    bool all_kept = true;
    std::vector<dialog_frame> kept;
    for (auto& f : state.stack) {
        const auto* d = c.dialog(f.dialog);
        if (!d) {
            all_kept = false;
            continue;
        }
        std::string node = f.node;
        bool ok = true;
        for (int v = f.version; v < d->version && ok; ++v) {
            auto m = d->migrations.find(v);
            if (m == d->migrations.end()) {
                ok = false;
                break;
            }
            if (auto it = m->second.find(node); it != m->second.end())
                node = it->second;
        }
        if (f.version > d->version)
            ok = false;
        const auto* n = ok ? d->node(node) : nullptr;
        if (!n || !n->waits()) {
            all_kept = false;
            continue;
        }
        f.node = node;
        f.version = d->version;
        kept.push_back(std::move(f));
    }
    state.stack = std::move(kept);
    return all_kept;
}

step_output step(const content& c, const conversation_config& cfg, conversation_state state,
                 const turn_input& in) {
    step_output out;
    out.state = std::move(state);
    engine e(c, cfg, out.state, out.reply, in);
    e.run();
    e.never_silent();
    out.forget = e.forget;
    return out;
}

} // namespace tandem::bot
