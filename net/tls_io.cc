#include "net/tls_io.h"
#include "net/tls_bio.h"
#include "net/tls_session.h"

#include <openssl/bio.h>
#include <openssl/err.h>

#include <cerrno>
#include <cstring>

#include "base/assert.h"
#include "base/log.h"

namespace ringcast::net {

namespace {

// Inner operations this layer starts carry the session index under this tag; the shard's own
// tokens (record index, generation) stay below it.
constexpr std::uint64_t kTokenTag = std::uint64_t(1) << kTokenBits;
// Plaintext buffers handed to the shard are told apart from the backend's by this bit.
constexpr std::uint32_t kPlainBuffer = 1u << 31;
// Plaintext gathered into one TLS record per SSL_write (the largest record TLS allows).
constexpr std::size_t kRecord = 16384;

// What a client that speaks plain HTTP to the TLS port gets before the close.
constexpr std::string_view kPlainHttpAnswer =
    "HTTP/1.1 400 Bad Request\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 37\r\n"
    "Connection: close\r\n"
    "\r\n"
    "This port speaks HTTPS, not HTTP/1.1\n";


}  // namespace


namespace {

bool is_plain_http(unsigned long err) {
  return ERR_GET_LIB(err) == ERR_LIB_SSL &&
         (ERR_GET_REASON(err) == SSL_R_HTTP_REQUEST || ERR_GET_REASON(err) == SSL_R_HTTPS_PROXY_REQUEST);
}

}  // namespace

TlsIo::TlsIo(Io& inner, SSL_CTX* ctx, std::uint32_t plain_buffer_bytes,
             std::uint64_t tx_records_per_key)
    : inner_(inner),
      ctx_(ctx),
      // Room for a whole record's plaintext: the offloaded record layer opens one at a time.
      plain_bytes_(std::max<std::uint32_t>(plain_buffer_bytes, kMaxCiphertext)),
      tx_records_per_key_(tx_records_per_key),
      scratch_(kRecord),
      seal_ctx_(EVP_CIPHER_CTX_new()),
      open_ctx_(EVP_CIPHER_CTX_new()) {
  RC_ASSERT(seal_ctx_ != nullptr && open_ctx_ != nullptr);
  // Two records at least (one of them the KeyUpdate); more than the §5.5 margin never.
  RC_ASSERT(tx_records_per_key >= 2 && tx_records_per_key <= kTxRecordsPerKey);
}

TlsIo::~TlsIo() {
  for (Session* s : sessions_) {
    if (s == nullptr) continue;
    SSL_free(s->ssl);
    delete s->sending;
    delete s->out;
    delete s->in;
    delete s->offload;  // wipes the keys (~TrafficKeys)
    delete s;
  }
  EVP_CIPHER_CTX_free(seal_ctx_);
  EVP_CIPHER_CTX_free(open_ctx_);
}

TlsIo::Session* TlsIo::find(std::uint32_t fd) {
  auto it = by_fd_.find(fd);
  return it == by_fd_.end() ? nullptr : sessions_[it->second];
}

void TlsIo::complete(Op op, std::uint64_t token, std::int32_t res, std::uint32_t buffer,
                     const char* data) {
  Completion c;
  c.op = op;
  c.token = token;
  c.res = res;
  c.buffer = buffer;
  c.data = data;
  ready_.push_back(c);
}

std::uint32_t TlsIo::take_plain_buffer() {
  if (free_plain_.empty()) {
    free_plain_.push_back(std::uint32_t(plain_.size()));
    plain_.emplace_back(new char[plain_bytes_]);
  }
  const std::uint32_t id = free_plain_.back();
  free_plain_.pop_back();
  return id;
}

void TlsIo::release_buffer(std::uint32_t buffer) {
  if (!(buffer & kPlainBuffer)) return inner_.release_buffer(buffer);
  const std::uint32_t id = buffer & ~kPlainBuffer;
  RC_ASSERT(id < plain_.size());
  free_plain_.push_back(id);
}

void TlsIo::recv(std::uint64_t token, std::uint32_t fd) {
  RC_ASSERT(!(token & kTokenTag));
  Session* s = find(fd);
  RC_ASSERT(s != nullptr);
  RC_ASSERT(!(s->flags & tls_flag::want_recv));
  s->flags |= tls_flag::want_recv;
  s->recv_token = token;
  if (s->fatal != 0 && !(s->flags & tls_flag::inner_send)) {
    s->flags &= ~tls_flag::want_recv;
    return complete(Op::recv, token, s->fatal);
  }
  if (s->flags & tls_flag::eof) {
    s->flags &= ~tls_flag::want_recv;
    return complete(Op::recv, token, 0);
  }
  // Plaintext OpenSSL already holds, or ciphertext it has not consumed: no need to wait.
  if (s->in != nullptr || (s->ssl != nullptr && SSL_has_pending(s->ssl))) return advance(*s);
  arm_inner_recv(*s);
}

void TlsIo::arm_inner_recv(Session& s) {
  if (s.flags & tls_flag::inner_recv) return;
  s.flags |= tls_flag::inner_recv;
  inner_.recv(kTokenTag | s.index, s.fd);
}

void TlsIo::send(std::uint64_t token, std::uint32_t fd, std::span<const iovec> iov) {
  Session* s = find(fd);
  RC_ASSERT(s != nullptr);
  RC_ASSERT(!(s->flags & tls_flag::want_send));
  std::size_t total = 0;
  for (const iovec& v : iov) total += v.iov_len;
  RC_ASSERT(total <= 0x7fffffff);
  if (s->fatal != 0 || !(s->flags & tls_flag::handshake_done))
    return complete(Op::send, token, s->fatal != 0 ? s->fatal : -EPIPE);
  s->flags |= tls_flag::want_send;
  s->send_token = token;
  s->send_plain = std::uint32_t(total);
  if (s->flags & tls_flag::offloaded) {
    if (!seal_plaintext(*s, iov)) return fail(*s, -EPROTO);
    return flush(*s);
  }
  // Gather the pieces (events are often small) into full records: one record per 16 KiB,
  // not one per event. The memcpy is cheap beside the cipher.
  std::size_t used = 0;
  auto write_out = [&](const char* data, std::size_t len) {
    std::size_t written = 0;
    ERR_clear_error();
    if (SSL_write_ex(s->ssl, data, len, &written) != 1 || written != len) {
      fail(*s, -EPROTO);
      return false;
    }
    return true;
  };
  for (const iovec& v : iov) {
    const char* p = static_cast<const char*>(v.iov_base);
    std::size_t left = v.iov_len;
    while (left > 0) {
      const std::size_t n = std::min(left, kRecord - used);
      std::memcpy(scratch_.data() + used, p, n);
      used += n;
      p += n;
      left -= n;
      if (used == kRecord) {
        if (!write_out(scratch_.data(), used)) return;
        used = 0;
      }
    }
  }
  if (used > 0 && !write_out(scratch_.data(), used)) return;
  flush(*s);
}

void TlsIo::shutdown_write(std::uint64_t token, std::uint32_t fd) {
  Session* s = find(fd);
  RC_ASSERT(s != nullptr);
  s->flags |= tls_flag::want_shutdown;
  s->shutdown_token = token;
  if (s->fatal == 0 && (s->flags & tls_flag::offloaded)) {
    seal_close_notify(*s);
  } else if (s->fatal == 0 && (s->flags & tls_flag::handshake_done)) {
    ERR_clear_error();
    SSL_shutdown(s->ssl);  // queues close_notify; we do not wait for the peer's
  }
  flush(*s);
  if (!(s->flags & tls_flag::inner_send)) after_drain(*s);
}

void TlsIo::cancel(std::uint64_t token, std::uint32_t fd) {
  Session* s = find(fd);
  RC_ASSERT(s != nullptr);
  inner_.cancel(token, fd);
  // The shard's operations complete through the inner ones being cancelled; one that waits on
  // nothing in flight (a recv parked behind a failure's alert, say) completes here.
  if ((s->flags & tls_flag::want_recv) && !(s->flags & tls_flag::inner_recv) &&
      !(s->flags & tls_flag::inner_send)) {
    s->flags &= ~tls_flag::want_recv;
    complete(Op::recv, s->recv_token, -ECANCELED);
  }
}

void TlsIo::close(std::uint64_t token, std::uint32_t fd) {
  auto it = by_fd_.find(fd);
  RC_ASSERT(it != by_fd_.end());
  Session& s = *sessions_[it->second];
  by_fd_.erase(it);
  ++zombies_;
  RC_ASSERT(!(s.flags & (tls_flag::want_recv | tls_flag::want_send)));  // the shard waited for them
  s.flags |= tls_flag::closed;
  --stats_.sessions;
  if (s.flags & (tls_flag::inner_recv | tls_flag::inner_send)) {
    // Our own operations are still out (an answer to a KeyUpdate, an alert to a peer that does
    // not read): the shard had nothing in flight, so it did not cancel. A backend closes only
    // a descriptor with nothing on it (and io_uring must not cancel by a slot that a close has
    // already given to another connection): cancel first, close once the cancel has completed.
    s.flags |= tls_flag::inner_cancel | tls_flag::close_deferred;
    s.close_token = token;
    return inner_.cancel(kTokenTag | s.index, fd);
  }
  inner_.close(token, fd);
  maybe_free(s);
}

void TlsIo::on_inner_cancel(Session& s) {
  RC_ASSERT(s.flags & tls_flag::inner_cancel);
  s.flags &= ~tls_flag::inner_cancel;
  if (s.flags & tls_flag::close_deferred) {
    s.flags &= ~tls_flag::close_deferred;
    inner_.close(s.close_token, s.fd);
  }
  maybe_free(s);
}

void TlsIo::maybe_free(Session& s) {
  constexpr std::uint16_t busy = tls_flag::inner_recv | tls_flag::inner_send |
                                 tls_flag::inner_cancel | tls_flag::close_deferred;
  if (!(s.flags & tls_flag::closed) || (s.flags & busy)) return;
  SSL_free(s.ssl);
  delete s.sending;
  delete s.out;
  delete s.in;
  delete s.offload;  // wipes the keys (~TrafficKeys)
  sessions_[s.index] = nullptr;
  free_sessions_.push_back(s.index);
  --zombies_;
  delete &s;
}

std::span<const Completion> TlsIo::wait(int timeout_ms) {
  std::span<const Completion> batch = inner_.wait(ready_.empty() ? timeout_ms : 0);
  for (const Completion& c : batch) on_inner(c);
  out_.swap(ready_);
  ready_.clear();
  return out_;
}

void TlsIo::on_inner(const Completion& c) {
  if (!(c.token & kTokenTag)) {
    if (c.op == Op::accept && c.res >= 0) {
      // A new connection: its TLS session starts in the server role, waiting for a hello.
      std::uint32_t index;
      if (!free_sessions_.empty()) {
        index = free_sessions_.back();
        free_sessions_.pop_back();
      } else {
        index = std::uint32_t(sessions_.size());
        sessions_.push_back(nullptr);
      }
      auto* s = new Session();
      s->index = index;
      s->fd = std::uint32_t(c.res);
      s->ssl = SSL_new(ctx_);
      RC_ASSERT(s->ssl != nullptr);  // only fails when out of memory
      // Reads take from the session's feed, writes append to its output (tls_session.h).
      const bool attached = attach_memory_bio(s->ssl, s);
      RC_ASSERT(attached);  // only fails when out of memory
      SSL_set_accept_state(s->ssl);
      watch_keys(*s);  // for the record offload, if the context has it
      sessions_[index] = s;
      RC_ASSERT(by_fd_.emplace(s->fd, index).second);
      ++stats_.sessions;
    }
    return ready_.push_back(c);  // accept, shutdown, cancel, close, doorbells: the shard's own
  }
  const std::uint32_t index = std::uint32_t(c.token & 0xffffffffu);
  RC_ASSERT(index < sessions_.size() && sessions_[index] != nullptr);
  Session& s = *sessions_[index];
  if (c.op == Op::recv) return on_inner_recv(s, c);
  if (c.op == Op::cancel) return on_inner_cancel(s);  // its result (0, -ENOENT...) is no news
  RC_ASSERT(c.op == Op::send);
  on_inner_send(s, c.res);
}

void TlsIo::on_inner_recv(Session& s, const Completion& c) {
  RC_ASSERT(s.flags & tls_flag::inner_recv);
  s.flags &= ~tls_flag::inner_recv;
  if (s.flags & tls_flag::closed) {
    if (c.res > 0) inner_.release_buffer(c.buffer);
    return maybe_free(s);
  }
  RC_ASSERT(s.flags & tls_flag::want_recv);
  if (c.res > 0 && s.fatal != 0) {
    // Cut off (overflow) while this receive was out: nothing more is read from the peer.
    inner_.release_buffer(c.buffer);
    s.flags &= ~tls_flag::want_recv;
    return complete(Op::recv, s.recv_token, s.fatal);
  }
  if (c.res <= 0) {
    // EOF, a reset, -ENOBUFS (the shard retries), -ECANCELED: the shard decides.
    s.flags &= ~tls_flag::want_recv;
    return complete(Op::recv, s.recv_token, c.res);
  }
  if (s.in != nullptr) {
    s.in->append(c.data, std::size_t(c.res));
    inner_.release_buffer(c.buffer);
    return advance(s);
  }
  s.feed = c.data;
  s.feed_len = std::uint32_t(c.res);
  advance(s);
  // Whatever OpenSSL did not take is kept, so the backend's buffer goes back at once.
  if (s.feed_len > 0) s.in = new std::string(s.feed, s.feed_len);
  s.feed = nullptr;
  s.feed_len = 0;
  inner_.release_buffer(c.buffer);
}

// Runs the handshake, then reads plaintext for a waiting shard recv. Completes that recv with
// data, EOF or an error, or arms another inner recv when OpenSSL needs more ciphertext.
void TlsIo::advance(Session& s) {
  const bool from_in = s.feed == nullptr && s.in != nullptr;
  if (from_in) {
    s.feed = s.in->data();
    s.feed_len = std::uint32_t(s.in->size());
  }
  auto consume_in = [&] {
    if (!from_in) return;
    const std::size_t used = s.in->size() - s.feed_len;
    s.in->erase(0, used);
    if (s.in->empty()) {
      delete s.in;
      s.in = nullptr;
    }
    s.feed = nullptr;
    s.feed_len = 0;
  };
  if (!(s.flags & tls_flag::handshake_done)) {
    const std::size_t out_before = s.out != nullptr ? s.out->size() : 0;
    const TlsStep step = tls_handshake_step(s.ssl);
    if (step != TlsStep::done) {
      if (step == TlsStep::want_read) {
        consume_in();
        flush(s);
        return arm_inner_recv(s);
      }
      const unsigned long err = ERR_peek_error();
      if (is_plain_http(err)) {
        ++stats_.plain_http;
        delete s.out;  // the alert would be noise to an HTTP client: answer in its language
        s.out = new std::string(kPlainHttpAnswer);
      } else if (err != 0) {
        log_event(LogLevel::debug, "tls_handshake_failed", "error=%s", quoted(tls_error_text(err)).c_str());
      }
      consume_in();
      return fail(s, step == TlsStep::closed ? 0 : -EPROTO);
    }
    s.flags |= tls_flag::handshake_done;
    ++stats_.handshakes;
    if (SSL_session_reused(s.ssl)) ++stats_.resumed;
    if (s.offload != nullptr) try_offload(s, out_before);
  }
  if (!(s.flags & tls_flag::want_recv)) {  // plaintext waits (in OpenSSL or `in`) until asked
    consume_in();
    return flush(s);
  }
  const std::uint32_t id = take_plain_buffer();
  char* buf = plain_[id].get();
  std::size_t got = 0;
  // 0: want more ciphertext; 1: EOF; -1: failure
  const int end = (s.flags & tls_flag::offloaded) ? read_records(s, buf, got)
                                                  : read_openssl(s, buf, got);
  consume_in();
  if (end == 1) s.flags |= tls_flag::eof;
  if (got > 0) {
    s.flags &= ~tls_flag::want_recv;
    complete(Op::recv, s.recv_token, std::int32_t(got), kPlainBuffer | id, buf);
    if (end == -1) fail(s, -EPROTO);  // reported on the next recv
    return flush(s);
  }
  free_plain_.push_back(id);
  if (end == -1) return fail(s, -EPROTO);
  if (end == 1) {
    s.flags &= ~tls_flag::want_recv;
    complete(Op::recv, s.recv_token, 0);
    return flush(s);
  }
  flush(s);
  arm_inner_recv(s);
}

int TlsIo::read_openssl(Session& s, char* buf, std::size_t& got) {
  while (got < plain_bytes_) {
    std::size_t n = 0;
    switch (tls_read_step(s.ssl, buf + got, plain_bytes_ - got, n)) {
      case TlsStep::done: got += n; break;
      case TlsStep::want_read: return 0;
      case TlsStep::closed: return 1;
      case TlsStep::failed: return -1;
    }
  }
  return 0;
}

// The connection is unusable: what OpenSSL queued (an alert, or the plain-HTTP answer) still
// goes out, then the waiting recv reports `err` (0 = EOF).
void TlsIo::fail(Session& s, std::int32_t err) {
  if (s.fatal == 0) ++stats_.failures;
  s.fatal = err != 0 ? err : -ECONNRESET;
  if (err == 0) s.flags |= tls_flag::eof;
  flush(s);
  if (!(s.flags & tls_flag::inner_send)) after_drain(s);
}

void TlsIo::flush(Session& s) {
  if (s.out != nullptr && (s.flags & tls_flag::handshake_done) &&
      s.out->size() > queued_output_max(s))
    return overflow(s);
  if (s.flags & tls_flag::inner_send) return;
  if (!answer_key_update(s)) return fail(s, -EPROTO);
  if (s.out == nullptr) return;
  RC_ASSERT(s.sending == nullptr);
  s.sending = s.out;
  s.out = nullptr;
  s.sending_off = 0;
  s.flags |= tls_flag::inner_send;
  const iovec v{s.sending->data(), s.sending->size()};
  inner_.send(kTokenTag | s.index, s.fd, std::span<const iovec>(&v, 1));
}

// What `out` may hold while a send is in flight: the shard's send sealed (TLS grows a record by
// at most 256 bytes, RFC 8446 §5.2 — TLS 1.2's suites and our KeyUpdates stay inside that),
// plus what the peer can cause. The handshake's own flights are OpenSSL's and not counted.
std::size_t TlsIo::queued_output_max(const Session& s) const {
  if (!(s.flags & tls_flag::want_send)) return kTlsControlOutputMax;
  const std::size_t records = (std::size_t(s.send_plain) + kRecord - 1) / kRecord;
  return kTlsControlOutputMax + s.send_plain +
         records * (kRecordHeader + kMaxCiphertext - kMaxPlaintext);
}

// The peer made this connection queue more than an honest one can: it asks for answers (say
// KeyUpdates, which OpenSSL's record layer answers one by one) and does not read them. Nothing queued would reach it,
// so the shard hears now instead of behind a send that never completes.
void TlsIo::overflow(Session& s) {
  log_event(LogLevel::debug, "tls_output_overflow", "bytes=%zu", s.out->size());
  delete s.out;
  s.out = nullptr;
  if (s.fatal == 0) ++stats_.failures;
  s.fatal = -EPROTO;
  if (s.flags & tls_flag::want_send) {  // its ciphertext is ours: the shard's bytes are free
    s.flags &= ~tls_flag::want_send;
    complete(Op::send, s.send_token, s.fatal);
  }
  if ((s.flags & tls_flag::want_recv) && !(s.flags & tls_flag::inner_recv)) {
    s.flags &= ~tls_flag::want_recv;
    complete(Op::recv, s.recv_token, s.fatal);
  }
}

void TlsIo::on_inner_send(Session& s, std::int32_t res) {
  RC_ASSERT(s.flags & tls_flag::inner_send);
  s.flags &= ~tls_flag::inner_send;
  if (res > 0) {
    s.sending_off += std::uint32_t(res);
    RC_ASSERT(s.sending_off <= s.sending->size());
    if (s.sending_off < s.sending->size() && !(s.flags & tls_flag::closed)) {
      s.flags |= tls_flag::inner_send;  // a short write: the rest of the same frozen buffer
      const iovec v{s.sending->data() + s.sending_off, s.sending->size() - s.sending_off};
      inner_.send(kTokenTag | s.index, s.fd, std::span<const iovec>(&v, 1));
      return;
    }
  }
  delete s.sending;
  s.sending = nullptr;
  if (s.flags & tls_flag::closed) return maybe_free(s);
  if (res <= 0 && res != -EINTR && res != -EAGAIN) {
    // The socket is gone (or the send was cancelled): nothing queued can be written.
    delete s.out;
    s.out = nullptr;
    if (s.fatal == 0) s.fatal = res < 0 ? res : -EPIPE;
  }
  flush(s);
  if (!(s.flags & tls_flag::inner_send)) after_drain(s);
}

// Nothing in flight: finish what waited on the ciphertext being written.
void TlsIo::after_drain(Session& s) {
  if (s.flags & tls_flag::want_send) {
    s.flags &= ~tls_flag::want_send;
    complete(Op::send, s.send_token, s.fatal != 0 ? s.fatal : std::int32_t(s.send_plain));
  }
  if (s.flags & tls_flag::want_shutdown) {
    s.flags &= ~tls_flag::want_shutdown;
    inner_.shutdown_write(s.shutdown_token, s.fd);
  }
  if (s.fatal != 0 && (s.flags & tls_flag::want_recv) && !(s.flags & tls_flag::inner_recv)) {
    s.flags &= ~tls_flag::want_recv;
    complete(Op::recv, s.recv_token, (s.flags & tls_flag::eof) && s.fatal == -ECONNRESET ? 0 : s.fatal);
  }
}

}  // namespace ringcast::net
