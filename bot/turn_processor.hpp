// One turn, synchronously: load state, understand the message, step the dialog engine,
// commit the new state, and only then hand back the reply. Thread-safe for different
// conversations; the caller serialises turns of one conversation (bot_service does).
#pragma once

#include "bot/config.hpp"
#include "bot/message.hpp"

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace tandem::bot {

class content;
class conversation_store;
struct conversation_state;
namespace linking {
struct command;
}
class checkin_store;
struct checkin_entry;

class turn_processor {
  public:
    // log_text: include the user's text in the debug "turn" log line (local debugging only;
    // config log.message_text, off by default).
    // checkins may be null: check-ins are then kept in the state but never sent.
    turn_processor(std::shared_ptr<const content> content,
                   std::shared_ptr<conversation_store> store, conversation_config cfg,
                   bool log_text = false, std::shared_ptr<checkin_store> checkins = nullptr);

    // Never throws: a failed turn (store error, corrupt state, bug) returns error = true,
    // a kind apology, and leaves the stored state as it was.
    turn_result run(const inbound_message& msg, std::int64_t now);
    // Opens a due check-in: starts its dialog in the conversation (at most once per opt-in)
    // and returns the message to send, or nothing when the user withdrew or forgot.
    std::optional<turn_result> run_checkin(const checkin_entry& e, std::int64_t now);
    // Deletes the conversation's state, with every chat linked to it (/link); those other
    // chats are added to *also when given. Throws store_error on I/O failure.
    bool forget(const std::string& channel, const std::string& conversation_id,
                std::vector<conversation_ref>* also = nullptr);
    // Deletes idle conversations; returns how many.
    std::size_t sweep(std::int64_t now);

    void set_content(std::shared_ptr<const content> c);
    std::shared_ptr<const content> current_content() const;
    const conversation_config& config() const { return cfg_; }

    static std::string key(const std::string& channel, const std::string& conversation_id);
    // Longest text classified; longer messages are cut (at a UTF-8 boundary) first.
    static constexpr std::size_t max_text_bytes = 4096;

  private:
    std::optional<turn_result> attempt_turn(const inbound_message& msg, std::int64_t now,
                                            int attempt);
    // /link, /link CODE and /unlink (bot/linking.hpp). own: this chat's key; k: the
    // conversation's (they differ when this chat joined another's conversation, whose own
    // record is then `joined`). Nothing when the conversation changed meanwhile.
    std::optional<turn_result> link_turn(const linking::command& cmd, const inbound_message& msg,
                                         std::int64_t now, int attempt, const content& lc,
                                         const std::string& own, const std::string& k,
                                         conversation_state state, std::uint64_t version,
                                         const conversation_state* joined);
    // Deletes the conversation at k with every chat still linked to it and its pending code;
    // adds the keys deleted (k included) to *erased when given.
    bool erase_conversation(const std::string& k, const conversation_state& state,
                            std::vector<std::string>* erased = nullptr);

    mutable std::mutex content_mu_;
    std::shared_ptr<const content> content_;
    std::shared_ptr<conversation_store> store_;
    conversation_config cfg_;
    bool log_text_ = false;
    std::shared_ptr<checkin_store> checkins_;
};

} // namespace tandem::bot
