#include "net/tls_record.h"

#include <openssl/core_names.h>

#include <cstring>
#include <limits>

namespace ringcast::net {

namespace {

constexpr std::uint32_t kTls13Aes128Gcm = 0x03001301;
constexpr std::uint32_t kTls13Aes256Gcm = 0x03001302;
constexpr std::uint32_t kTls13Chacha20 = 0x03001303;

const char* digest_name(Aead aead) { return aead == Aead::aes_256_gcm ? "SHA384" : "SHA256"; }
std::size_t hash_len(Aead aead) { return aead == Aead::aes_256_gcm ? 48 : 32; }
std::size_t key_len(Aead aead) { return aead == Aead::aes_128_gcm ? 16 : 32; }

// Fetched once: an explicit fetch avoids OpenSSL 3's implicit lookup on every record.
const EVP_CIPHER* cipher(Aead aead) {
  static EVP_CIPHER* aes128 = EVP_CIPHER_fetch(nullptr, "AES-128-GCM", nullptr);
  static EVP_CIPHER* aes256 = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  static EVP_CIPHER* chacha = EVP_CIPHER_fetch(nullptr, "ChaCha20-Poly1305", nullptr);
  switch (aead) {
    case Aead::aes_128_gcm: return aes128;
    case Aead::aes_256_gcm: return aes256;
    case Aead::chacha20_poly1305: return chacha;
    case Aead::none: break;
  }
  return nullptr;
}

// HKDF-Expand-Label(secret, label, "", length) for length <= Hash.length: one HMAC block.
bool expand_label(Aead aead, const std::uint8_t* secret, std::size_t secret_len,
                  std::string_view label, std::size_t length, std::uint8_t* out) {
  std::uint8_t info[64];
  std::size_t n = 0;
  info[n++] = std::uint8_t(length >> 8);
  info[n++] = std::uint8_t(length);
  info[n++] = std::uint8_t(6 + label.size());
  std::memcpy(info + n, "tls13 ", 6);
  n += 6;
  std::memcpy(info + n, label.data(), label.size());
  n += label.size();
  info[n++] = 0;  // empty context
  info[n++] = 1;  // HKDF-Expand's block counter T(1)
  std::uint8_t block[64];  // key material: wiped before the frame goes
  std::size_t block_len = 0;
  const bool ok = EVP_Q_mac(nullptr, "HMAC", nullptr, digest_name(aead), nullptr, secret,
                            secret_len, info, n, block, sizeof block, &block_len) != nullptr &&
                  block_len >= length;
  if (ok) std::memcpy(out, block, length);
  OPENSSL_cleanse(block, sizeof block);
  return ok;
}

// The sequence number that must never be used: the next one would wrap (RFC 8446 §5.3).
constexpr std::uint64_t kSeqLast = std::numeric_limits<std::uint64_t>::max();

// Resets a scratch cipher context on every way out of a record operation: the provider's
// context (the expanded key) is freed with OPENSSL_clear_free, so no key outlives the call.
struct ResetOnExit {
  EVP_CIPHER_CTX* ctx;
  ~ResetOnExit() { EVP_CIPHER_CTX_reset(ctx); }
};

bool derive_keys(Aead aead, TrafficKeys& keys) {
  keys.seq = 0;
  return expand_label(aead, keys.secret, keys.secret_len, "key", key_len(aead), keys.key) &&
         expand_label(aead, keys.secret, keys.secret_len, "iv", sizeof keys.iv, keys.iv);
}

void nonce(const TrafficKeys& keys, std::uint8_t* out) {
  std::memcpy(out, keys.iv, 12);
  for (int i = 0; i < 8; ++i) out[11 - i] ^= std::uint8_t(keys.seq >> (8 * i));
}

}  // namespace

Aead aead_for_suite(std::uint32_t cipher_id) {
  switch (cipher_id) {
    case kTls13Aes128Gcm: return Aead::aes_128_gcm;
    case kTls13Aes256Gcm: return Aead::aes_256_gcm;
    case kTls13Chacha20: return Aead::chacha20_poly1305;
    default: return Aead::none;
  }
}

bool set_traffic_secret(Aead aead, std::span<const std::uint8_t> secret, TrafficKeys& keys) {
  if (aead == Aead::none || secret.size() != hash_len(aead)) return false;
  std::memcpy(keys.secret, secret.data(), secret.size());
  keys.secret_len = std::uint8_t(secret.size());
  return derive_keys(aead, keys);
}

bool update_traffic_secret(Aead aead, TrafficKeys& keys) {
  std::uint8_t next[48];
  const bool ok =
      expand_label(aead, keys.secret, keys.secret_len, "traffic upd", keys.secret_len, next);
  if (ok) std::memcpy(keys.secret, next, keys.secret_len);
  OPENSSL_cleanse(next, sizeof next);
  return ok && derive_keys(aead, keys);
}

namespace {

// Encrypts the record whose header is at `p` (room for the header and `body` bytes).
bool encrypt_record(EVP_CIPHER_CTX* ctx, Aead aead, const TrafficKeys& keys, std::uint8_t type,
                    std::span<const iovec> iov, std::uint8_t* p, std::size_t body) {
  std::uint8_t iv[12];
  nonce(keys, iv);
  int len = 0;
  const bool init = EVP_CipherInit_ex2(ctx, cipher(aead), keys.key, iv, 1, nullptr) == 1;
  OPENSSL_cleanse(iv, sizeof iv);
  if (!init) return false;
  if (EVP_EncryptUpdate(ctx, nullptr, &len, p, int(kRecordHeader)) != 1) return false;  // AAD
  std::uint8_t* w = p + kRecordHeader;
  for (const iovec& v : iov) {
    if (v.iov_len == 0) continue;
    if (EVP_EncryptUpdate(ctx, w, &len, static_cast<const std::uint8_t*>(v.iov_base),
                          int(v.iov_len)) != 1)
      return false;
    w += len;
  }
  if (EVP_EncryptUpdate(ctx, w, &len, &type, 1) != 1) return false;
  w += len;
  if (EVP_EncryptFinal_ex(ctx, w, &len) != 1) return false;
  w += len;
  if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, int(kTag), w) != 1) return false;
  return w + kTag == p + kRecordHeader + body;
}

}  // namespace

