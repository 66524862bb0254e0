// Used only while the build has no HTTP adapters (app/serve_command.cpp absent).
#include "app/commands.hpp"

#include <iostream>

#ifndef TANDEM_HAVE_SERVE
namespace tandem::app {
static int not_built(const char* what) {
    std::cerr << "tandem " << what << ": this build has no HTTP adapters\n";
    return 1;
}
int cmd_serve(args_t) {
    return not_built("serve");
}
int cmd_telegram(args_t) {
    return not_built("telegram");
}
int cmd_discord(args_t) {
    return not_built("discord");
}
} // namespace tandem::app
#endif
