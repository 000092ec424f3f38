// The TLS layer's second half: after a TLS 1.3 handshake, ringcast's own record layer
// (net/tls_record.h) replaces OpenSSL's and the connection's SSL is freed. OpenSSL hands over
// the traffic secrets through its key log callback (the same lines SSLKEYLOGFILE gets); they
// never leave the process.
#include <cstring>

#include "core/assert.h"
#include "core/log.h"
#include "net/tls_session.h"

namespace ringcast::net {

namespace {

constexpr std::uint8_t kKeyUpdate = 24;  // handshake message type (RFC 8446 §4.6.3)

int session_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// "<LABEL> <client random> <secret>" -> the secret's bytes, if it is one we use.
void keylog(const SSL* ssl, const char* line) {
  auto* s = static_cast<TlsIo::Session*>(SSL_get_ex_data(ssl, session_index()));
  if (s == nullptr || s->offload == nullptr) return;
  const std::string_view text(line);
  const std::size_t first = text.find(' ');
  const std::size_t second = text.find(' ', first + 1);
  if (first == std::string_view::npos || second == std::string_view::npos) return;
  const std::string_view label = text.substr(0, first);
  const std::string_view hex = text.substr(second + 1);
  TrafficKeys* keys = nullptr;
  bool* have = nullptr;
  if (label == "CLIENT_TRAFFIC_SECRET_0") {
    keys = &s->offload->rx;
    have = &s->offload->have_rx;
  } else if (label == "SERVER_TRAFFIC_SECRET_0") {
    keys = &s->offload->tx;
    have = &s->offload->have_tx;
  } else {
    return;
  }
  if (hex.size() % 2 != 0 || hex.size() / 2 > sizeof keys->secret) return;
  for (std::size_t i = 0; i < hex.size() / 2; ++i) {
    const int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return;
    keys->secret[i] = std::uint8_t(hi * 16 + lo);
  }
  keys->secret_len = std::uint8_t(hex.size() / 2);
  *have = true;
}

}  // namespace

void TlsIo::enable_record_offload(SSL_CTX* ctx) {
  session_index();  // allocated before any shard thread runs
  SSL_CTX_set_keylog_callback(ctx, keylog);
}

void TlsIo::watch_keys(Session& s) {
  if (SSL_CTX_get_keylog_callback(ctx_) != keylog) return;
  s.offload = new TlsOffload();
  SSL_set_ex_data(s.ssl, session_index(), &s);
}

// The handshake just finished. If the connection speaks TLS 1.3 with a suite the record layer
// knows, take the keys and let the SSL go. `out_before` is where the last handshake call's
// output starts in `out`: the records written in that call (the session tickets) were already
// protected with the server's application key, so they count towards its sequence number.
void TlsIo::try_offload(Session& s, std::size_t out_before) {
  TlsOffload& o = *s.offload;
  const SSL_CIPHER* suite = SSL_get_current_cipher(s.ssl);
  o.aead = SSL_version(s.ssl) == TLS1_3_VERSION && suite != nullptr
               ? aead_for_suite(SSL_CIPHER_get_id(suite))
               : Aead::none;
  bool ok = o.aead != Aead::none && o.have_rx && o.have_tx;
  if (ok) {
    std::uint8_t secret[48];
    std::memcpy(secret, o.rx.secret, o.rx.secret_len);
    ok = set_traffic_secret(o.aead, {secret, o.rx.secret_len}, o.rx);
    std::memcpy(secret, o.tx.secret, o.tx.secret_len);
    ok = ok && set_traffic_secret(o.aead, {secret, o.tx.secret_len}, o.tx);
    OPENSSL_cleanse(secret, sizeof secret);
  }
  if (!ok) {  // TLS 1.2, or an unknown suite: OpenSSL keeps the connection
    OPENSSL_cleanse(s.offload, sizeof *s.offload);
    delete s.offload;
    s.offload = nullptr;
    return;
  }
  std::uint64_t records = 0;
  if (s.out != nullptr) {
    std::string_view written(*s.out);
    written.remove_prefix(out_before);
    while (written.size() >= kRecordHeader) {
      const auto* p = reinterpret_cast<const std::uint8_t*>(written.data());
      const std::size_t len = kRecordHeader + ((std::size_t(p[3]) << 8) | p[4]);
      RC_ASSERT(len <= written.size());  // OpenSSL writes whole records
      written.remove_prefix(len);
      ++records;
    }
    RC_ASSERT(written.empty());
  }
  o.tx.seq = records;
  o.rx.seq = 0;  // OpenSSL read no record past the client's Finished
  SSL_free(s.ssl);
  s.ssl = nullptr;
  s.flags |= tls_flag::offloaded;
  ++stats_.offloaded;
}

// Opens the whole records in the feed into `buf`. Returns 0 (more ciphertext needed, or `buf`
// is full), 1 (close_notify) or -1 (a record failed, or a message the server does not take).
int TlsIo::read_records(Session& s, char* buf, std::size_t& got) {
  TlsOffload& o = *s.offload;
  for (;;) {
    const std::string_view avail(s.feed, s.feed_len);
    const long length = record_length(avail);
    if (length < 0) return -1;
    if (length == 0 || got + kMaxCiphertext > plain_bytes_) return 0;
    std::uint8_t type = 0;
    const long n = open_record(open_ctx_, o.aead, o.rx, avail.substr(0, std::size_t(length)),
                               buf + got, type);
    if (n < 0) return -1;
    s.feed += length;
    s.feed_len -= std::uint32_t(length);
    if (type == kApplicationData) {
      got += std::size_t(n);
      continue;
    }
    if (type == kAlert) return n == 2 && buf[got + 1] == 0 ? 1 : -1;  // close_notify, or fatal
    if (type != kHandshake) return -1;
    // Post-handshake messages: only KeyUpdate is the server's business (no client tickets,
    // no renegotiation in TLS 1.3); one message per record is all a client ever sends.
    const auto* m = reinterpret_cast<const std::uint8_t*>(buf + got);
    if (n != 5 || m[0] != kKeyUpdate || m[1] != 0 || m[2] != 0 || m[3] != 1 || m[4] > 1)
      return -1;
    if (!update_traffic_secret(o.aead, o.rx)) return -1;
    if (m[4] == 1) {  // update_requested: answer with ours (not requesting), then switch
      static const char kUpdateNotRequested[] = {char(kKeyUpdate), 0, 0, 1, 0};
      const iovec v{const_cast<char*>(kUpdateNotRequested), sizeof kUpdateNotRequested};
      if (s.out == nullptr) s.out = new std::string();
      if (!seal_record(seal_ctx_, o.aead, o.tx, kHandshake, {&v, 1}, *s.out)) return -1;
      if (!update_traffic_secret(o.aead, o.tx)) return -1;
    }
  }
}

// Protects the shard's plaintext into records of at most 16 KiB (one per send for typical
// events), reading the pieces in place: no copy before the cipher.
bool TlsIo::seal_plaintext(Session& s, std::span<const iovec> iov) {
  TlsOffload& o = *s.offload;
  if (s.out == nullptr) s.out = new std::string();
  record_iov_.clear();
  std::size_t in_record = 0;
  for (const iovec& v : iov) {
    const char* p = static_cast<const char*>(v.iov_base);
    std::size_t left = v.iov_len;
    while (left > 0) {
      const std::size_t take = std::min(left, kMaxPlaintext - in_record);
      record_iov_.push_back({const_cast<char*>(p), take});
      in_record += take;
      p += take;
      left -= take;
      if (in_record == kMaxPlaintext) {
        if (!seal_record(seal_ctx_, o.aead, o.tx, kApplicationData, record_iov_, *s.out))
          return false;
        record_iov_.clear();
        in_record = 0;
      }
    }
  }
  return in_record == 0 ||
         seal_record(seal_ctx_, o.aead, o.tx, kApplicationData, record_iov_, *s.out);
}

void TlsIo::seal_close_notify(Session& s) {
  static const char kCloseNotify[] = {1, 0};  // warning, close_notify
  const iovec v{const_cast<char*>(kCloseNotify), sizeof kCloseNotify};
  if (s.out == nullptr) s.out = new std::string();
  if (!seal_record(seal_ctx_, s.offload->aead, s.offload->tx, kAlert, {&v, 1}, *s.out))
    log_event(LogLevel::debug, "tls_close_notify_failed", "%s", "");
}

}  // namespace ringcast::net
