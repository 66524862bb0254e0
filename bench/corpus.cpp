#include "bench/corpus.hpp"

#include <algorithm>
#include <array>
#include <string_view>

namespace tandem::bench {
namespace {

// splitmix64: the same sequence on every platform (std distributions are not portable).
struct rng {
    std::uint64_t s;
    std::uint64_t next() {
        std::uint64_t z = (s += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31);
    }
    std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }
    bool chance(int percent) { return below(100) < static_cast<std::size_t>(percent); }
    template <std::size_t N> std::string_view pick(const std::array<std::string_view, N>& a) {
        return a[below(N)];
    }
};

constexpr std::array<std::string_view, 22> openers = {
    "hi",     "hey",          "hello there,", "ok so",    "so",         "honestly",
    "tbh",    "idk,",         "ugh.",         "well",     "Hi tandem,", "good evening.",
    "um",     "quick thing:", "Sorry,",       "okay.",    "hmm",        "So basically",
    "Hey, I", "Long story.",  "Can I ask:",   "right, so"};

constexpr std::array<std::string_view, 14> people = {
    "my partner", "my boyfriend", "my girlfriend",  "my wife",    "my husband",
    "he",         "she",          "they",           "my bf",      "my gf",
    "my fiancé",  "my ex",        "my best friend", "my roommate"};

constexpr std::array<std::string_view, 40> happenings = {
    "keeps texting me every hour when I'm out",
    "wants to spend every single weekend together",
    "never asks how my day was",
    "forgot our anniversary again",
    "said something really hurtful at dinner",
    "checks my phone when I'm in the shower",
    "hasn't really talked to me in days",
    "gets annoyed when I see my friends without them",
    "is always on their phone when we're together",
    "said I'm too needy",
    "wants to move in together and I'm not sure",
    "stopped saying goodnight",
    "planned a trip without asking me",
    "doesn't get why I need time alone",
    "brought up my ex AGAIN",
    "cancelled on me for the third time this week",
    "thinks I'm overreacting about the money thing",
    "never helps with the dishes or the laundry",
    "was cold all evening and wouldn't say why",
    "told their mum about our fight",
    "wants kids soon and I don't know if I do",
    "works late every night now",
    "follows me around the flat all day",
    "gave me the silent treatment after the party",
    "yelled at me in front of our friends",
    "keeps asking where I am",
    "doesn't touch me anymore",
    "said sorry but keeps doing it",
    "wants to open the relationship",
    "blamed me for everything",
    "is really sweet lately and I don't trust it",
    "won't let me see my sister",
    "called me selfish",
    "laughed when I told them how I felt",
    "hasn't replied since yesterday",
    "wants to talk every night for hours",
    "keeps planning our whole future",
    "thinks we should take a break",
    "likes everyone's posts except mine",
    "moved out last month"};

constexpr std::array<std::string_view, 34> feelings = {
    "I feel smothered",
    "I need some space",
    "I feel like we're drifting apart",
    "I miss him so much",
    "I miss her even when she's right there",
    "I feel so lonely in this relationship",
    "I'm exhausted",
    "I feel invisible",
    "honestly I'm kind of scared",
    "I don't know what to do anymore",
    "I feel guilty",
    "I want to apologize but I don't know how",
    "I said something I regret",
    "I'm so angry I can't think straight",
    "we keep having the same fight",
    "it feels like walking on eggshells",
    "I can't breathe when we're together",
    "I feel like a roommate not a partner",
    "I'm not sure I'm in love anymore",
    "I feel unappreciated",
    "I feel like I'm always the one who reaches out",
    "it hurts more than I expected",
    "I'm confused",
    "I just want things to be normal",
    "maybe it's my fault",
    "I'm tired of arguing",
    "I feel trapped",
    "I want to say sorry properly",
    "I keep overthinking it",
    "it's killing me lol",
    "I feel distant from everyone",
    "I'm fine, mostly",
    "we haven't fought in ages which is weird",
    "I dont feel smothered, I just miss him"};

constexpr std::array<std::string_view, 26> asks = {"what should I do?",
                                                   "is this normal?",
                                                   "any advice?",
                                                   "how do I bring it up without a fight?",
                                                   "am I overreacting?",
                                                   "how do I ask for space without hurting them?",
                                                   "can you help me write an apology?",
                                                   "how do I tell him what I need?",
                                                   "should I just let it go?",
                                                   "is it me?",
                                                   "what do couples do about this?",
                                                   "help",
                                                   "where do I even start",
                                                   "can we talk about it?",
                                                   "I need help",
                                                   "what would you say to them?",
                                                   "how do people fix this",
                                                   "is it ok to want time alone?",
                                                   "I want to start over",
                                                   "do you think we can make it?",
                                                   "can I get a helpline number just in case?",
                                                   "what's a good way to reconnect?",
                                                   "how do I stop being so clingy",
                                                   "thanks for listening",
                                                   "ok thanks",
                                                   "bye for now"};

constexpr std::array<std::string_view, 14> times = {
    "last night",        "this morning",  "for months now", "since the holidays",
    "every weekend",     "after work",    "on our trip",    "yesterday",
    "since we moved in", "for two years", "all week",       "at his parents' place",
    "this whole month",  "again today"};

constexpr std::array<std::string_view, 16> tails = {
    "😕",   "🙏", "😭", "…", "lol", "haha", "😔💔", "!!", "idk", ":(", "ugh", "🤷‍♀️",
    "...", "😅", "x", "?"};

// Whole messages people type that do not fit the templates.
constexpr std::array<std::string_view, 24> whole = {
    "hola, me siento agobiada con mi pareja y no sé qué hacer, ¿me ayudas?",
    "Ça va? Mon copain est très distant depuis une semaine et je ne comprends pas.",
    "what can you actually do? like are you a therapist or a bot or what",
    "start over please, I typed the wrong thing earlier and now it's confusing",
    "can you forget me? I don't want anything saved about this conversation",
    "I'm 16 and my boyfriend is 22, is that ok? he says it's fine",
    "sometimes I think everyone would be better off without me honestly",
    "he hit me last night and I don't know if I should stay at his place",
    "my friend's partner controls all her money and reads her messages, what can I do",
    "whats the weather like tomorrow in london, do I need an umbrella",
    "tell me a joke, I've had the longest day and I need to laugh about something",
    "Thank you, that actually helped a lot. I'll try talking to her tonight.",
    "we're fine. we're good actually. I just wanted to check what this is",
    "I was so mean to her yesterday and I want to make it right before the weekend",
    "how do I write an apology that doesn't sound fake? I always mess it up",
    "Is it normal to need a whole day alone after a weekend together? 🙈",
    "he says I'm too much and I should calm down but I'm just asking for a text back",
    "I'm in the US, can you show me resources for here please",
    "he threatened to hurt me if I leave and I'm scared to go home tonight",
    "sorry for rambling. it's 3am and I can't sleep because of all of this",
    "1",
    "yes",
    "no not really",
    "I want to kill myself"};

void append(std::string& s, std::string_view piece) {
    if (piece.empty())
        return;
    if (!s.empty() && s.back() != ' ')
        s += ' ';
    s += piece;
}

// Cuts at the last space at or before max bytes, never inside a UTF-8 sequence.
void cut(std::string& s, std::size_t max) {
    if (s.size() <= max)
        return;
    std::size_t at = s.rfind(' ', max);
    if (at == std::string::npos || at < max / 2) {
        at = max;
        while (at > 0 && (static_cast<unsigned char>(s[at]) & 0xC0) == 0x80)
            --at;
    }
    s.resize(at);
}

std::string clause(rng& r) {
    std::string c;
    switch (r.below(6)) {
    case 0:
    case 1:
        append(c, r.pick(people));
        append(c, r.pick(happenings));
        if (r.chance(40))
            append(c, r.pick(times));
        break;
    case 2:
    case 3:
        append(c, r.pick(feelings));
        if (r.chance(35)) {
            append(c, "because");
            append(c, r.pick(people));
            append(c, r.pick(happenings));
        }
        break;
    case 4:
        append(c, r.pick(asks));
        break;
    default:
        append(c, r.pick(times));
        c += ',';
        append(c, r.pick(people));
        append(c, r.pick(happenings));
        break;
    }
    return c;
}

std::string message(rng& r) {
    if (r.chance(8)) {
        std::string w(r.pick(whole));
        while (w.size() < 40) { // short answers come with a bit more
            append(w, "-");
            append(w, r.pick(feelings));
        }
        cut(w, 300);
        return w;
    }
    std::string s;
    if (r.chance(45))
        append(s, r.pick(openers));
    std::size_t target = 40 + r.below(r.chance(70) ? 140 : 261);
    do {
        std::string c = clause(r);
        if (!s.empty() && s.back() != ',' && s.back() != ':' && s.back() != '.')
            s += r.chance(50) ? "." : ",";
        append(s, c);
    } while (s.size() < target);
    if (r.chance(25))
        append(s, r.pick(tails));
    if (r.chance(30) && !s.empty()) // sentence case
        s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
    if (r.chance(7)) // SHOUTING
        for (auto& ch : s)
            ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    if (r.chance(5)) // sooooo
        if (auto at = s.find("so "); at != std::string::npos)
            s.insert(at + 1, "ooo");
    cut(s, 300);
    while (s.size() < 40)
        append(s, r.pick(asks));
    cut(s, 300);
    return s;
}

} // namespace

std::vector<std::string> make_corpus(std::size_t n, std::uint64_t seed) {
    rng r{seed};
    std::vector<std::string> out;
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i)
        out.push_back(message(r));
    return out;
}

corpus_stats describe(const std::vector<std::string>& corpus) {
    corpus_stats s;
    s.messages = corpus.size();
    if (corpus.empty())
        return s;
    std::vector<std::size_t> lens;
    for (const auto& m : corpus) {
        lens.push_back(m.size());
        s.bytes += m.size();
        if (std::any_of(m.begin(), m.end(), [](char c) { return c & 0x80; }))
            ++s.non_ascii;
    }
    std::sort(lens.begin(), lens.end());
    s.min_len = lens.front();
    s.max_len = lens.back();
    s.median_len = lens[lens.size() / 2];
    return s;
}

} // namespace tandem::bench
