#pragma once
// The per-connection state of the TLS layer (net/tls_io.h), shared by its two halves:
// tls_io.cc (handshake and OpenSSL's record layer) and tls_offload.cc (ringcast's own TLS 1.3
// record layer once the handshake is done and the SSL is freed).
#include <openssl/ssl.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "net/tls_io.h"
#include "net/tls_record_layer.h"  // TlsOffload

namespace ringcast::net {

namespace tls_flag {
constexpr std::uint16_t want_recv = 1 << 0;      // a shard recv waits for plaintext
constexpr std::uint16_t want_send = 1 << 1;      // a shard send waits for its ciphertext to go
constexpr std::uint16_t want_shutdown = 1 << 2;  // a shard shutdown waits behind the ciphertext
constexpr std::uint16_t inner_recv = 1 << 3;
constexpr std::uint16_t inner_send = 1 << 4;
constexpr std::uint16_t handshake_done = 1 << 5;
constexpr std::uint16_t closed = 1 << 6;         // the shard closed the descriptor
constexpr std::uint16_t eof = 1 << 7;            // close_notify seen: reads return 0 from now on
constexpr std::uint16_t offloaded = 1 << 8;      // ssl freed: records are ringcast's own
constexpr std::uint16_t inner_cancel = 1 << 9;   // our cancel of our own operations is out
constexpr std::uint16_t close_deferred = 1 << 10;  // the shard's close waits for that cancel
}  // namespace tls_flag

struct TlsIo::Session {
  SSL* ssl = nullptr;
  std::uint32_t fd = 0;
  std::uint32_t index = 0;
  std::uint16_t flags = 0;
  std::int32_t fatal = 0;           // -errno every later recv/send reports (0: healthy)
  std::uint64_t recv_token = 0;
  std::uint64_t send_token = 0;
  std::uint64_t shutdown_token = 0;
  std::uint64_t close_token = 0;    // the shard's close, while deferred
  std::uint32_t send_plain = 0;     // plaintext bytes the shard's send carried
  std::uint32_t sending_off = 0;    // bytes of *sending already written
  std::string* sending = nullptr;   // ciphertext in the inner send in flight (frozen)
  std::string* out = nullptr;       // ciphertext produced since (appended by OpenSSL)
  std::string* in = nullptr;        // ciphertext received but not yet consumed by OpenSSL
  const char* feed = nullptr;       // what the BIO hands OpenSSL during one call
  std::uint32_t feed_len = 0;
  TlsOffload* offload = nullptr;    // record layer; set during a TLS 1.3 handshake

  // The two ends of the session's memory BIO (net/tls_bio.h): reads take from `feed`, writes
  // append to `out`, which grows (its bound is the layer's: kTlsControlOutputMax).
  std::size_t bio_take(char* to, std::size_t max) {
    if (feed_len == 0) return 0;
    const std::uint32_t n = max < feed_len ? std::uint32_t(max) : feed_len;
    std::memcpy(to, feed, n);
    feed += n;
    feed_len -= n;
    return n;
  }
  bool bio_put(const char* data, std::size_t len) {
    if (out == nullptr) out = new std::string();
    out->append(data, len);
    return true;
  }
};

}  // namespace ringcast::net
