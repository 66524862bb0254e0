// The server's optional TLS and the client's certificate checks, with a self-signed
// certificate for 127.0.0.1 made by OpenSSL inside the test.
#include "test_support.hpp"

#include <catch2/catch.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>

using namespace tandem::test;

namespace {

// Writes key.pem and cert.pem (EC P-256, CN and IP SAN 127.0.0.1, one day) into dir.
void make_self_signed(const std::filesystem::path& dir) {
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
        EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"), EVP_PKEY_free);
    REQUIRE(key);
    std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400);
    X509_set_pubkey(cert.get(), key.get());
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("127.0.0.1"), -1, -1, 0);
    X509_set_issuer_name(cert.get(), name);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
    for (const char* ext : {"subjectAltName=IP:127.0.0.1", "basicConstraints=critical,CA:TRUE"}) {
        std::string e(ext);
        auto eq = e.find('=');
        X509_EXTENSION* x =
            X509V3_EXT_conf(nullptr, &ctx, e.substr(0, eq).c_str(), e.substr(eq + 1).c_str());
        REQUIRE(x);
        X509_add_ext(cert.get(), x, -1);
        X509_EXTENSION_free(x);
    }
    REQUIRE(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0);
    FILE* k = std::fopen((dir / "key.pem").c_str(), "w");
    PEM_write_PrivateKey(k, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(k);
    FILE* c = std::fopen((dir / "cert.pem").c_str(), "w");
    PEM_write_X509(c, cert.get());
    std::fclose(c);
}

struct tls_server {
    temp_dir tmp;
    net::io_context ioc;
    std::shared_ptr<http::router> routes = std::make_shared<http::router>();
    std::unique_ptr<http::http_server> server;
    std::uint16_t port = 0;

    tls_server() {
        make_self_signed(tmp.path());
        http::route echo;
        echo.path = "/echo";
        echo.handler = [](http::http_request req) -> awaitable<http::http_response> {
            co_return http::json_response(200, req.body);
        };
        routes->add(std::move(echo));
        http::server_config cfg;
        cfg.port = 0;
        cfg.read_timeout = 2s;
        cfg.tls_cert_file = (tmp.path() / "cert.pem").string();
        cfg.tls_key_file = (tmp.path() / "key.pem").string();
        server = std::make_unique<http::http_server>(ioc.get_executor(), cfg, routes);
        port = server->start();
    }
    std::string url(const std::string& scheme) const {
        return scheme + "://127.0.0.1:" + std::to_string(port) + "/echo";
    }
};

} // namespace

TEST_CASE("tls: the server speaks HTTPS from a certificate and key, and keeps connections",
          "[http][tls]") {
    tls_server s;
    run_test(s.ioc, [&]() -> awaitable<void> {
        http::http_client::options trusted;
        trusted.ca_file = (s.tmp.path() / "cert.pem").string();
        http::http_client client(s.ioc.get_executor(), trusted);
        for (int i = 0; i < 2; ++i) {
            auto r = co_await client.request(post_json(s.url("https"), R"({"tls":true})"));
            REQUIRE(!r.ec);
            CHECK(r.response.status == 200);
            CHECK(r.response.body == R"({"tls":true})");
        }
        CHECK(client.test_connections_opened() == 1);
    });
}

TEST_CASE("tls: the client refuses a certificate it cannot verify", "[http][tls]") {
    tls_server s;
    run_test(s.ioc, [&]() -> awaitable<void> {
        http::http_client client(s.ioc.get_executor()); // system trust only
        auto r = co_await client.request(post_json(s.url("https"), "{}"));
        CHECK(r.ec);
        CHECK(r.response.status == 0);
    });
}

TEST_CASE("tls: plain HTTP to the TLS port is dropped without an answer", "[http][tls]") {
    tls_server s;
    std::string raw;
    run_test(s.ioc, [&]() -> awaitable<void> {
        raw = co_await raw_exchange(s.port, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n", 10s);
        // The server lives on.
        http::http_client::options trusted;
        trusted.ca_file = (s.tmp.path() / "cert.pem").string();
        http::http_client client(s.ioc.get_executor(), trusted);
        auto r = co_await client.request(post_json(s.url("https"), "{}"));
        CHECK(r.response.status == 200);
    });
    CHECK(status_of(raw) == 0);
}
