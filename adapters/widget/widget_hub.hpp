// The widget's sessions, free of any transport: what a WebSocket and the HTTP fallback
// share. A session has an opaque random id (a bearer secret, never logged and never given
// to the core, which sees a separate random conversation id), a history of the
// conversation in which every message carries the session's next seq, the client message
// ids it has seen (so a resent message is not processed twice) and the connections
// listening to it. Resuming with the last seq a client saw replays exactly the messages it
// missed. Sessions live in memory: a restart, "forget me" or idle expiry ends them; with a
// session_backup (several instances on one Redis) a session also resumes on another
// instance after its own went away.
// Thread-safe.
#pragma once

#include "adapters/widget/session_backup.hpp"
#include "adapters/widget/widget_config.hpp"
#include "bot/checkins.hpp"
#include "bot/message.hpp"
#include "bot/turn_service.hpp"

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace tandem::adapters::widget {

// A connection that listens to a session (a WebSocket, or an HTTP request waiting for news).
// The hub calls it with its lock held: implementations must not block or call the hub.
class subscriber {
  public:
    virtual ~subscriber() = default;
    // Takes one frame; false when it cannot keep up (the hub then detaches it).
    virtual bool push(const nlohmann::json& frame) = 0;
    // The session ended (forgotten, expired) or the subscriber fell behind.
    virtual void detached(const std::string& session_id) = 0;
};

struct hub_stats {
    std::size_t sessions = 0;
    std::size_t subscribers = 0;
};

class widget_hub {
  public:
    using clock_fn = std::function<std::int64_t()>;            // unix seconds
    using random_fn = std::function<std::string(std::size_t)>; // n random bytes

    // service must outlive the hub. now and random default to the system clock and
    // OpenSSL's RAND_bytes.
    widget_hub(widget_config cfg, bot::turn_service& service, clock_fn now = {},
               random_fn random = {});
    ~widget_hub();
    widget_hub(const widget_hub&) = delete;
    widget_hub& operator=(const widget_hub&) = delete;

    struct opened {
        std::string error;    // "busy" (too many sessions), "unknown_session"; empty = ok
        nlohmann::json ready; // the ready frame
    };
    // A new session. When sub is given it is attached at once.
    opened start(const std::string& language, std::shared_ptr<subscriber> sub = nullptr);
    // Attaches sub (may be null: nothing is attached) to an existing session and pushes it
    // the ready frame (unless announce is false), the messages after last_seq, then
    // everything new: no gap and no duplicate.
    opened resume(const std::string& session_id, std::uint64_t last_seq,
                  std::shared_ptr<subscriber> sub, bool announce = true);
    void detach(const std::string& session_id, const subscriber* sub);

    struct accepted {
        std::string error; // unknown_session, unknown_option, slow_down, busy
        bool duplicate = false;
        std::uint64_t seq = 0;     // seq of the user's message in the history
        nlohmann::json ack;        // the ack frame (when no error)
        bot::inbound_message turn; // for run() (when neither error nor duplicate)
    };
    // Records a user message (text or a pressed option) in the history and pushes it to
    // every subscriber. A client_msg_id seen before is not recorded again (duplicate).
    accepted accept(const std::string& session_id, const std::string& client_msg_id,
                    const std::string& text, const std::string& option_id);
    // Runs the accepted turn through the core and records and pushes the reply. Turns of a
    // session run in the order they were accepted.
    boost::asio::awaitable<void> run(std::string session_id, bot::inbound_message turn);

    // Deletes the session, its history and the core's state for it; subscribers get a
    // "forgotten" frame. False when there was no such session.
    boost::asio::awaitable<bool> forget(std::string session_id);
    // The conversation was deleted from another chat linked to it (/link): the session of
    // that conversation and its history go too; subscribers get a "forgotten" frame.
    bool forgotten_elsewhere(const std::string& conversation_id);

    // Appends a message the core sends unprompted (a check-in). False when the
    // conversation has no live session.
    bool deliver(const bot::conversation_ref& ref, const bot::outbound_message& msg);

    // Removes sessions with no subscriber idle longer than session_idle_seconds.
    std::size_t sweep();
    // Detaches every subscriber (shutdown).
    void close_all();

    // Keeps every session's resume data in b as well (set before the hub is used).
    void set_backup(std::shared_ptr<session_backup> b) { backup_ = std::move(b); }

    hub_stats stats() const;
    const widget_config& config() const { return cfg_; }

  private:
    struct session;
    std::string new_session_id();
    nlohmann::json ready_frame(const session& s, bool resumed, std::uint64_t first, bool reset,
                               bool gap) const;
    std::uint64_t append(session& s, nlohmann::json frame);
    void broadcast(session& s, const nlohmann::json& frame);
    void set_typing(session& s, int delta);
    struct snapshot {
        std::string id;
        std::uint64_t next_seq = 0;
        std::string data;
    };
    std::optional<snapshot> take_snapshot(const session& s) const; // with mu_ held
    void save_snapshot(const std::optional<snapshot>& snap);       // without mu_
    void erase_backup(const std::string& session_id);              // without mu_
    using session_map = std::unordered_map<std::string, std::shared_ptr<session>>;
    // Tells the session's subscribers it was forgotten (frame) and removes it (with mu_ held).
    void drop_session(session_map::iterator it,
                      const nlohmann::json& frame = {{"type", "forgotten"}});
    std::shared_ptr<session> restore(const std::string& session_id, const std::string& data);

    widget_config cfg_;
    bot::turn_service& service_;
    clock_fn now_;
    random_fn random_;
    mutable std::mutex mu_;
    session_map sessions_;
    std::unordered_map<std::string, std::string> by_conversation_; // conversation id -> session
    std::shared_ptr<session_backup> backup_;
};

// The widget's proactive_sink: check-ins reach the session (shown at once when a widget is
// connected, otherwise when the visitor comes back while the session lives).
std::shared_ptr<bot::proactive_sink> make_widget_sink(std::shared_ptr<widget_hub> hub);

} // namespace tandem::adapters::widget
