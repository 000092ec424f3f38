#include "auth/jwt.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <algorithm>
#include <memory>

#include "auth/base64url.h"
#include "base/assert.h"

namespace ringcast::http {
namespace {

struct EvpMdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct EcdsaSigFree {
  void operator()(ECDSA_SIG* p) const { ECDSA_SIG_free(p); }
};

bool verify_hmac(const std::string& secret, std::string_view input, std::string_view sig) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  if (HMAC(EVP_sha256(), secret.data(), int(secret.size()),
           reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac,
           &mac_len) == nullptr) {
    return false;
  }
  RC_ASSERT(mac_len == 32);  // SHA-256
  // Constant time: a timing difference would let a client find a valid MAC byte by byte.
  return sig.size() == mac_len && CRYPTO_memcmp(mac, sig.data(), mac_len) == 0;
}

// JOSE carries an ES256 signature as raw r || s, 32 bytes each (RFC 7518 §3.4); OpenSSL
// verifies the DER ECDSA-Sig-Value. Empty string if `raw` is not 64 bytes.
std::string es256_raw_to_der(std::string_view raw) {
  if (raw.size() != 64) return {};
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw.data());
  std::unique_ptr<ECDSA_SIG, EcdsaSigFree> sig(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(bytes, 32, nullptr);
  BIGNUM* s = BN_bin2bn(bytes + 32, 32, nullptr);
  if (!sig || r == nullptr || s == nullptr || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return {};
  }
  unsigned char* der = nullptr;
  const int len = i2d_ECDSA_SIG(sig.get(), &der);
  if (len <= 0) return {};
  std::string out(reinterpret_cast<char*>(der), std::size_t(len));
  OPENSSL_free(der);
  return out;
}

bool verify_pkey(EVP_PKEY* pkey, std::string_view input, std::string_view sig) {
  std::unique_ptr<EVP_MD_CTX, EvpMdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pkey) != 1) {
    return false;
  }
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()),
                          sig.size(), reinterpret_cast<const unsigned char*>(input.data()),
                          input.size()) == 1;
}

bool iequals_none(std::string_view alg) {
  if (alg.size() != 4) return false;
  for (std::size_t i = 0; i < 4; ++i) {
    if ((alg[i] | 0x20) != "none"[i]) return false;
  }
  return true;
}

bool has_key_for(const KeySet& keys, std::string_view alg) {
  if (alg == "HS256") return keys.has_hmac();
  if (alg == "RS256") return keys.has_rsa();
  if (alg == "ES256") return keys.has_ec();
  return false;
}

// Splits "h.p.s" into its three parts; false unless there are exactly two dots.
bool split_token(std::string_view token, std::string_view parts[3]) {
  const std::size_t d1 = token.find('.');
  if (d1 == std::string_view::npos) return false;
  const std::size_t d2 = token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos) {
    return false;
  }
  parts[0] = token.substr(0, d1);
  parts[1] = token.substr(d1 + 1, d2 - d1 - 1);
  parts[2] = token.substr(d2 + 1);
  RC_ASSERT(parts[0].size() + parts[1].size() + parts[2].size() + 2 == token.size());
  return true;
}

}  // namespace

KeySet::~KeySet() {
  OPENSSL_cleanse(hmac_.data(), hmac_.size());
  EVP_PKEY_free(pkey_);
}

std::string KeySet::set_hmac_secret(std::string_view secret) {
  if (secret.size() < kHmacSecretMin) {
    return "the HS256 secret must be at least " + std::to_string(kHmacSecretMin) + " bytes";
  }
  hmac_.assign(secret);
  return {};
}

