// Test-side Ed25519 signing with OpenSSL, to play Discord's part.
#pragma once

#include <openssl/evp.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace tandem::test {

inline std::string to_hex(std::string_view raw) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (unsigned char c : raw) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

class test_signer {
  public:
    // A fresh key pair from OpenSSL's generator.
    test_signer() {
        EVP_PKEY* k = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
        if (!k)
            throw std::runtime_error("Ed25519 keygen failed");
        key_.reset(k, EVP_PKEY_free);
    }
    // A key from a raw 32-byte seed (RFC 8032 vectors).
    explicit test_signer(std::string_view seed) {
        EVP_PKEY* k = EVP_PKEY_new_raw_private_key(
            EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(seed.data()),
            seed.size());
        if (!k)
            throw std::runtime_error("bad Ed25519 seed");
        key_.reset(k, EVP_PKEY_free);
    }

    std::string public_hex() const {
        unsigned char pub[32];
        size_t len = sizeof pub;
        EVP_PKEY_get_raw_public_key(key_.get(), pub, &len);
        return to_hex(std::string_view(reinterpret_cast<char*>(pub), len));
    }

    std::string sign_hex(std::string_view message) const {
        std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(),
                                                                    EVP_MD_CTX_free);
        unsigned char sig[64];
        size_t len = sizeof sig;
        if (EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) != 1 ||
            EVP_DigestSign(ctx.get(), sig, &len,
                           reinterpret_cast<const unsigned char*>(message.data()),
                           message.size()) != 1)
            throw std::runtime_error("Ed25519 sign failed");
        return to_hex(std::string_view(reinterpret_cast<char*>(sig), len));
    }

  private:
    std::shared_ptr<EVP_PKEY> key_;
};

} // namespace tandem::test
