#include "bot/message_log.hpp"

#include "bot/private_file.hpp"
#include "bot/wal_checkpointer.hpp"

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <deque>
#include <exception>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <unordered_map>

namespace tandem::bot {

namespace net = boost::asio;

namespace {
// The last `window` ids, in memory.
class memory_log final : public message_log {
  public:
    explicit memory_log(std::size_t window) : window_(window == 0 ? 1 : window) {}

    message_status accept(std::int64_t update_id, const std::string& conversation,
                          std::string_view payload, std::int64_t now) override {
        std::lock_guard lock(mu_);
        if (seen_.count(update_id))
            return unanswered_.count(update_id) ? message_status::pending
                                                : message_status::answered;
        seen_.emplace(update_id, conversation);
        unanswered_[update_id] = logged_message{update_id, std::string(payload), conversation, now};
        order_.push_back(update_id);
        while (order_.size() > window_) {
            seen_.erase(order_.front());
            unanswered_.erase(order_.front());
            order_.pop_front();
        }
        return message_status::fresh;
    }
    void answered(std::int64_t update_id) override {
        std::lock_guard lock(mu_);
        unanswered_.erase(update_id);
    }
    std::vector<logged_message> unanswered() override {
        std::lock_guard lock(mu_);
        std::vector<logged_message> out;
        for (const auto& kv : unanswered_)
            out.push_back(kv.second);
        return out;
    }
    void release(std::int64_t update_id, const std::string&) override {
        std::lock_guard lock(mu_);
        unanswered_.erase(update_id);
        if (seen_.erase(update_id))
            std::erase(order_, update_id);
    }
    std::size_t forget(const std::string& conversation) override {
        std::lock_guard lock(mu_);
        std::size_t before = seen_.size();
        std::erase_if(seen_, [&](const auto& kv) {
            return kv.second == conversation && !unanswered_.count(kv.first);
        });
        std::erase_if(order_, [&](std::int64_t id) { return !seen_.count(id); });
        return before - seen_.size();
    }
    std::size_t size() override {
        std::lock_guard lock(mu_);
        return seen_.size();
    }

