// The Telegram update log: remembers which update_ids were accepted, so that an update
// Telegram delivers again (it retries whenever it did not see a 2xx in time) never gets a
// second reply, also across a restart of `tandem serve`. Each record knows the conversation
// its update belongs to, so that forgetting a conversation ("forget me") removes its
// records too.
//
// Two ways to use it, chosen by the store (docs/hardening.md, docs/deployment.md):
// - One instance (store.kind "sqlite" or "memory"): a durable inbox. An update is recorded
//   with its payload before the webhook acknowledges it and marked answered once its reply
//   was sent, so updates acknowledged but not yet answered when the process died are
//   answered after a restart (accept, answered, unanswered).
// - Several instances on one Redis (store.kind "redis"): acknowledged after the turn. An
//   update is claimed for a lease, confirmed once its turn is committed and its reply sent,
//   released when that failed (claim, confirm, release); Telegram redelivers what got no
//   200, to any instance, so no instance holds anything another one cannot finish.
#pragma once

#include "bot/conversation_store.hpp"
#include "bot/message_log.hpp"

#include <cstdint>
#include <memory>
#include <string>

namespace tandem::adapters::telegram {

// The machinery is the core's platform-free message log (bot/message_log.hpp); here it
// holds Telegram updates: ids are update_ids, payloads the updates as received,
// conversations chat ids as text.
using update_status = bot::message_status;
using pending_update = bot::logged_message;
using update_dedupe = bot::message_log;

// The last `window` ids, in memory (tests, and store.kind "memory"; nothing survives a
// restart, so unanswered() is only what this process has not answered yet).
std::shared_ptr<update_dedupe> make_memory_dedupe(std::size_t window);

// A "telegram_updates" table in the SQLite file at path, a file of its own (`tandem serve`:
// telegram.update_log in the data folder), created owner-only (0600) like the store's, so
// that its commits never wait for the conversation store's. Ids older than
// retention_seconds are pruned; Telegram keeps an undelivered update for at most 24 hours,
// so two days is ample. max_bytes > 0 caps the file (SQLite's max_page_count; beyond it
// writes fail as on a full disk).
// migrate_from: a file that may still hold the log of an older version (the conversation
// store's file, where the log used to live); its rows, answered or not, move into this
// file and its table is dropped, at open (see bot/message_log.cpp for why a crash half way
// loses or doubles nothing). Throws bot::store_error when a file cannot be opened or the
// move fails.
std::shared_ptr<update_dedupe> make_sqlite_dedupe(const std::string& path,
                                                  std::int64_t retention_seconds = 2 * 86400,
                                                  std::int64_t max_bytes = 0,
                                                  const std::string& migrate_from = {});

// In Redis, shared by every instance of tandem (store.kind "redis"): one key per update,
// key_prefix + "tg:u:" + update_id, set with SET NX EX retention_seconds (Redis expires it),
// and per conversation a set key_prefix + "tg:chat:" + conversation of its update ids, so
// forget() finds them. Payloads are never kept (no inbox: with several instances the
// acknowledgement waits for the turn instead), so unanswered() is always empty. Does not
// connect until first used.
std::shared_ptr<update_dedupe> make_redis_dedupe(const bot::redis_options& options,
                                                 std::int64_t retention_seconds = 2 * 86400);

} // namespace tandem::adapters::telegram
