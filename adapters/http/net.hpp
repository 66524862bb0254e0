// The one place that names the Asio namespaces the adapters use. Beast is deliberately not
// included here: only http_server.cpp and https_client.cpp include Beast, which keeps the
// adapters' other translation units quick to compile.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

namespace tandem::adapters {
namespace net = boost::asio;
using net::awaitable;
} // namespace tandem::adapters
