// One TLS 1.3 record (net/tls_record): what must not outlive it (keys in a shared cipher
// context, a connection's keys once it is freed) and what must never happen (a sequence
// number wrapping into a reused nonce).
#include <gtest/gtest.h>

#include <new>
#include <string>
#include <vector>

#include "net/tls_record.h"

namespace ringcast::net {
namespace {

struct Ctx {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  ~Ctx() { EVP_CIPHER_CTX_free(ctx); }
};

std::vector<std::uint8_t> secret(std::uint8_t seed) {
  std::vector<std::uint8_t> s(32);
  for (std::size_t i = 0; i < s.size(); ++i) s[i] = std::uint8_t(seed + i * 13);
  return s;
}

TEST(TlsRecord, SealAndOpenLeaveTheSharedCipherContextWithoutAKey) {
  Ctx c;
  TrafficKeys tx, rx;
  ASSERT_TRUE(set_traffic_secret(Aead::chacha20_poly1305, secret(7), tx));
  ASSERT_TRUE(set_traffic_secret(Aead::chacha20_poly1305, secret(7), rx));
  std::string wire;
  const iovec v{const_cast<char*>("event"), 5};
  ASSERT_TRUE(seal_record(c.ctx, Aead::chacha20_poly1305, tx, kApplicationData, {&v, 1}, wire));
  // A reset context has no cipher: its provider context, with the expanded key, was freed
  // with OPENSSL_clear_free. The next connection to use it cannot read this one's key.
  EXPECT_EQ(EVP_CIPHER_CTX_get0_cipher(c.ctx), nullptr);
  char plain[kMaxCiphertext];
  std::uint8_t type = 0;
  ASSERT_EQ(open_record(c.ctx, Aead::chacha20_poly1305, rx, wire, plain, type), 5);
  EXPECT_EQ(EVP_CIPHER_CTX_get0_cipher(c.ctx), nullptr);
  wire[wire.size() - 1] ^= 1;  // and on the way out of a failure too
  rx.seq = 0;
  EXPECT_EQ(open_record(c.ctx, Aead::chacha20_poly1305, rx, wire, plain, type), -1);
  EXPECT_EQ(EVP_CIPHER_CTX_get0_cipher(c.ctx), nullptr);
}

// A connection's keys live in TrafficKeys (two per connection, in its offload state): when the
// connection is freed, they must not stay behind in the allocator's free memory.
TEST(TlsRecord, TrafficKeysAreWipedWhenTheyGo) {
  alignas(TrafficKeys) unsigned char storage[sizeof(TrafficKeys)];
  auto* keys = new (storage) TrafficKeys();
  const std::vector<std::uint8_t> s48(48, 0xa5);
  ASSERT_TRUE(set_traffic_secret(Aead::aes_256_gcm, s48, *keys));
  keys->seq = 12345;
  keys->~TrafficKeys();  // what `delete` runs before the memory goes back to the allocator
  for (std::size_t i = 0; i < sizeof storage; ++i) ASSERT_EQ(storage[i], 0) << "byte " << i;
}

TEST(TlsRecord, ASequenceNumberNeverWraps) {
  Ctx c;
  TrafficKeys keys;
  ASSERT_TRUE(set_traffic_secret(Aead::aes_128_gcm, secret(3), keys));
  keys.seq = ~std::uint64_t(0);  // the next record would reuse nonce 0's sequence
  std::string wire = "before";
  const iovec v{const_cast<char*>("x"), 1};
  EXPECT_FALSE(seal_record(c.ctx, Aead::aes_128_gcm, keys, kApplicationData, {&v, 1}, wire));
  EXPECT_EQ(wire, "before");  // nothing half-made is left behind
  EXPECT_EQ(keys.seq, ~std::uint64_t(0));
  keys.seq = 0;
  ASSERT_TRUE(seal_record(c.ctx, Aead::aes_128_gcm, keys, kApplicationData, {&v, 1}, wire));
  TrafficKeys rx;
  ASSERT_TRUE(set_traffic_secret(Aead::aes_128_gcm, secret(3), rx));
  rx.seq = ~std::uint64_t(0);
  char plain[kMaxCiphertext];
  std::uint8_t type = 0;
  EXPECT_EQ(open_record(c.ctx, Aead::aes_128_gcm, rx, std::string_view(wire).substr(6), plain, type), -1);
}

}  // namespace
}  // namespace ringcast::net
