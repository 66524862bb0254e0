#include "bot/private_file.hpp"

#include "bot/conversation_store.hpp"

#include <fcntl.h>
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

} // namespace tandem::bot
