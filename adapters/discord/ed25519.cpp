#include "adapters/discord/ed25519.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>

namespace tandem::adapters::discord {

std::optional<std::string> hex_decode(std::string_view hex) {
    if (hex.size() % 2 != 0)
        return std::nullopt;
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9')
            return c - '0';
        if (c >= 'a' && c <= 'f')
            return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
            return c - 'A' + 10;
        return -1;
    };
    std::string out(hex.size() / 2, '\0');
    for (std::size_t i = 0; i < out.size(); ++i) {
        int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return std::nullopt;
        out[i] = static_cast<char>((hi << 4) | lo);
    }
    return out;
}

std::optional<ed25519_verifier> ed25519_verifier::from_hex(std::string_view public_key_hex) {
    auto raw = hex_decode(public_key_hex);
    if (!raw || raw->size() != 32)
        return std::nullopt;
    EVP_PKEY* k = EVP_PKEY_new_raw_public_key(
        EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(raw->data()), 32);
    if (!k) {
        ERR_clear_error();
        return std::nullopt;
    }
    ed25519_verifier v;
    v.key_ = std::shared_ptr<EVP_PKEY>(k, EVP_PKEY_free);
    return v;
}

bool ed25519_verifier::verify(std::string_view sig_hex, std::string_view message) const {
    if (!key_ || sig_hex.size() != 128)
        return false;
    auto sig = hex_decode(sig_hex);
    if (!sig)
        return false;
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    if (!ctx)
        return false;
    bool ok = EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) == 1 &&
              EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig->data()),
                               sig->size(), reinterpret_cast<const unsigned char*>(message.data()),
                               message.size()) == 1;
    if (!ok)
        ERR_clear_error();
    return ok;
}

bool ed25519_verifier::verify(std::string_view sig_hex, std::string_view timestamp,
                              std::string_view body) const {
    std::string msg;
    msg.reserve(timestamp.size() + body.size());
    msg.append(timestamp);
    msg.append(body);
    return verify(sig_hex, msg);
}

} // namespace tandem::adapters::discord