std::string KeySet::set_public_key_pem(std::string_view pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), int(pem.size()));
  if (bio == nullptr) return "out of memory";
  EVP_PKEY* pkey = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (pkey == nullptr) return "not a PEM public key (BEGIN PUBLIC KEY)";
  std::string error;
  bool is_ec = false;
  if (EVP_PKEY_is_a(pkey, "RSA")) {
    if (EVP_PKEY_get_bits(pkey) < kRsaBitsMin) error = "the RSA key is shorter than 2048 bits";
  } else if (EVP_PKEY_is_a(pkey, "EC")) {
    char group[64] = {};
    std::size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                       &len) != 1 ||
        std::string_view(group) != "prime256v1") {
      error = "the EC key is not on P-256 (ES256 needs prime256v1)";
    }
    is_ec = true;
  } else {
    error = "the key is neither RSA (RS256) nor EC P-256 (ES256)";
  }
  if (!error.empty()) {
    EVP_PKEY_free(pkey);
    return error;
  }
  EVP_PKEY_free(pkey_);
  pkey_ = pkey;
  pkey_is_ec_ = is_ec;
  return {};
}

bool KeySet::verify(std::string_view alg, std::string_view input, std::string_view sig) const {
  // verify_jwt refused the token unless a key of its alg is configured: the token never picks
  // the check (HS256 with a public key's bytes is the classic confusion).
  RC_ASSERT(has_key_for(*this, alg));
  if (alg == "HS256") return verify_hmac(hmac_, input, sig);
  if (alg == "RS256") return verify_pkey(pkey_, input, sig);
  const std::string der = es256_raw_to_der(sig);
  return !der.empty() && verify_pkey(pkey_, input, der);
}

VerifyResult check_times(const Claims& c, std::int64_t now_s, std::uint32_t leeway_s) {
  // exp: the token is good while now < exp (RFC 7519 §4.1.4), stretched by the leeway.
  if (c.has_exp && now_s >= c.exp + std::int64_t(leeway_s)) return {TokenError::expired, "the token has expired"};
  if (c.has_nbf && now_s + std::int64_t(leeway_s) < c.nbf)
    return {TokenError::not_yet_valid, "the token is not valid yet (nbf)"};
  if (c.has_iat && now_s + std::int64_t(leeway_s) < c.iat)
    return {TokenError::not_yet_valid, "the token was issued in the future (iat)"};
  return {};
}

VerifyResult verify_jwt(std::string_view token, const KeySet& keys, const VerifyOptions& options,
                        Claims& claims) {
  constexpr TokenError kMalformed = TokenError::malformed;
  if (token.size() > kTokenBytesMax) return {kMalformed, "the token is too long"};
  std::string_view parts[3];
  if (!split_token(token, parts)) return {kMalformed, "a token has three parts separated by '.'"};
  std::string header_json, signature, payload_json;
  if (!base64url_decode(parts[0], header_json)) return {kMalformed, "the header is not base64url"};
  JoseHeader header;
  if (std::string_view why = parse_jose_header(header_json, header); !why.empty())
    return {kMalformed, why};
  if (iequals_none(header.alg)) return {TokenError::alg_none, "unsigned tokens (alg none) are refused"};
  if (!has_key_for(keys, header.alg))
    return {TokenError::wrong_alg, "the token's alg does not match the server's key"};
  if (!base64url_decode(parts[2], signature)) return {kMalformed, "the signature is not base64url"};
  const std::string_view signing_input = token.substr(0, parts[0].size() + 1 + parts[1].size());
  RC_ASSERT(signing_input.size() < token.size() && token[signing_input.size()] == '.');
  if (!keys.verify(header.alg, signing_input, signature))
    return {TokenError::bad_signature, "the signature does not verify"};
  if (!base64url_decode(parts[1], payload_json)) return {kMalformed, "the claims are not base64url"};
  if (std::string_view why = parse_claims(payload_json, claims); !why.empty()) return {kMalformed, why};
  if (!claims.has_exp) return {kMalformed, "the token has no exp claim"};
  if (VerifyResult t = check_times(claims, options.now_s, options.leeway_s); t.error != TokenError::ok)
    return t;
  if (!options.audience.empty() &&
      std::find(claims.aud.begin(), claims.aud.end(), options.audience) == claims.aud.end())
    return {TokenError::audience, "the token is not meant for this server (aud)"};
  if (!options.issuer.empty() && (!claims.has_iss || claims.iss != options.issuer))
    return {TokenError::issuer, "the token's issuer is not trusted (iss)"};
  return {};
}

}  // namespace ringcast::http
