// Ed25519 signature checks for Discord interactions (OpenSSL 3, one-shot EVP_DigestVerify).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

typedef struct evp_pkey_st EVP_PKEY;

namespace tandem::adapters::discord {

// Strict hex decoding: even length, [0-9a-fA-F] only. nullopt otherwise.
std::optional<std::string> hex_decode(std::string_view hex);

class ed25519_verifier {
  public:
    // Parses a 32-byte public key given as 64 hex characters; nullopt when malformed.
    static std::optional<ed25519_verifier> from_hex(std::string_view public_key_hex);

    // True only when sig_hex (128 hex characters) is a valid signature of message.
    // Never throws; malformed input is simply invalid. Thread-safe.
    bool verify(std::string_view sig_hex, std::string_view message) const;
    // Discord's scheme: the signed bytes are the timestamp header followed by the raw body.
    bool verify(std::string_view sig_hex, std::string_view timestamp, std::string_view body) const;

  private:
    std::shared_ptr<EVP_PKEY> key_;
};

} // namespace tandem::adapters::discord
