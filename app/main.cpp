// tandem: a reflection companion for close relationships. Entry point and subcommands.
#include "app/commands.hpp"

#include <cstring>
#include <exception>
#include <iostream>
#include <map>

namespace {

struct command {
    int (*run)(tandem::app::args_t);
    const char* summary;
};

const std::map<std::string, command>& commands() {
    using namespace tandem::app;
    static const std::map<std::string, command> c = {
        {"chat", {cmd_chat, "talk to tandem in this terminal (--json for one JSON line per turn)"}},
        {"check", {cmd_check, "validate intents, dialogs, resources and config"}},
        {"classify", {cmd_classify, "classify messages read from stdin, one JSON line each"}},
        {"eval", {cmd_eval, "measure the intent engine on a labeled .jsonl file"}},
        {"lint", {cmd_lint, "report intents that never win, shared examples, too-broad patterns"}},
        {"graph", {cmd_graph, "draw a dialog as Graphviz DOT (and SVG when dot is installed)"}},
        {"serve", {cmd_serve, "run the HTTP server: webhooks, widget, health and metrics"}},
        {"telegram", {cmd_telegram, "telegram set-webhook: register the webhook URL"}},
        {"discord", {cmd_discord, "discord register-commands: register the slash commands"}},
    };
    return c;
}

void usage(std::ostream& out) {
    out << "usage: tandem COMMAND [--config FILE] [--data DIR] [options]\n\ncommands:\n";
    for (const auto& [name, c] : commands())
        out << "  " << name << std::string(10 - name.size(), ' ') << c.summary << "\n";
    out << "\nRun from the project folder, or pass --config path/to/config/tandem.json.\n";
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") ||
        !std::strcmp(argv[1], "help")) {
        usage(argc < 2 ? std::cerr : std::cout);
        return argc < 2 ? 2 : 0;
    }
    auto it = commands().find(argv[1]);
    if (it == commands().end()) {
        std::cerr << "tandem: unknown command \"" << argv[1] << "\"\n\n";
        usage(std::cerr);
        return 2;
    }
    try {
        return it->second.run(tandem::app::args_t(argv + 2, argv + argc));
    } catch (const std::exception& e) {
        std::cerr << "tandem " << argv[1] << ": " << e.what() << "\n";
        return 1;
    }
}
