// The tandem subcommands. Each takes its arguments (without the command name) and
// returns the process exit code: 0 success, 1 failure (content/config problems,
// thresholds missed), 2 bad usage.
#pragma once

#include <string>
#include <vector>

namespace tandem::app {

using args_t = std::vector<std::string>;

int cmd_check(args_t args);
int cmd_chat(args_t args);
int cmd_classify(args_t args);
int cmd_eval(args_t args);
int cmd_graph(args_t args);
int cmd_lint(args_t args);
// Defined with the HTTP adapters (app/serve_command.cpp).
int cmd_serve(args_t args);
int cmd_telegram(args_t args);
int cmd_discord(args_t args);

} // namespace tandem::app
