#pragma once
// Files that hold what people wrote (the conversation store, the update log, check-ins) are
// created owner-only before SQLite opens them; SQLite gives their -wal and -shm files the
// same permissions.
#include <string>
#include <string_view>

struct sqlite3;

namespace tandem::bot {

// Creates the parent folder (0700) when it is missing and the file (0600) when it is
// missing; a file made by something else (an older version, a copy) is made owner-only.
// `what` names the file in errors ("the conversation store", "the Telegram update log").
// Throws store_error when the folder or the file cannot be created or opened.
void create_private_file(const std::string& path, std::string_view what);

// create_private_file, then opens the file with SQLite (read-write, created when missing)
// and sets its busy timeout. Throws store_error naming the path and SQLite's reason when it
// cannot be opened; the caller owns the handle (sqlite3_close).
sqlite3* open_private_sqlite(const std::string& path, std::string_view what, int busy_timeout_ms);

} // namespace tandem::bot
