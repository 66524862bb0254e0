#include "bot/private_file.hpp"

#include "bot/conversation_store.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace tandem::bot {

void create_private_file(const std::string& path, std::string_view what) {
    namespace fs = std::filesystem;
    fs::path p(path);
    std::error_code ec;
    if (p.has_parent_path() && !fs::exists(p.parent_path(), ec)) {
        fs::create_directories(p.parent_path(), ec);
        if (ec)
            throw store_error("cannot create the data folder " + p.parent_path().string() +
                              " for " + std::string(what) + ": " + ec.message());
        ::chmod(p.parent_path().c_str(), 0700);
    }
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        throw store_error("cannot open or create " + path + ": " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) == 0 && (st.st_mode & 077) != 0)
        ::fchmod(fd, 0600);
    ::close(fd);
}

sqlite3* open_private_sqlite(const std::string& path, std::string_view what, int busy_timeout_ms) {
    create_private_file(path, what);
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
        SQLITE_OK) {
        std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
        sqlite3_close(db);
        throw store_error("cannot open " + path + ": " + msg);
    }
    sqlite3_busy_timeout(db, busy_timeout_ms);
    return db;
}

} // namespace tandem::bot
