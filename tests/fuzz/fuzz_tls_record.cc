// The offloaded TLS 1.3 record layer (net/tls_record.h) reads ciphertext from strangers:
// framing (record_length) and opening (open_record) must reject anything but an authentic
// record without reading out of bounds, and seal/open must round-trip whatever plaintext.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "net/tls_record.h"

using namespace ringcast::net;

namespace {
EVP_CIPHER_CTX* ctx() {
  static EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
  return c;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const Aead aead = Aead(1 + data[0] % 3);
  std::uint8_t secret[48];
  for (std::size_t i = 0; i < sizeof secret; ++i) secret[i] = std::uint8_t(i * 7 + 1);
  const std::size_t secret_len = aead == Aead::aes_256_gcm ? 48 : 32;
  TrafficKeys rx, tx;
  if (!set_traffic_secret(aead, {secret, secret_len}, rx)) __builtin_trap();
  if (!set_traffic_secret(aead, {secret, secret_len}, tx)) __builtin_trap();
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);

  // Strangers' bytes: frame and open record after record until something is refused.
  static char plain[kMaxCiphertext];
  std::string_view rest = input;
  for (int i = 0; i < 64; ++i) {
    const long n = record_length(rest);
    if (n <= 0) break;
    if (std::size_t(n) > rest.size()) __builtin_trap();
    std::uint8_t type = 0;
    const long got = open_record(ctx(), aead, rx, rest.substr(0, std::size_t(n)), plain, type);
    if (got > long(kMaxPlaintext)) __builtin_trap();
    rest.remove_prefix(std::size_t(n));
  }

  // Round trip: the input as plaintext (split at its middle into two pieces) seals and opens
  // back to itself with its type.
  const std::string_view text = input.substr(0, kMaxPlaintext);
  const iovec pieces[2] = {{const_cast<char*>(text.data()), text.size() / 2},
                           {const_cast<char*>(text.data() + text.size() / 2),
                            text.size() - text.size() / 2}};
  std::string sealed;
  TrafficKeys a, b;
  set_traffic_secret(aead, {secret, secret_len}, a);
  set_traffic_secret(aead, {secret, secret_len}, b);
  if (!seal_record(ctx(), aead, a, kApplicationData, pieces, sealed)) __builtin_trap();
  if (record_length(sealed) != long(sealed.size())) __builtin_trap();
  std::uint8_t type = 0;
  const long got = open_record(ctx(), aead, b, sealed, plain, type);
  if (got != long(text.size()) || type != kApplicationData) __builtin_trap();
  if (std::memcmp(plain, text.data(), text.size()) != 0) __builtin_trap();
  return 0;
}
