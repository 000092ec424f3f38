// The TLS layer's second half: after a TLS 1.3 handshake, ringcast's own record layer
// (net/tls_record.h) replaces OpenSSL's and the connection's SSL is freed. OpenSSL hands over
// the traffic secrets through its key log callback (the same lines SSLKEYLOGFILE gets); they
// never leave the process.
#include <cstring>

#include "base/assert.h"
#include "base/log.h"
#include "net/tls_session.h"

namespace ringcast::net {

namespace {

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
    delete s.offload;  // wipes the secrets (~TrafficKeys)
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
// is full), 1 (close_notify) or -1 (a record refused: its alert is queued).
int TlsIo::read_records(Session& s, char* buf, std::size_t& got) {
  TlsOffload& o = *s.offload;
  std::string_view feed(s.feed, s.feed_len);
  const Opened end = open_records(o, open_ctx_, feed, buf, plain_bytes_, got);
  s.feed = feed.data();
  s.feed_len = std::uint32_t(feed.size());
  if (end == Opened::more) return 0;
  if (end == Opened::close_notify) return 1;
  if (o.alert != 0) {
    if (s.out == nullptr) s.out = new std::string();
    if (!seal_alert(o, seal_ctx_, tx_records_per_key_, 2, o.alert, *s.out))
      log_event(LogLevel::debug, "tls_alert_failed", "%s", "");
  }
  return -1;
}

// A KeyUpdate the peer requested goes out as soon as nothing is in flight; while something is,
// it stays owed (one, however many the peer asks for) and precedes our next record.
bool TlsIo::answer_key_update(Session& s) {
  if (!(s.flags & tls_flag::offloaded) || s.fatal != 0 || !s.offload->key_update_owed)
    return true;
  if (s.out == nullptr) s.out = new std::string();
  return seal_owed_key_update(*s.offload, seal_ctx_, *s.out);
}

// Protects the shard's plaintext into records of at most 16 KiB (one per send for typical
// events), reading the pieces in place: no copy before the cipher.
bool TlsIo::seal_plaintext(Session& s, std::span<const iovec> iov) {
  if (s.out == nullptr) s.out = new std::string();
  return seal_records(*s.offload, seal_ctx_, tx_records_per_key_, iov, record_iov_, *s.out);
}

void TlsIo::seal_close_notify(Session& s) {
  if (s.out == nullptr) s.out = new std::string();
  if (!seal_alert(*s.offload, seal_ctx_, tx_records_per_key_, 1, 0, *s.out))
    log_event(LogLevel::debug, "tls_close_notify_failed", "%s", "");
}

}  // namespace ringcast::net
