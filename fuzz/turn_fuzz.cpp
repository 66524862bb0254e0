// Whole conversations through the turn processor (normaliser, matcher, dialog engine,
// state JSON, store) on the fixture content. Each input line is one turn:
//   [id]        presses the option with that id
//   #N          presses the N-th option the last reply offered
//   ~           lets two hours pass (idle expiry)
//   !{json}     overwrites the stored state with this text first (corrupt or hostile state)
//   anything else is a message.
// A turn may only report an error after a hostile state was written.
#include "bot/content.hpp"
#include "bot/conversation_store.hpp"
#include "bot/turn_processor.hpp"
#include "fuzz/fuzz_support.hpp"

#include <iostream>

using namespace tandem;

namespace {
std::shared_ptr<const bot::content> content_once() {
    static auto c = [] {
        bot::diagnostics diags;
        auto loaded = bot::content::load(fuzz::paths_in(fuzz::fixture_content()), diags);
        if (!diags.empty()) {
            std::cerr << diags.to_string();
            std::abort();
        }
        return loaded;
    }();
    return c;
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto store = bot::make_memory_store();
    bot::conversation_config cfg;
    cfg.idle_expiry_seconds = 3600;
    bot::turn_processor proc(content_once(), store, cfg);
    std::string_view in(reinterpret_cast<const char*>(data), size);
    std::int64_t now = 1'790'000'000;
    bool hostile = false;
    std::vector<std::string> offered;
    int turns = 0;
    for (std::size_t start = 0; start <= in.size() && turns < 40; ++turns) {
        auto end = in.find('\n', start);
        if (end == std::string_view::npos)
            end = in.size();
        std::string_view line = in.substr(start, end - start);
        start = end + 1;
        bot::inbound_message m;
        m.channel = "fuzz";
        m.conversation_id = "c";
        if (!line.empty() && line[0] == '~') {
            now += 7200;
            continue;
        }
        if (!line.empty() && line[0] == '!') {
            store->save("fuzz:c", std::string(line.substr(1)), now);
            hostile = true;
            continue;
        }
        if (line.size() >= 2 && line.front() == '[' && line.back() == ']') {
            m.option_id = std::string(line.substr(1, line.size() - 2));
        } else if (line.size() >= 2 && line[0] == '#' && !offered.empty()) {
            m.option_id = offered[static_cast<unsigned char>(line[1]) % offered.size()];
        } else {
            m.text = std::string(line);
        }
        now += 10;
        auto r = proc.run(m, now);
        if (r.error && !hostile)
            fuzz::fail("a turn failed on valid content without a hostile state");
        fuzz::check(!r.reply.texts.empty() || r.forgotten || r.error,
                    "a turn answered with nothing");
        for (const auto& t : r.reply.texts)
            fuzz::check(!t.empty(), "an empty reply bubble");
        offered.clear();
        for (const auto& o : r.reply.options)
            offered.push_back(o.id);
        if (r.forgotten)
            fuzz::check(!store->load("fuzz:c"), "forget left state behind");
        if (!r.error)
            hostile = false; // the turn replaced the hostile state with a good one
    }
    return 0;
}
