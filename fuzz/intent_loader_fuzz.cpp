// The intent loader and the matcher's compiler on arbitrary intent files: every problem is
// a diagnostic, never a crash; whatever loads classifies the same through the set and one
// by one.
#include "bot/intents.hpp"
#include "fuzz/fuzz_support.hpp"

using namespace tandem;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto path = fuzz::scratch().write("intents/fuzzed.json", data, size);
    bot::diagnostics diags;
    auto intents = bot::load_intent_files({path}, diags);
    for (const auto& d : diags.items())
        fuzz::check(!d.code.empty() && !d.message.empty(), "a diagnostic without code or text");
    bot::intent_matcher m(std::move(intents), diags);
    m.self_test(diags);
    static const char* probes[] = {"",
                                   "hi",
                                   "I feel smothered and need some space",
                                   "he hit me",
                                   "\xF0\x9F\x98\x8A ok",
                                   "aaaaaaaaaaaaaaaaaaaaaaaa"};
    std::vector<std::string> texts(std::begin(probes), std::end(probes));
    for (const auto& d : m.intents())
        for (const auto& e : d.examples)
            texts.push_back(e);
    for (const auto& t : texts) {
        auto a = m.classify(t);
        auto b = m.test_classify_one_by_one(t);
        fuzz::check(a.intent == b.intent && a.ranked.size() == b.ranked.size() &&
                        a.captures == b.captures,
                    "set and one-by-one disagree on loaded intents");
    }
    return 0;
}
