// The dialog loader on arbitrary files. Input: a dialog id on the first line, then the
// file's text (scripts/fuzz.sh seeds it with every fixture and shipped dialog that way).
// The file replaces (or adds) that dialog in a private copy of the fixture content. When it
// parses cleanly, the whole content is validated (content::load); when that passes too, the
// dialog engine runs the dialog for a few steps: content that passes the checks must never
// break a turn.
#include "bot/content.hpp"
#include "bot/dialog.hpp"
#include "bot/dialog_engine.hpp"
#include "fuzz/fuzz_support.hpp"

#include <map>

using namespace tandem;
namespace fs = std::filesystem;

namespace {
const fs::path& content_copy() {
    static fs::path root = [] {
        auto dst = fuzz::scratch().path() / "content";
        fs::copy(fuzz::fixture_content(), dst, fs::copy_options::recursive);
        return dst;
    }();
    return root;
}

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

bool plain_id(std::string_view s) {
    if (s.empty() || s.size() > 40)
        return false;
    for (char c : s)
        if (!((c >= 'a' && c <= 'z') || c == '_'))
            return false;
    return true;
}

// Puts the original file back (or removes the added one) when the run ends.
struct restore {
    fs::path path;
    std::optional<std::string> original;
    ~restore() {
        std::error_code ec;
        if (original) {
            std::ofstream out(path, std::ios::binary | std::ios::trunc);
            out << *original;
        } else {
            fs::remove(path, ec);
        }
    }
};
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto& root = content_copy();
    std::string_view in(reinterpret_cast<const char*>(data), size);
    auto nl = in.find('\n');
    std::string id = "fuzzed";
    if (nl != std::string_view::npos && plain_id(in.substr(0, nl))) {
        id = std::string(in.substr(0, nl));
        in.remove_prefix(nl + 1);
    }
    auto path = root / "dialogs" / (id + ".json");
    restore guard{path, fs::exists(path) ? std::optional(read_file(path)) : std::nullopt};
    {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out.write(in.data(), static_cast<std::streamsize>(in.size()));
    }
    bot::diagnostics diags;
    auto d = bot::load_dialog_file(path.string(), diags);
    if (!d || !diags.empty())
        return 0;
    bot::diagnostics all;
    auto c = bot::content::load(fuzz::paths_in(root), all);
    if (!all.empty() || !c->dialog(id))
        return 0;
    // It validated: walk it. Start it, then answer each step with an option or a text.
    bot::config cfg;
    auto state = bot::new_state("fuzz:c", 1'790'000'000);
    bot::turn_input turn;
    turn.now = 1'790'000'000;
    turn.start_dialog = id;
    static const char* answers[] = {"yes", "no", "I feel smothered", "2", "start over", "help"};
    for (int step = 0; step < 8; ++step) {
        auto out = bot::step(*c, cfg.conversation, std::move(state), turn);
        fuzz::check(!out.reply.texts.empty() || out.forget, "a validated dialog said nothing");
        if (out.forget)
            break;
        state = std::move(out.state);
        turn = {};
        turn.now = 1'790'000'000 + step * 10;
        if (!out.reply.options.empty() && step % 2 == 0) {
            turn.option_id =
                out.reply.options[static_cast<std::size_t>(step) % out.reply.options.size()].id;
        } else {
            turn.text = answers[step % 6];
            turn.understood = c->matcher().classify(turn.text);
        }
    }
    return 0;
}
