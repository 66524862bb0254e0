#include "adapters/console/console_chat.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <nlohmann/json.hpp>

#include <fstream>
#include <iostream>
#include <sstream>

#ifdef TANDEM_HAVE_LIBEDIT
#include <editline/readline.h>
#endif

namespace tandem::adapters::console {

namespace net = boost::asio;

std::string answer_json(const bot::turn_result& r) {
    nlohmann::json opts = nlohmann::json::array();
    for (const auto& o : r.reply.options)
        opts.push_back({{"id", o.id}, {"label", o.label}});
    nlohmann::json j = {{"intent", r.intent}, {"topic", r.topic},       {"dialog", r.dialog},
                        {"node", r.node},     {"texts", r.reply.texts}, {"options", opts},
                        {"end", r.reply.end}};
    if (r.error)
        j["error"] = true;
    if (r.forgotten)
        j["forgotten"] = true;
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

namespace {

bot::turn_result run_turn(bot::turn_service& service, bot::inbound_message msg) {
    net::io_context ioc;
    auto fut = net::co_spawn(ioc, service.handle(std::move(msg)), net::use_future);
    ioc.run();
    return fut.get();
}

bool read_line(std::istream& in, std::ostream& out, bool interactive, std::string& line) {
#ifdef TANDEM_HAVE_LIBEDIT
    if (interactive && &in == &std::cin) {
        char* raw = readline("you> ");
        if (!raw)
            return false;
        line = raw;
        if (!line.empty())
            add_history(raw);
        std::free(raw);
        return true;
    }
#endif
    if (interactive)
        out << "you> " << std::flush;
    return static_cast<bool>(std::getline(in, line));
}

void print_human(std::ostream& out, const bot::turn_result& r) {
    for (const auto& t : r.reply.texts) {
        std::istringstream lines(t);
        std::string l;
        bool first = true;
        while (std::getline(lines, l)) {
            out << (first ? "tandem> " : "        ") << l << "\n";
            first = false;
        }
    }
    for (std::size_t i = 0; i < r.reply.options.size(); ++i)
        out << "   " << (i + 1) << ". " << r.reply.options[i].label << "\n";
    out << std::flush;
}

std::string join_labels(const bot::turn_result& r) {
    if (r.reply.options.empty())
        return "-";
    std::string s;
    for (std::size_t i = 0; i < r.reply.options.size(); ++i)
        s += (i ? " | " : "") + r.reply.options[i].label;
    return s;
}

} // namespace

int run_console(bot::turn_service& service, std::istream& in, std::ostream& out,
                const console_options& opts) {
    std::ostringstream transcript;
    if (!opts.record_file.empty())
        transcript << "# Recorded with `tandem chat --record`. Keep the assertions that matter.\n";
    if (!opts.record_file.empty() && !opts.language.empty())
        transcript << "@language " << opts.language << "\n";
    if (opts.interactive && !opts.json)
        out << "tandem: type a message and press Enter. Pick an option by its number. "
               "/quit to leave.\n";
    std::string line;
    while (read_line(in, out, opts.interactive, line)) {
        if (!line.empty() && line.back() == '\r')
            line.pop_back();
        if (line == "/quit" || line == "/exit")
            break;
        bot::inbound_message msg;
        msg.channel = "console";
        msg.conversation_id = opts.conversation_id;
        msg.user_id = opts.conversation_id;
        msg.language = opts.language;
        if (line.size() > 2 && line.front() == '[' && line.back() == ']')
            msg.option_id = line.substr(1, line.size() - 2);
        else
            msg.text = line;
        if (msg.option_id.empty() && line.find_first_not_of(" \t") == std::string::npos) {
            if (opts.json)
                out << nlohmann::json{{"error", "empty message"}}.dump() << "\n" << std::flush;
            continue;
        }
        if (opts.before_turn)
            opts.before_turn(opts.json ? std::cerr : out);
        auto r = run_turn(service, msg);
        if (opts.json)
            out << answer_json(r) << "\n" << std::flush;
        else
            print_human(out, r);
        if (!opts.record_file.empty()) {
            transcript << "> " << line << "\n";
            transcript << "intent: " << (r.intent.empty() ? "-" : r.intent) << "\n";
            transcript << "dialog: " << (r.dialog.empty() ? "-" : r.dialog) << "\n";
            transcript << "node: " << (r.node.empty() ? "-" : r.node) << "\n";
            transcript << "options: " << join_labels(r) << "\n";
            if (r.reply.end)
                transcript << "end: true\n";
            transcript << "\n";
        }
    }
    if (!opts.record_file.empty()) {
        std::ofstream f(opts.record_file);
        f << transcript.str();
        if (!f) {
            std::cerr << "tandem chat: cannot write " << opts.record_file << "\n";
            return 1;
        }
    }
    return 0;
}

} // namespace tandem::adapters::console