  private:
    std::size_t window_;
    std::mutex mu_;
    std::unordered_map<std::int64_t, std::string> seen_; // update id -> conversation
    std::map<std::int64_t, logged_message> unanswered_;  // update id -> its record
    std::deque<std::int64_t> order_;
};

class sqlite_log final : public message_log {
  public:
    explicit sqlite_log(const sqlite_log_options& o)
        : table_(o.table), what_(o.what), retention_(o.retention_seconds),
          prune_every_(o.prune_every < 1 ? 1 : o.prune_every) {
        const std::string& path = o.path;
        const std::string& migrate_from = o.migrate_from;
        const std::int64_t max_bytes = o.max_bytes;
        // The table name goes into SQL text: only letters, digits and '_' are accepted.
        if (table_.empty() || !std::all_of(table_.begin(), table_.end(), [](char c) {
                return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '_';
            }))
            throw store_error(what_ + ": bad table name");
        db_ = open_private_sqlite(path, "the " + what_, 2000);
        try {
            exec("PRAGMA journal_mode=WAL");
            // Payloads are message text: what "forget me" and answering delete is
            // overwritten, not left readable in free pages (as in the store's file).
            exec("PRAGMA secure_delete=ON");
            if (max_bytes > 0) {
                // A quota, and the way the tests make a disk "full".
                std::int64_t pages = std::max<std::int64_t>(1, max_bytes / 4096);
                exec(("PRAGMA max_page_count=" + std::to_string(pages)).c_str());
            }
            exec("CREATE TABLE IF NOT EXISTS {t} (update_id INTEGER PRIMARY KEY,"
                 " seen_at INTEGER NOT NULL, payload TEXT, conversation TEXT NOT NULL DEFAULT"
                 " '')");
            // Older files: from before the inbox, from before records knew their conversation.
            if (!has_column("payload"))
                exec("ALTER TABLE {t} ADD COLUMN payload TEXT");
            if (!has_column("conversation"))
                exec("ALTER TABLE {t} ADD COLUMN conversation TEXT NOT NULL "
                     "DEFAULT ''");
            exec("CREATE INDEX IF NOT EXISTS {t}_conversation ON "
                 "{t}(conversation)");
            if (!migrate_from.empty() && migrate_from != path &&
                std::filesystem::exists(migrate_from))
                migrate(migrate_from); // synchronous=FULL still: the moved rows are durable
            exec("PRAGMA synchronous=NORMAL");
            // Checkpoints (copying the WAL into the file, with an fsync of each) run on a
            // thread and connection of their own: inside a commit on the writer thread they
            // held up every webhook waiting for its batch (60-190 ms fsyncs measured under
            // load). Commits are what they were: durable once COMMIT returns.
            checkpointer_.start(db_, path);
            // A NULL payload means answered (rows from older files were all answered).
            insert_ = prepare("INSERT OR IGNORE INTO {t} (update_id, seen_at,"
                              " payload, conversation) VALUES (?1, ?2, ?3, ?4)");
            status_ = prepare("SELECT payload IS NULL FROM {t} WHERE update_id = ?1");
            answer_ = prepare("UPDATE {t} SET payload = NULL WHERE update_id = ?1");
            unanswered_ =
                prepare("SELECT update_id, payload, conversation, seen_at FROM {t} WHERE payload"
                        " IS NOT NULL ORDER BY update_id");
            prune_ = prepare("DELETE FROM {t} WHERE seen_at < ?1");
            count_ = prepare("SELECT COUNT(*) FROM {t}");
            // An update still waiting for its answer keeps its record (and payload) until
            // it is answered: forgetting must not lose an acknowledged update.
            forget_ = prepare("DELETE FROM {t} WHERE conversation = ?1 AND payload"
                              " IS NULL");
            release_ = prepare("DELETE FROM {t} WHERE update_id = ?1");
            begin_ = prepare("BEGIN IMMEDIATE");
            commit_ = prepare("COMMIT");
        } catch (...) {
            close();
            throw;
        }
    }
    ~sqlite_log() override {
        writer_.join(); // every queued call is committed (or failed) and told so first
        close();
    }

    message_status accept(std::int64_t update_id, const std::string& conversation,
                          std::string_view payload, std::int64_t now) override {
        std::lock_guard lock(mu_);
        return accept_locked(update_id, conversation, payload, now);
    }

    net::awaitable<message_status> async_accept(std::int64_t update_id,
                                                const std::string& conversation,
                                                std::string_view payload,
                                                std::int64_t now) override {
        request r;
        r.update_id = update_id;
        r.conversation = &conversation;
        r.payload = payload;
        r.now = now;
        co_await submit(r);
        if (r.error)
            std::rethrow_exception(r.error);
        co_return r.status;
    }

    net::awaitable<void> async_answered(std::int64_t update_id) override {
        request r;
        r.answer = true;
        r.update_id = update_id;
        co_await submit(r);
        if (r.error)
            std::rethrow_exception(r.error);
    }

    void answered(std::int64_t update_id) override {
        std::lock_guard lock(mu_);
        answered_locked(update_id);
    }

    void settle() override {
        // The writer runs its work in order: once this runs, every earlier flush is done.
        std::promise<void> done;
        auto settled = done.get_future();
        net::post(writer_, [&done] { done.set_value(); });
        settled.wait();
    }

  private:
    // Resumes a waiting call on its own executor (never on the writer thread), which it
    // keeps busy until then (its io_context must not run out of work meanwhile).
    struct waker {
        virtual ~waker() = default;
        virtual void wake() = 0;
    };
    template <class Handler> struct waker_for final : waker {
        explicit waker_for(Handler h)
            : handler(std::move(h)), work(net::get_associated_executor(handler)) {}
        void wake() override {
            auto ex = work.get_executor();
            net::post(ex, [h = std::move(handler)]() mutable { std::move(h)(); });
            work.reset();
        }
        Handler handler;
        net::executor_work_guard<net::associated_executor_t<Handler>> work;
    };