bool seal_record(EVP_CIPHER_CTX* ctx, Aead aead, TrafficKeys& keys, std::uint8_t type,
                 std::span<const iovec> iov, std::string& out) {
  const ResetOnExit reset{ctx};
  std::size_t plain = 0;
  for (const iovec& v : iov) plain += v.iov_len;
  if (plain > kMaxPlaintext || keys.seq == kSeqLast) return false;
  const std::size_t body = plain + 1 + kTag;  // content, inner type, tag
  const std::size_t at = out.size();
  out.resize(at + kRecordHeader + body);
  auto* p = reinterpret_cast<std::uint8_t*>(out.data() + at);
  p[0] = kApplicationData;  // every protected record's outer type
  p[1] = 0x03;
  p[2] = 0x03;
  p[3] = std::uint8_t(body >> 8);
  p[4] = std::uint8_t(body);
  if (!encrypt_record(ctx, aead, keys, type, iov, p, body)) {
    out.resize(at);  // no half-made record goes out behind a failure
    return false;
  }
  ++keys.seq;
  return true;
}

long record_length(std::string_view bytes) {
  if (bytes.size() < kRecordHeader) return 0;
  const auto* p = reinterpret_cast<const std::uint8_t*>(bytes.data());
  if (p[0] != kApplicationData || p[1] != 0x03 || p[2] != 0x03) return -1;
  const std::size_t body = (std::size_t(p[3]) << 8) | p[4];
  if (body > kMaxCiphertext || body < kTag + 1) return -1;
  if (bytes.size() < kRecordHeader + body) return 0;
  return long(kRecordHeader + body);
}

long open_record(EVP_CIPHER_CTX* ctx, Aead aead, TrafficKeys& keys, std::string_view record,
                 char* plain, std::uint8_t& type) {
  const ResetOnExit reset{ctx};
  if (keys.seq == kSeqLast) return -1;
  const auto* p = reinterpret_cast<const std::uint8_t*>(record.data());
  const std::size_t body = record.size() - kRecordHeader;
  const std::size_t sealed = body - kTag;
  std::uint8_t iv[12];
  nonce(keys, iv);
  int len = 0, total = 0;
  auto* out = reinterpret_cast<std::uint8_t*>(plain);
  const bool init = EVP_CipherInit_ex2(ctx, cipher(aead), keys.key, iv, 0, nullptr) == 1;
  OPENSSL_cleanse(iv, sizeof iv);
  if (!init) return -1;
  if (EVP_DecryptUpdate(ctx, nullptr, &len, p, int(kRecordHeader)) != 1) return -1;
  if (EVP_DecryptUpdate(ctx, out, &len, p + kRecordHeader, int(sealed)) != 1) return -1;
  total = len;
  if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, int(kTag),
                          const_cast<std::uint8_t*>(p + kRecordHeader + sealed)) != 1)
    return -1;
  if (EVP_DecryptFinal_ex(ctx, out + total, &len) != 1) return -1;  // the tag did not match
  total += len;
  ++keys.seq;
  // TLSInnerPlaintext: content, the type, then zero padding.
  while (total > 0 && out[total - 1] == 0) --total;
  if (total == 0) return -1;  // no type byte: unexpected_message
  type = out[total - 1];
  --total;
  if (std::size_t(total) > kMaxPlaintext) return -1;  // record_overflow
  return total;
}

}  // namespace ringcast::net
