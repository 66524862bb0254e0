// Dialog trees as data: the in-memory form of dialogs/*.json (docs/content-format.md §3).
#pragma once

#include "bot/diagnostics.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tandem::bot {

using variants = std::vector<std::string>; // one line, several phrasings

struct condition {
    enum class kind { compare, all, any, negate };
    kind k = kind::compare;
    std::string slot;     // compare: slot name ("$region", "$safety_mode" built in)
    std::string op;       // eq ne lt le gt ge in set unset
    nlohmann::json value; // compare operand
    std::vector<condition> children;
};

struct option_def {
    std::string id;    // stable id sent back by buttons
    std::string label; // may contain templates
    std::string next;  // node in this dialog
    std::string start; // or another dialog
    bool end = false;  // or end the dialog
    std::map<std::string, nlohmann::json> set;
    std::string intent;                // a message with this intent (or topic) chooses it
    std::vector<std::string> keywords; // normalised words that choose it
    std::optional<condition> when;     // shown only when true
    std::string pointer;
};

struct branch_def {
    std::optional<condition> when; // none = default
    std::string next;
};

struct checkin_def {
    std::string dialog;     // started when the check-in is due
    int after_hours = 0;    // a fixed delay...
    std::string after_slot; // ...or the hours in a number slot the user chose
    bool cancel = false;    // or: withdraw the pending check-in
};

struct capture_def {
    std::string slot;
    std::string next;
};

struct node_def {
    std::string id;
    std::string pointer;
    std::vector<variants> say;
    variants ask;
    std::map<std::string, nlohmann::json> set;
    std::vector<option_def> options;
    std::optional<capture_def> capture;
    std::map<std::string, std::string> expect; // intent id -> node
    std::vector<branch_def> branch;
    std::string next;
    std::string start;
    std::string fallback;
    std::string record; // append this dialog's number slots to the named series on entering
    std::optional<checkin_def> checkin; // schedule (or cancel) a check-in on entering
    bool end = false;

    bool waits() const { return !options.empty() || capture || !expect.empty(); }
};

struct slot_def {
    std::string type = "text"; // text, enum, number, bool
    std::vector<std::string> values;
    bool from_intent = false; // filled from the triggering intent's named capture
    std::string label;        // how /why and trends name it ("closeness you want")
};

struct dialog_def {
    std::string id;
    std::string file;
    int version = 1;
    std::string title;
    std::vector<std::string> triggers;
    bool closeness_work = false;
    std::string safety_kind; // starting this dialog records a safety disclosure of this kind
    std::map<std::string, slot_def> slots;
    std::string start;
    std::map<std::string, node_def> nodes;
    std::vector<std::string> node_order; // as written in the file
    // Content updates: old version -> (old node -> new node).
    std::map<int, std::map<std::string, std::string>> migrations;

    const node_def* node(const std::string& id) const;
};

// Parses one dialog file (shape only); cross-checks happen in content validation.
std::optional<dialog_def> load_dialog_file(const std::string& path, diagnostics& diags);

} // namespace tandem::bot
