#pragma once
// The TLS 1.3 record layer (RFC 8446 §5), for connections whose handshake OpenSSL finished:
// once the traffic secrets are known, ringcast protects and opens records itself and frees the
// connection's `SSL` (about 14 KB), keeping ~200 bytes of keys per stream instead. The same
// idea as kernel TLS, in user space: OpenSSL does the handshake, the record layer is small.
//
// Only TLS 1.3 with AES-128-GCM, AES-256-GCM or ChaCha20-Poly1305 (every TLS 1.3 suite a
// client offers by default); anything else stays on OpenSSL. Pure functions over bytes: no
// sockets, testable against OpenSSL itself.
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <sys/uio.h>

namespace ringcast::net {

enum class Aead : std::uint8_t { none, aes_128_gcm, aes_256_gcm, chacha20_poly1305 };

// The suite's AEAD for an OpenSSL cipher id (SSL_CIPHER_get_id), or none.
Aead aead_for_suite(std::uint32_t cipher_id);

// One direction's keys: derived from its traffic secret, re-derived on a KeyUpdate. Wiped
// when they go, wherever they live (a connection's offload state, a test's stack): a freed
// connection must not leave its secrets in the allocator's free lists.
struct TrafficKeys {
  std::uint8_t secret[48];
  std::uint8_t key[32];
  std::uint8_t iv[12];
  std::uint8_t secret_len = 0;  // 32 (SHA-256 suites) or 48 (SHA-384)
  std::uint64_t seq = 0;        // records protected (or opened) under these keys
  ~TrafficKeys() { OPENSSL_cleanse(this, sizeof *this); }
};

inline constexpr std::size_t kMaxPlaintext = 16384;           // 2^14
inline constexpr std::size_t kMaxCiphertext = kMaxPlaintext + 256;
inline constexpr std::size_t kRecordHeader = 5;
inline constexpr std::size_t kTag = 16;

// Content types (RFC 8446 §5.1).
inline constexpr std::uint8_t kAlert = 21;
inline constexpr std::uint8_t kHandshake = 22;
inline constexpr std::uint8_t kApplicationData = 23;

// Sets the keys from a traffic secret (HKDF-Expand-Label "key" and "iv"), seq 0.
bool set_traffic_secret(Aead aead, std::span<const std::uint8_t> secret, TrafficKeys& keys);
// KeyUpdate: secret' = HKDF-Expand-Label(secret, "traffic upd", "", Hash.length); new keys.
bool update_traffic_secret(Aead aead, TrafficKeys& keys);

// Appends one protected record carrying the plaintext pieces `iov` (at most kMaxPlaintext
// bytes in all) with inner content type `type`. `ctx` is scratch, reusable across calls; like
// open_record, it returns with `ctx` reset (its key schedule wiped), so a context shared by a
// shard's connections never holds the last one's key. Refuses (false) a record whose sequence
// number would wrap (RFC 8446 §5.3: a sequence number never wraps; the caller rotates first).
bool seal_record(EVP_CIPHER_CTX* ctx, Aead aead, TrafficKeys& keys, std::uint8_t type,
                 std::span<const iovec> iov, std::string& out);

// Length of the first whole record in `bytes` (header included): 0 if incomplete, -1 if the
// header is not a TLS 1.3 protected record or announces more than kMaxCiphertext.
long record_length(std::string_view bytes);

// Opens one whole record into `plain` (room for kMaxCiphertext bytes): the plaintext length
// (inner padding stripped) and its type, or -1 if it does not authenticate (or the sequence
// number would wrap).
long open_record(EVP_CIPHER_CTX* ctx, Aead aead, TrafficKeys& keys, std::string_view record,
                 char* plain, std::uint8_t& type);

}  // namespace ringcast::net
