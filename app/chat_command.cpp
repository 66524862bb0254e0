#include "adapters/console/console_chat.hpp"
#include "app/commands.hpp"
#include "app/runtime.hpp"

#include <iostream>
#include <unistd.h>

namespace tandem::app {

int cmd_chat(args_t args) {
    common_options common;
    std::string err;
    if (!parse_common(args, common, err)) {
        std::cerr << "tandem chat: " << err << "\n";
        return 2;
    }
    adapters::console::console_options opts;
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--json") {
            opts.json = true;
        } else if ((args[i] == "--record" || args[i] == "--conversation") && i + 1 < args.size()) {
            (args[i] == "--record" ? opts.record_file : opts.conversation_id) = args[i + 1];
            ++i;
        } else {
            std::cerr << "tandem chat: unknown option \"" << args[i]
                      << "\"\nusage: tandem chat [--json] [--record FILE] [--conversation ID] "
                         "[--config FILE] [--data DIR]\n";
            return 2;
        }
    }
    opts.interactive = !opts.json && ::isatty(STDIN_FILENO);
    auto rt = open_runtime(common, true);
    if (!rt)
        return 1;
    int rc = adapters::console::run_console(*rt->service, std::cin, std::cout, opts);
    rt->service->stop();
    return rc;
}

} // namespace tandem::app