    // One queued call; it lives in the awaiting coroutine's frame until it is woken.
    struct request {
        bool answer = false; // answered(), else accept()
        std::int64_t update_id = 0;
        const std::string* conversation = nullptr;
        std::string_view payload;
        std::int64_t now = 0;
        message_status status = message_status::fresh;
        std::exception_ptr error;
        std::unique_ptr<waker> done;
    };

    net::awaitable<void> submit(request& r) {
        co_await net::async_initiate<decltype(net::use_awaitable), void()>(
            [this, &r](auto handler) {
                r.done = std::make_unique<waker_for<decltype(handler)>>(std::move(handler));
                bool first = false;
                {
                    std::lock_guard lk(queue_mu_);
                    first = queue_.empty();
                    queue_.push_back(&r);
                }
                // One flush per batch: calls queued before it runs join it; calls queued
                // while it commits start the next one.
                if (first)
                    net::post(writer_, [this] { flush(); });
            },
            net::use_awaitable);
    }

    // On the writer thread: everything queued so far, in one transaction.
    void flush() {
        std::vector<request*> batch;
        {
            std::lock_guard lk(queue_mu_);
            batch.swap(queue_);
        }
        if (batch.empty())
            return;
        std::exception_ptr error;
        {
            std::lock_guard lock(mu_);
            try {
                step_done(begin_);
                for (auto* r : batch) {
                    if (r->answer)
                        answered_locked(r->update_id);
                    else
                        r->status =
                            accept_locked(r->update_id, *r->conversation, r->payload, r->now);
                }
                step_done(commit_);
            } catch (...) {
                if (!sqlite3_get_autocommit(db_))
                    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
                error = std::current_exception();
            }
        }
        for (auto* r : batch) {
            r->error = error;
            auto done = std::move(r->done);
            // r belongs to the caller from here on: it may resume at once.
            done->wake();
        }
    }

    void answered_locked(std::int64_t update_id) {
        sqlite3_bind_int64(answer_, 1, update_id);
        step_done(answer_);
    }

    message_status accept_locked(std::int64_t update_id, const std::string& conversation,
                                 std::string_view payload, std::int64_t now) {
        // Pruning now and then keeps the table at roughly two days of updates.
        if (++since_prune_ >= prune_every_) {
            since_prune_ = 0;
            sqlite3_bind_int64(prune_, 1, now - retention_);
            step_done(prune_);
        }
        sqlite3_bind_int64(insert_, 1, update_id);
        sqlite3_bind_int64(insert_, 2, now);
        if (payload.empty())
            sqlite3_bind_null(insert_, 3);
        else
            sqlite3_bind_text(insert_, 3, payload.data(), static_cast<int>(payload.size()),
                              SQLITE_TRANSIENT);
        sqlite3_bind_text(insert_, 4, conversation.data(), static_cast<int>(conversation.size()),
                          SQLITE_TRANSIENT);
        step_done(insert_);
        if (sqlite3_changes(db_) == 1)
            return message_status::fresh;
        sqlite3_bind_int64(status_, 1, update_id);
        int rc = sqlite3_step(status_);
        bool done = rc == SQLITE_ROW && sqlite3_column_int(status_, 0) != 0;
        sqlite3_reset(status_);
        sqlite3_clear_bindings(status_);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            throw store_error(what_ + ": " + sqlite3_errmsg(db_));
        return done || rc == SQLITE_DONE ? message_status::answered : message_status::pending;
    }

  public:
    void probe(std::int64_t now) override {
        std::lock_guard lock(mu_);
        // Committed (so a full disk shows in the WAL too), and leaves nothing behind; 8 KB, so
        // it needs pages of its own: room for it is room for several updates.
        exec(("BEGIN IMMEDIATE; INSERT INTO {t} (update_id, seen_at, payload) "
              "VALUES (-9223372036854775807, " +
              std::to_string(now) +
              ", hex(randomblob(4096))); DELETE FROM {t} WHERE update_id = "
              "-9223372036854775807; COMMIT;")
                 .c_str());
    }

    void release(std::int64_t update_id, const std::string&) override {
        std::lock_guard lock(mu_);
        sqlite3_bind_int64(release_, 1, update_id);
        step_done(release_);
    }

