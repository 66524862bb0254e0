// The only translation unit of bot/ that includes Asio's coroutine machinery.
#include "bot/bot_service.hpp"

#include "bot/checkins.hpp"
#include "bot/content.hpp"
#include "bot/conversation_store.hpp"
#include "bot/log.hpp"
#include "bot/turn_processor.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <map>
#include <mutex>
#include <optional>

namespace tandem::bot {

namespace net = boost::asio;

namespace {
// Coroutines take their inputs as value parameters (copied into the frame); lambdas
// with captures must not be coroutines.
std::int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}
net::awaitable<turn_result> run_turn(turn_processor* p, inbound_message m) {
    std::int64_t now = m.timestamp > 0 ? m.timestamp : unix_now();
    co_return p->run(m, now);
}

net::awaitable<std::optional<turn_result>> run_checkin(turn_processor* p, checkin_entry e,
                                                       std::int64_t now) {
    co_return p->run_checkin(e, now);
}

struct forget_result {
    bool existed = false;
    std::vector<conversation_ref> also;
};

net::awaitable<forget_result> run_forget(turn_processor* p, conversation_ref r) {
    forget_result f;
    f.existed = p->forget(r.channel, r.conversation_id, &f.also);
    co_return f;
}
} // namespace

struct bot_service::impl {
    impl(std::shared_ptr<const content> c, std::shared_ptr<conversation_store> s, const config& cfg,
         std::shared_ptr<checkin_store> ck)
        : pool(static_cast<std::size_t>(std::max(1, cfg.core.threads))),
          timers(net::make_strand(pool.get_executor())),
          processor(std::move(c), std::move(s), cfg.conversation, cfg.log.message_text, ck),
          sweep_every(
              std::chrono::seconds(std::max<std::int64_t>(1, cfg.core.sweep_interval_seconds))),
          sweep_timer(timers), checkins(std::move(ck)),
          checkin_every(
              std::chrono::seconds(std::max<std::int64_t>(1, cfg.core.checkin_poll_seconds))),
          checkin_timer(timers) {
        int n = std::max(1, cfg.core.strands);
        for (int i = 0; i < n; ++i)
            strands.push_back(net::make_strand(pool.get_executor()));
    }

    net::strand<net::thread_pool::executor_type>& strand_for(const std::string& key) {
        return strands[std::hash<std::string>{}(key) % strands.size()];
    }

    net::awaitable<void> sweeper() {
        for (;;) {
            if (stopped)
                co_return;
            sweep_timer.expires_after(sweep_every);
            co_await sweep_timer.async_wait(net::use_awaitable);
            std::size_t n = 0;
            try {
                n = processor.sweep(unix_now());
            } catch (const std::exception& e) {
                log::error("sweep_failed", {{"error", e.what()}});
            }
            if (n)
                log::info("conversations_expired", {{"count", n}});
        }
    }

    net::thread_pool pool;
    // The sweeper and the check-in loop run here, and stop() cancels their timers here, so
    // a stop can never slip in between a loop's check of `stopped` and its wait.
    net::strand<net::thread_pool::executor_type> timers;
    turn_processor processor;
    std::chrono::seconds sweep_every;
    net::steady_timer sweep_timer;
    std::shared_ptr<checkin_store> checkins;
    std::chrono::seconds checkin_every;
    net::steady_timer checkin_timer;
    std::mutex sinks_mu;
    std::map<std::string, std::shared_ptr<proactive_sink>> sinks;
    std::vector<net::strand<net::thread_pool::executor_type>> strands;
    std::atomic<bool> stopped{false};
};

bot_service::bot_service(std::shared_ptr<const content> c, std::shared_ptr<conversation_store> s,
                         const config& cfg, std::shared_ptr<checkin_store> checkins)
    : impl_(std::make_unique<impl>(std::move(c), std::move(s), cfg, std::move(checkins))) {
    if (impl_->checkins)
        net::co_spawn(impl_->timers, checkin_loop(this), [](std::exception_ptr e) {
            if (!e)
                return;
            try {
                std::rethrow_exception(e);
            } catch (const boost::system::system_error& se) {
                if (se.code() != net::error::operation_aborted)
                    log::error("checkins_stopped", {{"error", se.what()}});
            } catch (const std::exception& ex) {
                log::error("checkins_stopped", {{"error", ex.what()}});
            }
        });
    net::co_spawn(impl_->timers, impl_->sweeper(), [](std::exception_ptr e) {
        if (!e)
            return;
        try {
            std::rethrow_exception(e);
        } catch (const boost::system::system_error& se) {
            if (se.code() != net::error::operation_aborted)
                log::error("sweeper_stopped", {{"error", se.what()}});
        } catch (const std::exception& ex) {
            log::error("sweeper_stopped", {{"error", ex.what()}});
        }
    });
}

