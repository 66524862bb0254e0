#include "bot/message.hpp"

namespace tandem::bot {

std::string render_options_as_text(const std::vector<reply_option>& options) {
    std::string out;
    for (std::size_t i = 0; i < options.size(); ++i) {
        if (i)
            out += '\n';
        out += std::to_string(i + 1) + ". " + options[i].label;
    }
    return out;
}

} // namespace tandem::bot
