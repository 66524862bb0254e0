// Ed25519 verification: RFC 8032 vectors, a Discord-shaped vector, and the negative cases
// Discord's own security checks send.
#include "adapters/discord/ed25519.hpp"
#include "discord/signing.hpp"
#include "test_support.hpp"

#include <catch2/catch.hpp>

using namespace tandem::adapters::discord;
using tandem::test::test_signer;

namespace {
std::string unhex(std::string_view h) {
    return *hex_decode(h);
}
const std::string rfc1_pub = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
const std::string rfc1_sig = "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8"
                             "821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";
} // namespace

TEST_CASE("discord ed25519: RFC 8032 test vectors 1 and 2", "[discord]") {
    test_signer one(unhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"));
    CHECK(one.public_hex() == rfc1_pub);
    CHECK(one.sign_hex("") == rfc1_sig);
    auto v1 = ed25519_verifier::from_hex(rfc1_pub);
    REQUIRE(v1);
    CHECK(v1->verify(rfc1_sig, ""));

    test_signer two(unhex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb"));
    CHECK(two.public_hex() == "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c");
    std::string sig2 = "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e4"
                       "3e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00";
    CHECK(two.sign_hex(unhex("72")) == sig2);
    auto v2 = ed25519_verifier::from_hex(two.public_hex());
    CHECK(v2->verify(sig2, unhex("72")));
    CHECK(!v2->verify(sig2, unhex("73")));
}

TEST_CASE("discord ed25519: the Discord-shaped PING vector", "[discord]") {
    auto v = ed25519_verifier::from_hex(rfc1_pub);
    std::string body =
        tandem::test::read_file(std::string(TANDEM_TEST_DATA) + "/discord/ping.json");
    std::string sig = "b7a7d1a3fa487e8f5975782d048bce168e8817448cd4ae3ae06678c245a44dd466bf4187"
                      "ecc3360056bb21af777fddc347119afe35e08bc364e17fc1d4fda90f";
    CHECK(v->verify(sig, "1700000000", body));
    CHECK(!v->verify(sig, "1700000001", body));
}

TEST_CASE("discord ed25519: malformed and tampered input is invalid, never an exception",
          "[discord]") {
    test_signer s;
    auto v = ed25519_verifier::from_hex(s.public_hex());
    REQUIRE(v);
    std::string body = R"({"type":1})";
    auto sig = s.sign_hex("1700000000" + body);
    CHECK(v->verify(sig, "1700000000", body));
    std::string upper = sig;
    for (auto& c : upper)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    CHECK(v->verify(upper, "1700000000", body)); // hex is case-insensitive
    std::string flipped = sig;
    flipped[10] = flipped[10] == '0' ? '1' : '0';
    CHECK(!v->verify(flipped, "1700000000", body));
    CHECK(!v->verify(sig, "1700000000", R"({"type": 1})")); // re-serialised body
    CHECK(!v->verify(sig, "1700000000", body + " "));
    CHECK(!v->verify(sig.substr(2), "1700000000", body)); // 63 bytes
    CHECK(!v->verify(sig + "00", "1700000000", body));    // 65 bytes
    CHECK(!v->verify(std::string(128, 'z'), "1700000000", body));
    CHECK(!v->verify("", "1700000000", body));
    CHECK(!ed25519_verifier::from_hex(rfc1_pub.substr(2)));
    CHECK(!ed25519_verifier::from_hex("0x" + rfc1_pub.substr(2)));
    CHECK(!ed25519_verifier::from_hex(""));
    CHECK(!hex_decode("abc"));
    CHECK(!hex_decode(" a"));
    CHECK(*hex_decode("0aFf") == std::string("\x0a\xff", 2));
}
