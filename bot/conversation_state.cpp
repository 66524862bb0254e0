#include "bot/conversation_state.hpp"

#include <stdexcept>

namespace tandem::bot {

namespace {
nlohmann::json records_json(const conversation_state& s) {
    nlohmann::json r = nlohmann::json::object();
    for (const auto& [series, list] : s.records) {
        auto& arr = r[series] = nlohmann::json::array();
        for (const auto& e : list)
            arr.push_back({{"at", e.at}, {"values", e.values}});
    }
    return r;
}
} // namespace

nlohmann::json to_json(const conversation_state& s) {
    nlohmann::json stack = nlohmann::json::array();
    for (const auto& f : s.stack)
        stack.push_back(
            {{"dialog", f.dialog}, {"version", f.version}, {"node", f.node}, {"slots", f.slots}});
    nlohmann::json j = {{"schema", conversation_state::schema},
                        {"stack", stack},
                        {"region", s.region},
                        {"locale", s.locale},
                        {"safety_mode", s.safety_mode},
                        {"pending_switch", s.pending_switch},
                        {"fallbacks", s.fallbacks},
                        {"welcomed", s.welcomed},
                        {"turns", s.turns},
                        {"seed", s.seed},
                        {"created", s.created},
                        {"last_active", s.last_active},
                        {"last_intent", s.last_intent},
                        {"last_topic", s.last_topic},
                        {"last_variant", s.last_variant},
                        {"records", records_json(s)},
                        {"keep_until", s.keep_until},
                        {"checkin_dialog", s.checkin_dialog},
                        {"checkin_due", s.checkin_due},
                        {"answered_ids", s.answered_ids},
                        {"rate_tokens", s.rate_tokens},
                        {"rate_at", s.rate_at},
                        {"rate_noticed", s.rate_noticed},
                        {"last_reply", s.last_reply}};
    // Written only when used, so an unlinked conversation's state stays as small as before.
    if (!s.linked_to.empty())
        j["linked_to"] = s.linked_to;
    if (!s.linked.empty())
        j["linked"] = s.linked;
    if (!s.link_code.empty()) {
        j["link_code"] = s.link_code;
        j["link_code_expires"] = s.link_code_expires;
    }
    return j;
}

conversation_state state_from_json(const nlohmann::json& j) {
    try {
        if (!j.is_object() || j.value("schema", 0) != conversation_state::schema)
            throw std::runtime_error("unknown state schema");
        conversation_state s;
        for (const auto& f : j.at("stack")) {
            dialog_frame fr;
            fr.dialog = f.at("dialog").get<std::string>();
            fr.version = f.at("version").get<int>();
            fr.node = f.at("node").get<std::string>();
            fr.slots = f.at("slots").get<std::map<std::string, std::string>>();
            s.stack.push_back(std::move(fr));
        }
        s.region = j.at("region").get<std::string>();
        s.locale = j.value("locale", ""); // absent in states written before locale packs
        s.safety_mode = j.at("safety_mode").get<std::string>();
        s.pending_switch = j.at("pending_switch").get<std::string>();
        s.fallbacks = j.at("fallbacks").get<int>();
        s.welcomed = j.at("welcomed").get<bool>();
        s.turns = j.at("turns").get<std::uint64_t>();
        s.seed = j.at("seed").get<std::uint64_t>();
        s.created = j.at("created").get<std::int64_t>();
        s.last_active = j.at("last_active").get<std::int64_t>();
        s.last_intent = j.value("last_intent", "");
        s.last_topic = j.value("last_topic", "");
        s.last_variant = j.at("last_variant").get<std::map<std::string, int>>();
        s.keep_until = j.value("keep_until", std::int64_t{0});
        s.checkin_dialog = j.value("checkin_dialog", "");
        s.checkin_due = j.value("checkin_due", std::int64_t{0});
        // Absent in states written before idempotent turns.
        if (auto it = j.find("answered_ids"); it != j.end())
            s.answered_ids = it->get<std::vector<std::string>>();
        if (auto it = j.find("last_reply"); it != j.end() && it->is_object())
            s.last_reply = *it;
        s.rate_tokens = j.value("rate_tokens", -1.0);
        s.rate_at = j.value("rate_at", std::int64_t{0});
        s.rate_noticed = j.value("rate_noticed", false);
        // Absent in states written before /link.
        s.linked_to = j.value("linked_to", "");
        if (auto it = j.find("linked"); it != j.end())
            s.linked = it->get<std::vector<std::string>>();
        s.link_code = j.value("link_code", "");
        s.link_code_expires = j.value("link_code_expires", std::int64_t{0});
        if (auto it = j.find("records"); it != j.end())
            for (const auto& [series, list] : it->items())
                for (const auto& e : list)
                    s.records[series].push_back(
                        {e.at("at").get<std::int64_t>(),
                         e.at("values").get<std::map<std::string, std::string>>()});
        return s;
    } catch (const nlohmann::json::exception& e) {
        throw std::runtime_error(std::string("malformed conversation state: ") + e.what());
    }
}

} // namespace tandem::bot
