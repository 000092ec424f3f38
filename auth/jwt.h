#pragma once
// JWS compact tokens (RFC 7515/7519) verified with OpenSSL 3: HS256, RS256 and ES256 only.
// The algorithm a token may use is fixed by the key the server was given, never by the token:
// "alg": "none" and any algorithm without a configured key of its type are refused, so a
// token cannot talk the server into checking an HMAC with a public key (the classic RS/HS
// confusion). Keys are loaded once at start-up and only read afterwards (shards share them).
#include <cstdint>
#include <string>
#include <string_view>

#include "auth/jwt_claims.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace ringcast::http {

// Longest token read from any source; a longer one is malformed.
inline constexpr std::size_t kTokenBytesMax = 8192;
// Shortest HS256 secret: RFC 7518 §3.2 wants a key at least as long as the hash (256 bits).
inline constexpr std::size_t kHmacSecretMin = 32;
// Smallest RSA modulus accepted for RS256.
inline constexpr int kRsaBitsMin = 2048;

enum class TokenError : std::uint8_t {
  ok,
  malformed,      // not three base64url parts, bad base64url, bad JSON, claim of the wrong type
  alg_none,       // "alg": "none" (unsigned)
  wrong_alg,      // an algorithm the configured keys cannot check (includes unknown ones)
  bad_signature,
  expired,        // now >= exp + leeway
  not_yet_valid,  // now + leeway < nbf, or iat in the future beyond the leeway
  audience,       // --jwt-audience set and not among "aud"
  issuer,         // --jwt-issuer set and "iss" differs
};

class KeySet {
 public:
  KeySet() = default;
  KeySet(const KeySet&) = delete;
  KeySet& operator=(const KeySet&) = delete;
  ~KeySet();

  // HS256 secret. Returns an empty string, or why it is refused (shorter than kHmacSecretMin).
  std::string set_hmac_secret(std::string_view secret);
  // A public key in PEM ("BEGIN PUBLIC KEY", what `openssl pkey -pubout` writes): RSA of at
  // least kRsaBitsMin bits verifies RS256, EC P-256 verifies ES256; anything else is refused.
  std::string set_public_key_pem(std::string_view pem);

  bool empty() const { return hmac_.empty() && pkey_ == nullptr; }
  bool has_hmac() const { return !hmac_.empty(); }
  bool has_rsa() const { return pkey_ != nullptr && !pkey_is_ec_; }
  bool has_ec() const { return pkey_ != nullptr && pkey_is_ec_; }

  // Checks `signature` over `signing_input` with the key `alg` needs (HS256/RS256/ES256; the
  // caller has already checked that such a key exists).
  bool verify(std::string_view alg, std::string_view signing_input,
              std::string_view signature) const;

 private:
  std::string hmac_;
  EVP_PKEY* pkey_ = nullptr;
  bool pkey_is_ec_ = false;
};

struct VerifyOptions {
  std::int64_t now_s = 0;          // unix seconds
  std::uint32_t leeway_s = 30;     // clock skew allowed on exp, nbf and iat
  std::string_view audience;       // required in "aud" if not empty
  std::string_view issuer;         // required as "iss" if not empty
};

struct VerifyResult {
  TokenError error = TokenError::ok;
  std::string_view detail;  // static text for the 401 body
};

// Verifies `token` and fills `claims`. The signature is checked before the claims are parsed.
// Tokens must carry "exp": a bearer token can leak (it may travel in a URL), and one that
// never expires would be a permanent credential.
VerifyResult verify_jwt(std::string_view token, const KeySet& keys, const VerifyOptions& options,
                        Claims& claims);

// Whether the time claims allow use at `now_s` (ok), or why not (expired, not_yet_valid).
VerifyResult check_times(const Claims& claims, std::int64_t now_s, std::uint32_t leeway_s);

}  // namespace ringcast::http
