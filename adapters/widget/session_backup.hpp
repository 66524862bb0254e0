// Where a widget session's resume data is kept besides the instance's memory, so that a
// browser whose instance went away resumes on another one (several instances on one Redis,
// docs/deployment.md). The data: the session's conversation id, language, seq counter,
// bounded history (the messages shown, the visitor's included), the client message ids seen
// and the options offered. Keys are the SHA-256 of the session id: the id itself (a bearer
// secret) is never stored. Thread-safe.
#pragma once

#include "bot/conversation_store.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace tandem::adapters::widget {

class session_backup {
  public:
    virtual ~session_backup() = default;
    // Stores the session's data (JSON) unless a newer version (next_seq) is stored; it
    // expires after ttl_seconds without a save. Throws bot::store_error.
    virtual void save(const std::string& session_id, std::uint64_t next_seq,
                      const std::string& data, std::int64_t ttl_seconds) = 0;
    // Throws bot::store_error.
    virtual std::optional<std::string> load(const std::string& session_id) = 0;
    // Throws bot::store_error.
    virtual void erase(const std::string& session_id) = 0;
};

// In Redis, under options.key_prefix + "w:" + sha256(session id).
std::shared_ptr<session_backup> make_redis_session_backup(const bot::redis_options& options);

} // namespace tandem::adapters::widget