    std::size_t forget(const std::string& conversation) override {
        std::lock_guard lock(mu_);
        sqlite3_bind_text(forget_, 1, conversation.data(), static_cast<int>(conversation.size()),
                          SQLITE_TRANSIENT);
        step_done(forget_);
        return static_cast<std::size_t>(sqlite3_changes(db_));
    }

    std::vector<logged_message> unanswered() override {
        std::lock_guard lock(mu_);
        std::vector<logged_message> out;
        int rc = 0;
        while ((rc = sqlite3_step(unanswered_)) == SQLITE_ROW) {
            logged_message p;
            p.id = sqlite3_column_int64(unanswered_, 0);
            if (const auto* t = sqlite3_column_text(unanswered_, 1))
                p.payload.assign(reinterpret_cast<const char*>(t),
                                 static_cast<std::size_t>(sqlite3_column_bytes(unanswered_, 1)));
            if (const auto* c = sqlite3_column_text(unanswered_, 2))
                p.conversation.assign(
                    reinterpret_cast<const char*>(c),
                    static_cast<std::size_t>(sqlite3_column_bytes(unanswered_, 2)));
            p.seen_at = sqlite3_column_int64(unanswered_, 3);
            out.push_back(std::move(p));
        }
        sqlite3_reset(unanswered_);
        if (rc != SQLITE_DONE)
            throw store_error(what_ + ": " + sqlite3_errmsg(db_));
        return out;
    }

    std::size_t size() override {
        std::lock_guard lock(mu_);
        std::size_t n = 0;
        if (sqlite3_step(count_) == SQLITE_ROW)
            n = static_cast<std::size_t>(sqlite3_column_int64(count_, 0));
        sqlite3_reset(count_);
        return n;
    }

