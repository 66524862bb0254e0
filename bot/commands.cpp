#include "bot/commands.hpp"

namespace tandem::bot {

const std::vector<channel_command>& channel_commands() {
    static const std::vector<channel_command> list = {
        {"help", "What tandem can do, and where to find help right now"},
        {"menu", "Pick a topic to think about"},
        {"restart", "Start our conversation over"},
        {"forget", "Delete everything tandem keeps about your conversation"},
        {"why", "What tandem understood and what it remembers"},
        {"export", "Everything tandem keeps about your conversation, as a copy for you"},
        {"link", "Continue this conversation in another app, or join one with its code", "code",
         "The code from /link in the other app (leave empty to get a code)"},
        {"unlink", "Separate this chat from the conversation it is linked to"},
    };
    return list;
}

} // namespace tandem::bot
