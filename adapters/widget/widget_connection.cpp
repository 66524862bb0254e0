#include "adapters/widget/widget_connection.hpp"

#include <variant>

namespace tandem::adapters::widget {

widget_connection::widget_connection(std::shared_ptr<widget_hub> hub,
                                     boost::asio::any_io_executor ex)
    : hub_(std::move(hub)),
      // Room for a whole replay plus what arrives meanwhile.
      outbox_(std::make_shared<mailbox>(ex, hub_->config().history_limit + 64)),
      limits_{hub_->config().max_frame_bytes, hub_->config().max_text_chars} {}

widget_connection::~widget_connection() = default;

std::string widget_connection::session() const {
    std::lock_guard lock(mu_);
    return session_;
}

bool widget_connection::push(const nlohmann::json& frame) {
    if (outbox_->push(frame))
        return true;
    // Fell behind: close, so the transport ends and the client resumes from its last seq.
    outbox_->close();
    return false;
}

void widget_connection::detached(const std::string& session_id) {
    std::lock_guard lock(mu_);
    if (session_ == session_id)
        session_.clear();
}

void widget_connection::send(nlohmann::json frame) {
    push(frame);
}

void widget_connection::unbind() {
    std::string old;
    {
        std::lock_guard lock(mu_);
        old = std::exchange(session_, {});
    }
    if (!old.empty())
        hub_->detach(old, this);
}

bool widget_connection::bind(const std::string& session_id, std::uint64_t last_seq, bool announce) {
    unbind();
    auto r = hub_->resume(session_id, last_seq, shared_from_this(), announce);
    if (!r.error.empty())
        return false;
    std::lock_guard lock(mu_);
    session_ = session_id;
    return true;
}

void widget_connection::close() {
    unbind();
    outbox_->close();
}

boost::asio::awaitable<void> widget_connection::handle(std::string_view raw) {
    auto parsed = parse_client_frame(raw, limits_);
    if (auto* err = std::get_if<frame_error>(&parsed)) {
        send(error_frame(err->code, err->message));
        co_return;
    }
    co_await handle(std::get<client_frame>(std::move(parsed)));
}

boost::asio::awaitable<void> widget_connection::handle(client_frame f) {
    switch (f.type) {
    case frame_type::ping:
        send({{"type", "pong"}});
        co_return;
    case frame_type::start: {
        unbind();
        auto r = hub_->start(f.language, shared_from_this());
        if (!r.error.empty()) {
            send(error_frame(r.error, "no room for a new session now; try again later"));
            co_return;
        }
        std::lock_guard lock(mu_);
        session_ = r.ready["session_id"].get<std::string>();
        co_return;
    }
    case frame_type::resume:
    case frame_type::poll:
        if (!bind(f.session_id, f.last_seq, f.type == frame_type::resume))
            send(error_frame("unknown_session", "no such session; start a new one"));
        co_return;
    case frame_type::message: {
        auto id = session();
        if (!f.session_id.empty() && f.session_id != id) {
            // The HTTP fallback names its session in every request.
            if (!bind(f.session_id, f.last_seq, false)) {
                send(error_frame("unknown_session", "no such session; start a new one",
                                 f.client_msg_id));
                co_return;
            }
            id = f.session_id;
        }
        if (id.empty()) {
            send(error_frame("no_session", "send start or resume first", f.client_msg_id));
            co_return;
        }
        auto a = hub_->accept(id, f.client_msg_id, f.text, f.option_id);
        if (!a.error.empty()) {
            send(error_frame(a.error,
                             a.error == "slow_down"        ? "too many messages; wait a moment"
                             : a.error == "unknown_option" ? "that choice is no longer offered"
                                                           : "no such session; start a new one",
                             f.client_msg_id));
            co_return;
        }
        send(std::move(a.ack));
        if (!a.duplicate)
            co_await hub_->run(id, std::move(a.turn));
        co_return;
    }
    case frame_type::forget: {
        auto bound = session();
        auto id = f.session_id.empty() ? bound : f.session_id;
        bool existed = !id.empty() && co_await hub_->forget(id);
        // A listener of the session already got "forgotten" from the hub.
        if (!existed || bound != id)
            send({{"type", "forgotten"}});
        co_return;
    }
    }
}

} // namespace tandem::adapters::widget