  private:
    void close() {
        for (auto* s : {insert_, status_, answer_, unanswered_, prune_, count_, forget_, release_,
                        begin_, commit_})
            sqlite3_finalize(s); // null is a no-op
        checkpointer_.stop();    // before db_ closes: the last connection removes the WAL
        sqlite3_close(db_);
        db_ = nullptr;
    }
    // "{t}" in SQL text stands for the table's name.
    std::string sql(std::string text) const {
        for (auto at = text.find("{t}"); at != std::string::npos; at = text.find("{t}", at))
            text.replace(at, 3, table_);
        return text;
    }
    void exec(const std::string& text) {
        char* err = nullptr;
        if (sqlite3_exec(db_, sql(text).c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
            std::string msg = err ? err : sqlite3_errmsg(db_);
            sqlite3_free(err);
            if (!sqlite3_get_autocommit(db_))
                sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
            throw store_error(what_ + ": " + msg);
        }
    }
    sqlite3_stmt* prepare(const std::string& text) {
        sqlite3_stmt* s = nullptr;
        if (sqlite3_prepare_v2(db_, sql(text).c_str(), -1, &s, nullptr) != SQLITE_OK)
            throw store_error(what_ + ": " + sqlite3_errmsg(db_));
        return s;
    }
    void step_done(sqlite3_stmt* s) {
        int rc = sqlite3_step(s);
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
        if (rc != SQLITE_DONE)
            throw store_error(what_ + ": " + sqlite3_errmsg(db_));
    }

    // Moves the log an older version kept in the store's file (legacy) into this file.
    // Not one transaction over both files: in WAL mode SQLite does not make a commit
    // atomic across attached files. Instead two steps that are each atomic and safe to
    // repeat: the rows are copied in one transaction here (INSERT OR IGNORE: a row already
    // here, from a copy whose second step never ran, is not doubled), then the old table
    // is dropped in one transaction there. A crash between the two leaves the rows in both
    // files, and the next start copies nothing new and drops the table.
    void migrate(const std::string& legacy) {
        {
            auto* s = prepare("ATTACH DATABASE ?1 AS legacy");
            sqlite3_bind_text(s, 1, legacy.data(), static_cast<int>(legacy.size()),
                              SQLITE_TRANSIENT);
            int rc = sqlite3_step(s);
            sqlite3_finalize(s);
            if (rc != SQLITE_DONE)
                throw store_error(what_ + ": cannot open " + legacy + ": " + sqlite3_errmsg(db_));
        }
        try {
            if (has_table("legacy")) {
                // Older schemas: no payload column (all answered), no conversation column.
                std::string sql = "INSERT OR IGNORE INTO main.{t} (update_id, "
                                  "seen_at, payload, conversation) SELECT update_id, seen_at, ";
                sql += has_column("payload", "legacy") ? "payload" : "NULL";
                sql += ", ";
                sql += has_column("conversation", "legacy") ? "conversation" : "''";
                sql += " FROM legacy.{t}";
                exec("BEGIN IMMEDIATE");
                exec(sql.c_str());
                exec("COMMIT");
                // The old rows held message text: overwritten as they go, and the store's
                // WAL emptied of them (best effort, as the store does after a delete).
                exec("PRAGMA legacy.secure_delete=ON");
                exec("BEGIN IMMEDIATE; DROP TABLE legacy.{t}; COMMIT;");
                sqlite3_wal_checkpoint_v2(db_, "legacy", SQLITE_CHECKPOINT_TRUNCATE, nullptr,
                                          nullptr);
            }
        } catch (...) {
            sqlite3_exec(db_, "DETACH DATABASE legacy", nullptr, nullptr, nullptr);
            throw;
        }
        exec("DETACH DATABASE legacy");
    }
    bool has_table(const char* schema) {
        auto* s = prepare((std::string("SELECT 1 FROM ") + schema +
                           ".sqlite_master WHERE type = 'table' AND name = '{t}'")
                              .c_str());
        bool found = sqlite3_step(s) == SQLITE_ROW;
        sqlite3_finalize(s);
        return found;
    }

    std::string table_;
    std::string what_; // names the file in errors ("update log")
    std::int64_t retention_;
    int prune_every_;
    std::mutex mu_;
    sqlite3* db_ = nullptr;
    bool has_column(const char* column, const char* schema = "main") {
        auto* s = prepare((std::string("PRAGMA ") + schema + ".table_info({t})").c_str());
        bool found = false;
        while (sqlite3_step(s) == SQLITE_ROW)
            if (const auto* name = sqlite3_column_text(s, 1))
                found = found || std::string(reinterpret_cast<const char*>(name)) == column;
        sqlite3_finalize(s);
        return found;
    }

    sqlite3_stmt* insert_ = nullptr;
    sqlite3_stmt* status_ = nullptr;
    sqlite3_stmt* answer_ = nullptr;
    sqlite3_stmt* unanswered_ = nullptr;
    sqlite3_stmt* prune_ = nullptr;
    sqlite3_stmt* count_ = nullptr;
    sqlite3_stmt* forget_ = nullptr;
    sqlite3_stmt* release_ = nullptr;
    sqlite3_stmt* begin_ = nullptr;
    sqlite3_stmt* commit_ = nullptr;
    int since_prune_ = 0;

    std::mutex queue_mu_;
    std::vector<request*> queue_;   // calls waiting for the next flush
    wal_checkpointer checkpointer_; // stopped in close(), after the writer thread
    net::thread_pool writer_{1};    // the writer thread (joined first, in the destructor)
};

} // namespace

message_log::claim_result message_log::claim(std::int64_t update_id,
                                             const std::string& conversation, std::int64_t now,
                                             std::int64_t) {
    // One process alone: nobody else can hold a claim, and a claim that fails is released.
    return first_time(update_id, conversation, now) ? claim_result::first : claim_result::repeat;
}

void message_log::confirm(std::int64_t, const std::string&, std::int64_t) {}

net::awaitable<message_status> message_log::async_accept(std::int64_t update_id,
                                                         const std::string& conversation,
                                                         std::string_view payload,
                                                         std::int64_t now) {
    co_return accept(update_id, conversation, payload, now);
}

net::awaitable<void> message_log::async_answered(std::int64_t update_id) {
    answered(update_id);
    co_return;
}

std::shared_ptr<message_log> make_memory_message_log(std::size_t window) {
    return std::make_shared<memory_log>(window);
}

std::shared_ptr<message_log> make_sqlite_message_log(const sqlite_log_options& options) {
    return std::make_shared<sqlite_log>(options);
}

} // namespace tandem::bot
