#pragma once
// The load generator's TLS client, with no IO of its own: ciphertext that arrived is handed in
// as bytes, ciphertext to send comes out into a buffer the caller owns (and keeps until its
// send completes), plaintext comes out a piece at a time. The worker moves the ciphertext
// through its io_uring receives and sends; the unit tests move it to an in-process server.
//
// One SSL per connection (8 bytes in the caller's record, plus OpenSSL's own state), over one
// custom BIO whose reads take from the bytes handed in and whose writes append to the
// caller's buffer: no per-connection BIO buffer exists, and with SSL_MODE_RELEASE_BUFFERS the
// SSL holds no record buffer while idle either.
#include <openssl/ssl.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "net/tls_bio.h"

namespace ringcast::load {

struct TlsConfig {
  bool verify = true;       // false: --tls-insecure (no certificate check at all)
  std::string ca_file;      // --tls-ca: the trust anchors when verify
  std::string sni;          // --tls-sni: server name sent, and checked in the certificate
  std::string verify_ip;    // without --tls-sni: the target's address, checked in the certificate
  bool resume = false;      // --tls-resume: offer a session (ticket) kept from an earlier handshake
};

// The process-wide SSL_CTX (shared by every worker thread; OpenSSL makes SSL_new from one
// context thread-safe).
class TlsContext {
 public:
  TlsContext() = default;
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // Returns an empty string, or what failed (an unreadable CA file, ...).
  std::string init(const TlsConfig& config);
  SSL_CTX* ctx() const { return ctx_; }
  const TlsConfig& config() const { return config_; }

 private:
  SSL_CTX* ctx_ = nullptr;
  TlsConfig config_;
};

// Why a connection failed, for the report's error_kinds.
enum class TlsFailure : std::uint8_t {
  none,
  verify,       // the server's certificate did not verify (chain, name or address)
  handshake,    // any other handshake failure (an alert, no shared version or cipher, ...)
  record,       // after the handshake: a bad record, an alert, an unexpected message
  output_full,  // OpenSSL had more to send than the caller's buffer holds
};
const char* tls_failure_name(TlsFailure f);

// One thread's IO window into its connections' SSLs: valid only during a call on one of
// them. `in` is consumed as OpenSSL reads it; writes append at out[out_len], up to out_cap.
struct TlsIo {
  static constexpr std::size_t kPlainBytes = 16384;  // one TLS record's plaintext at most

  std::string_view in;
  char* out = nullptr;
  std::uint32_t out_cap = 0;
  std::uint32_t out_len = 0;
  bool out_full = false;  // a write did not fit: the connection cannot continue
  TlsFailure failure = TlsFailure::none;  // why the last `failed` happened
  std::string first_error;  // OpenSSL's words for this thread's first failure (one note)
  // The newest session a handshake of this thread produced (--tls-resume), owned here.
  SSL_SESSION* newest_session = nullptr;
  char plain[kPlainBytes];

  TlsIo() = default;
  ~TlsIo();
  TlsIo(const TlsIo&) = delete;
  TlsIo& operator=(const TlsIo&) = delete;

  // The two ends of the connections' memory BIO (net/tls_bio.h): reads take from `in`,
  // writes append at out[out_len].
  std::size_t bio_take(char* to, std::size_t max) { return net::take_front(in, to, max); }
  bool bio_put(const char* data, std::size_t len);

  void set_out(char* buffer, std::uint32_t cap, std::uint32_t len) {
    out = buffer;
    out_cap = cap;
    out_len = len;
    out_full = false;
  }
};

enum class TlsStatus : std::uint8_t {
  need_more,       // every byte handed in was taken; nothing more until more arrive
  handshake_done,  // the handshake has just completed (reported once)
  plaintext,       // `plain` holds application bytes
  closed,          // the server sent close_notify
  failed,          // io.failure says why
};


class TlsConn {
 public:
  TlsConn() = default;
  ~TlsConn() { reset(); }
  TlsConn(TlsConn&& o) noexcept : ssl_(o.ssl_) { o.ssl_ = nullptr; }
  TlsConn& operator=(TlsConn&& o) noexcept;
  TlsConn(const TlsConn&) = delete;
  TlsConn& operator=(const TlsConn&) = delete;

  // A fresh client connection: writes the ClientHello into io's out buffer. With `session`
  // (not owned) it offers that session for resumption. False when OpenSSL could not make
  // the connection (out of memory) or the hello did not fit.
  // `h2`: offer ALPN "h2" alone (--h2 connections) instead of the context's "http/1.1".
  bool start(const TlsContext& ctx, TlsIo& io, SSL_SESSION* session, bool h2 = false);
  // Takes io.in, drives the handshake and then the reads; writes what the protocol needs into
  // io's out buffer. Call until need_more (which also means io.in is empty), closed or failed
  // (io.failure says why).
  // On plaintext, `plain` points into io.plain until the next call.
  TlsStatus step(TlsIo& io, std::string_view& plain);
  // Encrypts `plain` into io's out buffer. False when it did not fit (or the connection is
  // not established).
  bool write(TlsIo& io, std::string_view plain);

  bool active() const { return ssl_ != nullptr; }
  bool established() const { return ssl_ != nullptr && SSL_is_init_finished(ssl_); }
  bool resumed() const { return ssl_ != nullptr && SSL_session_reused(ssl_) == 1; }
  // The negotiated version ("TLSv1.3") and ALPN protocol, for tests and the start-up line.
  std::string_view version() const;
  std::string_view alpn() const;
  // Frees the SSL (no close_notify is sent: the caller closes the socket).
  void reset();

 private:
  void bind(TlsIo& io);
  TlsStatus fail(TlsIo& io, bool established);

  SSL* ssl_ = nullptr;
};
static_assert(sizeof(TlsConn) == sizeof(void*), "a connection's TLS handle is one pointer");

}  // namespace ringcast::load