bot_service::~bot_service() {
    stop();
}

net::awaitable<turn_result> bot_service::handle(inbound_message msg) {
    auto& strand = impl_->strand_for(turn_processor::key(msg.channel, msg.conversation_id));
    auto* p = &impl_->processor;
    turn_result r = co_await net::co_spawn(strand, run_turn(p, std::move(msg)), net::use_awaitable);
    ++turns_;
    if (r.forgotten)
        tell_forgotten(r.also_forgotten);
    co_return r;
}

void bot_service::tell_forgotten(const std::vector<conversation_ref>& refs) {
    for (const auto& ref : refs) {
        std::shared_ptr<proactive_sink> sink;
        {
            std::lock_guard lock(impl_->sinks_mu);
            if (auto it = impl_->sinks.find(ref.channel); it != impl_->sinks.end())
                sink = it->second;
        }
        if (sink)
            sink->forgotten(ref);
    }
}

net::awaitable<bool> bot_service::forget(conversation_ref ref) {
    auto& strand = impl_->strand_for(turn_processor::key(ref.channel, ref.conversation_id));
    auto* p = &impl_->processor;
    auto f = co_await net::co_spawn(strand, run_forget(p, std::move(ref)), net::use_awaitable);
    tell_forgotten(f.also);
    co_return f.existed;
}

net::awaitable<void> bot_service::checkin_loop(bot_service* self) {
    auto& im = *self->impl_;
    for (;;) {
        if (im.stopped)
            co_return;
        im.checkin_timer.expires_after(im.checkin_every);
        co_await im.checkin_timer.async_wait(net::use_awaitable);
        try {
            co_await self->send_due_checkins(unix_now());
        } catch (const std::exception& e) {
            log::error("checkins_failed", {{"error", e.what()}});
        }
    }
}

void bot_service::set_proactive_sink(const std::string& channel,
                                     std::shared_ptr<proactive_sink> sink) {
    std::lock_guard lock(impl_->sinks_mu);
    impl_->sinks[channel] = std::move(sink);
}

net::awaitable<std::size_t> bot_service::send_due_checkins(std::int64_t now) {
    if (!impl_->checkins)
        co_return 0;
    std::size_t delivered = 0;
    for (auto& e : impl_->checkins->take_due(now, 100)) {
        std::shared_ptr<proactive_sink> sink;
        {
            std::lock_guard lock(impl_->sinks_mu);
            if (auto it = impl_->sinks.find(e.ref.channel); it != impl_->sinks.end())
                sink = it->second;
        }
        auto id = log::log_id(e.ref.channel, e.ref.conversation_id);
        if (!sink) {
            // The channel cannot reach the user right now: try again later, a few times.
            if (++e.attempts < 4) {
                e.due_at = now + 600;
                impl_->checkins->schedule(e);
            } else {
                log::warn("checkin_dropped", {{"conversation", id}, {"channel", e.ref.channel}});
            }
            continue;
        }
        auto& strand = impl_->strand_for(e.key);
        auto r = co_await net::co_spawn(strand, run_checkin(&impl_->processor, e, now),
                                        net::use_awaitable);
        if (!r)
            continue; // withdrawn, forgotten or expired: at most once, never after a stop
        bool ok = co_await sink->deliver(e.ref, std::move(r->reply));
        delivered += ok;
        log::info(ok ? "checkin_sent" : "checkin_undelivered",
                  {{"conversation", id}, {"channel", e.ref.channel}});
    }
    co_return delivered;
}

void bot_service::set_content(std::shared_ptr<const content> c) {
    impl_->processor.set_content(std::move(c));
}

std::size_t bot_service::sweep_expired() {
    return impl_->processor.sweep(unix_now());
}

void bot_service::stop() {
    if (impl_->stopped.exchange(true))
        return;
    net::post(impl_->timers, [this] {
        impl_->sweep_timer.cancel();
        impl_->checkin_timer.cancel();
    });
    impl_->pool.join();
}

} // namespace tandem::bot
