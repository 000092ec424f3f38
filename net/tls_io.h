#pragma once
// TLS as a decorator over any Io backend (io_uring, epoll, the simulator). The shard above sees
// plaintext receives and plaintext sends and never learns that TLS exists; the backend below
// moves ciphertext through the same direct descriptors and provided buffers as ever. OpenSSL
// runs over an in-memory BIO: it never touches a socket.
//
// Contract towards the shard (the Io contract, unchanged):
//   - recv: completes once with plaintext (in a buffer of this layer's pool), EOF (0: the peer's
//     close_notify or TCP EOF) or -errno (-EPROTO for a TLS failure, after the alert went out).
//   - send: the plaintext is encrypted at once (so the shard's bytes may be released as soon as
//     the completion arrives, as before); it completes with the full plaintext length once all
//     the ciphertext is written, or with -errno. Never short.
//   - shutdown_write: a close_notify is written first, then the socket's write side is shut.
//   - cancel/close: passed down; every operation the shard started still completes exactly once.
//
// Memory: a connection costs its SSL object; ciphertext buffers exist only while bytes are in
// flight (SSL_MODE_RELEASE_BUFFERS frees OpenSSL's own when idle). A connection's queued
// ciphertext is bounded: the sealed form of the shard's one send in flight, plus at most
// kTlsControlOutputMax bytes the peer can cause (KeyUpdate answers, alerts, the session
// ticket). A peer that pushes past it — it asks for answers and does not read them — is cut
// off at once (-EPROTO to the shard), since nothing queued would ever reach it.
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "net/io.h"
#include "net/tls_record_layer.h"

namespace ringcast::net {

// Output a peer can make a connection queue beyond the shard's send (see above). An honest
// peer causes a few hundred bytes (a ticket, a KeyUpdate answer); a KeyUpdate flood answered
// by OpenSSL's record layer (TLS 1.3 with --tls-offload off) reaches it after ~600 requests.
inline constexpr std::size_t kTlsControlOutputMax = 16384;

class TlsIo final : public Io {
 public:
  // `ctx` must outlive this object. Plaintext receive buffers are `plain_buffer_bytes` each.
  // Offloaded connections retire their sending key with a KeyUpdate after `tx_records_per_key`
  // records (at most kTxRecordsPerKey, the RFC 8446 §5.5 margin; tests pass a handful).
  TlsIo(Io& inner, SSL_CTX* ctx, std::uint32_t plain_buffer_bytes,
        std::uint64_t tx_records_per_key = kTxRecordsPerKey);
  ~TlsIo() override;
  TlsIo(const TlsIo&) = delete;
  TlsIo& operator=(const TlsIo&) = delete;

  void accept() override { inner_.accept(); }
  void stop_accepting() override { inner_.stop_accepting(); }
  void recv(std::uint64_t token, std::uint32_t fd) override;
  void release_buffer(std::uint32_t buffer) override;
  void send(std::uint64_t token, std::uint32_t fd, std::span<const iovec> iov) override;
  void shutdown_write(std::uint64_t token, std::uint32_t fd) override;
  void cancel(std::uint64_t token, std::uint32_t fd) override;
  void close(std::uint64_t token, std::uint32_t fd) override;
  Waker& waker() override { return inner_.waker(); }
  std::span<const Completion> wait(int timeout_ms) override;
  std::uint64_t monotonic_ms() const override { return inner_.monotonic_ms(); }
  std::uint64_t unix_ms() const override { return inner_.unix_ms(); }
  std::uint32_t descriptor_capacity() const override { return inner_.descriptor_capacity(); }
  IoStats stats() const override {
    IoStats st = inner_.stats();
    st.tls = &stats_;
    return st;
  }
  const TlsStats* tls_stats() const { return &stats_; }

  // Sessions not yet freed (tests: everything is freed once closes complete).
  std::size_t sessions() const { return by_fd_.size() + zombies_; }

  // Lets connections that negotiate TLS 1.3 (AES-GCM or ChaCha20-Poly1305) leave OpenSSL after
  // the handshake: ringcast's own record layer (net/tls_record.h) takes over with the traffic
  // secrets from the context's key log, and the connection's SSL is freed. Call once per
  // context, before any connection; --tls-offload off skips it.
  static void enable_record_offload(SSL_CTX* ctx);

  struct Session;  // public for the BIO callbacks in tls_io.cc

 private:
  void on_inner(const Completion& c);
  void on_inner_recv(Session& s, const Completion& c);
  void on_inner_send(Session& s, std::int32_t res);
  void on_inner_cancel(Session& s);
  void advance(Session& s);
  int read_openssl(Session& s, char* buf, std::size_t& got);
  // tls_offload.cc: the record layer after the handshake
  void watch_keys(Session& s);
  void try_offload(Session& s, std::size_t out_before);
  int read_records(Session& s, char* buf, std::size_t& got);
  bool seal_plaintext(Session& s, std::span<const iovec> iov);
  void seal_close_notify(Session& s);
  bool answer_key_update(Session& s);
  void fail(Session& s, std::int32_t err);
  void flush(Session& s);
  std::size_t queued_output_max(const Session& s) const;
  void overflow(Session& s);
  void after_drain(Session& s);
  void arm_inner_recv(Session& s);
  void complete(Op op, std::uint64_t token, std::int32_t res, std::uint32_t buffer = 0,
                const char* data = nullptr);
  Session* find(std::uint32_t fd);
  void maybe_free(Session& s);
  std::uint32_t take_plain_buffer();

  Io& inner_;
  SSL_CTX* ctx_;
  std::uint32_t plain_bytes_;
  std::uint64_t tx_records_per_key_;
  std::vector<Session*> sessions_;          // by session index (inner operations' tokens)
  std::vector<std::uint32_t> free_sessions_;
  std::unordered_map<std::uint32_t, std::uint32_t> by_fd_;  // open descriptor -> session index
  std::size_t zombies_ = 0;                 // closed, waiting for their last inner operation
  std::vector<std::unique_ptr<char[]>> plain_;  // plaintext buffers handed to the shard
  std::vector<std::uint32_t> free_plain_;
  std::vector<char> scratch_;               // plaintext coalesced into full TLS records
  EVP_CIPHER_CTX* seal_ctx_;                // offloaded records: one cipher context each way,
  EVP_CIPHER_CTX* open_ctx_;                //   keyed per record, reset (wiped) after it
  std::vector<iovec> record_iov_;           // one record's pieces of a send
  std::vector<Completion> ready_;           // completions for the shard's next wait()
  std::vector<Completion> out_;
  TlsStats stats_;
};

}  // namespace ringcast::net
