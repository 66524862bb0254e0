// The slash commands every channel understands, with the short descriptions the platforms
// show in their command menus (Telegram's setMyCommands, Discord's application commands).
// They reach the core as text ("/forget", "/link CODE") and mean the same everywhere.
#pragma once

#include <vector>

namespace tandem::bot {

struct channel_command {
    const char* name;
    const char* description; // <= 100 characters (Discord's limit; Telegram allows 256)
    // An optional text argument sent after the command word ("/link CODE"); null for none.
    const char* option = nullptr;
    const char* option_description = nullptr;
};

// In menu order. "/start" (Telegram's first message) is not listed: it means "hello".
const std::vector<channel_command>& channel_commands();

} // namespace tandem::bot
