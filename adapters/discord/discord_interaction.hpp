// Translation between Discord interaction JSON and tandem's values. Pure functions, no I/O.
// Only the fields tandem uses are modelled.
//
// custom_id scheme (all well under Discord's 100 characters):
//   "o:<option id>"  an option button; the id reaches the core as option_id
//   "t:answer"       the "Type an answer" button; opens the free-text modal
//   "m:answer"       the modal; its text input has custom_id "text"
#pragma once

#include "bot/commands.hpp"
#include "bot/message.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tandem::adapters::discord {

enum class interaction_kind { ping, command, component, modal_submit, other };

struct interaction {
    interaction_kind kind = interaction_kind::other;
    int type = 0;
    std::string id;
    std::string application_id;
    std::string token;   // interaction token (valid 15 minutes for follow-ups)
    std::string user_id; // member.user.id in guilds, user.id in DMs
    std::string channel_id;
    std::string guild_id;
    std::string locale;
    std::string command_name; // APPLICATION_COMMAND
    std::string text;         // the command's "text" option, or the modal's text value
    std::string custom_id;    // MESSAGE_COMPONENT / MODAL_SUBMIT
};

// Parses a verified body. nullopt with a short error code when malformed (-> 400).
std::optional<interaction> parse_interaction(std::string_view body, std::string& error);

inline constexpr std::string_view answer_button_id = "t:answer";
inline constexpr std::string_view answer_modal_id = "m:answer";
inline constexpr std::string_view answer_input_id = "text";
inline constexpr std::size_t max_content_units = 2000;

// custom_id for an option ("o:" + id); nullopt when longer than 100 characters.
std::optional<std::string> option_custom_id(const std::string& option_id);

// Message payloads ({content, flags, components, allowed_mentions}) for one reply, in
// order: the bubbles joined by blank lines, split at 2000; options as buttons (<= 5 per row, <= 5
// rows) on the last message plus a "Type an answer" button while the conversation goes on. Options
// that do not fit become numbered text (the shared fallback).
std::vector<nlohmann::json> render_reply(const bot::outbound_message& reply, bool ephemeral);

// A message payload holding only text (split beyond 2000 is the caller's job).
nlohmann::json text_message(std::string content, bool ephemeral);

// The type 9 response that opens the free-text modal.
nlohmann::json answer_modal();

// The core's channel commands (bot/commands.hpp) that Discord offers as slash commands of
// their own; each reaches the core as "/<name>", with its option's value after it.
const std::vector<bot::channel_command>& core_commands();

// The application commands `tandem discord register-commands` installs: the conversation
// command (command_name, with an optional "text" option) and the core commands.
nlohmann::json command_definitions(const std::string& command_name);

} // namespace tandem::adapters::discord
