// Test-side Ed25519 signing with OpenSSL, to play Discord's part.
#pragma once

#include <openssl/evp.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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

// The two headers Discord sends with an interaction: the Ed25519 signature over timestamp +
// body, and the timestamp (now, in unix seconds). The shape of http::header_list.
inline std::vector<std::pair<std::string, std::string>> discord_headers(const test_signer& signer,
                                                                        const std::string& body) {
    auto ts = std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count());
    return {{"X-Signature-Ed25519", signer.sign_hex(ts + body)}, {"X-Signature-Timestamp", ts}};
}

} // namespace tandem::test
