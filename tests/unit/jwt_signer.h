#pragma once
// Test-only token minting: keys generated with OpenSSL's own APIs, tokens signed the way an
// issuer would (ES256 converted from DER to JOSE's raw r || s). Independent of auth/jwt.cc
// except for base64url, which has its own tests.
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <memory>
#include <stdexcept>
#include <string>

#include "auth/base64url.h"

namespace ringcast::testing {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

inline Pkey make_rsa(unsigned bits) { return Pkey(EVP_RSA_gen(bits)); }
inline Pkey make_ec(const char* curve) { return Pkey(EVP_EC_gen(curve)); }
inline Pkey make_ed25519() { return Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")); }

inline std::string public_pem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (PEM_write_bio_PUBKEY(bio, key) != 1) throw std::runtime_error("PEM_write_bio_PUBKEY");
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  std::string pem(data, std::size_t(len));
  BIO_free(bio);
  return pem;
}

inline std::string b64(const std::string& s) { return http::base64url_encode(s); }

inline std::string sign_hs256(const std::string& input, const std::string& secret) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), int(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
  return std::string(reinterpret_cast<char*>(mac), len);
}

inline std::string sign_pkey(const std::string& input, EVP_PKEY* key) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::size_t len = 0;
  EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key);
  EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                 input.size());
  std::string sig(len, '\0');
  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                 reinterpret_cast<const unsigned char*>(input.data()), input.size());
  EVP_MD_CTX_free(ctx);
  sig.resize(len);
  return sig;
}

// DER ECDSA-Sig-Value -> 64 bytes r || s.
inline std::string der_to_raw(const std::string& der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, long(der.size()));
  std::string raw(64, '\0');
  BN_bn2binpad(ECDSA_SIG_get0_r(sig), reinterpret_cast<unsigned char*>(raw.data()), 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
  ECDSA_SIG_free(sig);
  return raw;
}

// "header.payload.signature" with `alg` in the header; `key` is the HMAC secret (HS256) or
// ignored, `pkey` the private key (RS256/ES256). Any other alg gets an empty signature.
inline std::string mint(const std::string& alg, const std::string& payload_json,
                        const std::string& secret, EVP_PKEY* pkey = nullptr,
                        const std::string& header_json = "") {
  const std::string header =
      header_json.empty() ? "{\"alg\":\"" + alg + "\",\"typ\":\"JWT\"}" : header_json;
  const std::string input = b64(header) + "." + b64(payload_json);
  std::string sig;
  if (alg == "HS256") sig = sign_hs256(input, secret);
  else if (alg == "RS256") sig = sign_pkey(input, pkey);
  else if (alg == "ES256") sig = der_to_raw(sign_pkey(input, pkey));
  return input + "." + b64(sig);
}

}  // namespace ringcast::testing
