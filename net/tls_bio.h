#pragma once
// TLS over memory, the part the server (net/tls_io.cc) and the load generator's client
// (tools/load/tls_client.cc) share: an OpenSSL BIO that never touches a socket, and the steps
// that drive an SSL over it with OpenSSL's answers mapped to what the caller does next.
//
// The BIO's reads take ciphertext the caller handed in and its writes hand ciphertext back to
// the caller; where the bytes come from and go to is the owner's (the server keeps a session's
// unsent bytes in a string it grows; the client writes into a buffer of fixed size). An owner
// type provides
//   std::size_t bio_take(char* out, std::size_t max);   // copy out up to max bytes; 0: none yet
//   bool bio_put(const char* data, std::size_t len);    // all of it, or false: no room
// and memory_bio_method<Owner>() is built once per owner type, so a call through the BIO is a
// direct call into the owner's code (no per-connection function pointer, no indirection the
// server's path did not have). Header-only: ringcast-load takes it without linking net/.
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

namespace ringcast::net {

namespace tls_bio_detail {

template <class Owner>
int read(BIO* bio, char* out, int len) {
  auto* owner = static_cast<Owner*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  const std::size_t n = owner == nullptr ? 0 : owner->bio_take(out, std::size_t(len));
  if (n == 0) {
    // Nothing handed in yet: the read "would block", which is how OpenSSL learns that it
    // must wait for the next receive (SSL_ERROR_WANT_READ).
    BIO_set_retry_read(bio);
    return -1;
  }
  return int(n);
}

template <class Owner>
int write(BIO* bio, const char* data, int len) {
  auto* owner = static_cast<Owner*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  if (owner == nullptr || !owner->bio_put(data, std::size_t(len))) {
    BIO_set_retry_write(bio);  // SSL_ERROR_WANT_WRITE: the owner decides what that means
    return -1;
  }
  return len;
}

// FLUSH: what was written is already the owner's. Everything else (pending bytes, EOF,
// push/pop) has nothing to report for a BIO that keeps no bytes of its own.
inline long ctrl(BIO*, int cmd, long, void*) { return cmd == BIO_CTRL_FLUSH ? 1 : 0; }

inline int create(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

}  // namespace tls_bio_detail

// The BIO method over `Owner`, built once (a function-local static is initialised
// thread-safely) and never freed.
template <class Owner>
const BIO_METHOD* memory_bio_method() {
  static BIO_METHOD* const method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "ringcast-memory");
    if (m == nullptr) std::abort();  // out of memory at the first connection
    BIO_meth_set_read(m, tls_bio_detail::read<Owner>);
    BIO_meth_set_write(m, tls_bio_detail::write<Owner>);
    BIO_meth_set_ctrl(m, tls_bio_detail::ctrl);
    BIO_meth_set_create(m, tls_bio_detail::create);
    return m;
  }();
  return method;
}

// Gives `ssl` one BIO over `owner` both ways (the SSL takes its one reference). False when
// out of memory. The owner may change later with rebind_memory_bio.
template <class Owner>
bool attach_memory_bio(SSL* ssl, Owner* owner) {
  BIO* bio = BIO_new(memory_bio_method<Owner>());
  if (bio == nullptr) return false;
  BIO_set_data(bio, owner);
  SSL_set_bio(ssl, bio, bio);
  return true;
}

template <class Owner>
void rebind_memory_bio(SSL* ssl, Owner* owner) {
  BIO_set_data(SSL_get_rbio(ssl), owner);
}

// Copies up to `max` bytes from the front of `in` to `out` and drops them from `in`: the
// usual body of an owner's bio_take.
inline std::size_t take_front(std::string_view& in, char* out, std::size_t max) {
  const std::size_t n = in.size() < max ? in.size() : max;
  if (n == 0) return 0;
  std::memcpy(out, in.data(), n);
  in.remove_prefix(n);
  return n;
}

// What one step of an SSL over memory came to.
enum class TlsStep : std::uint8_t {
  done,       // the handshake finished, or plaintext was read
  want_read,  // every byte handed in was taken: more ciphertext is needed
  closed,     // the peer's close_notify
  failed,     // fatal: an alert (queued in the output), a bad record, the owner out of room;
              // the thread's OpenSSL error queue says more (tls_error_text)
};

inline TlsStep tls_step_from(SSL* ssl, int rc) {
  switch (SSL_get_error(ssl, rc)) {
    case SSL_ERROR_WANT_READ: return TlsStep::want_read;
    case SSL_ERROR_ZERO_RETURN: return TlsStep::closed;
    // WANT_WRITE: the owner had no room (bio_put refused), which it treats as fatal; SYSCALL
    // and SSL: a protocol failure (no socket is involved). Nothing else can come from a
    // memory BIO with no callbacks that suspend.
    default: return TlsStep::failed;
  }
}

// One SSL_do_handshake. SSL_get_error reads this thread's error queue, so it is emptied first.
inline TlsStep tls_handshake_step(SSL* ssl) {
  ERR_clear_error();
  const int rc = SSL_do_handshake(ssl);
  return rc == 1 ? TlsStep::done : tls_step_from(ssl, rc);
}

// One SSL_read_ex of at most `max` bytes into `out`; `got` is what it read (done).
inline TlsStep tls_read_step(SSL* ssl, char* out, std::size_t max, std::size_t& got) {
  ERR_clear_error();
  got = 0;
  return SSL_read_ex(ssl, out, max, &got) == 1 ? TlsStep::done : tls_step_from(ssl, 0);
}

// OpenSSL's words for a packed error code ("error:0A00010B:SSL routines::wrong version number").
inline std::string tls_error_text(unsigned long err) {
  char text[256] = "no OpenSSL error";
  if (err != 0) ERR_error_string_n(err, text, sizeof text);
  return text;
}

}  // namespace ringcast::net
