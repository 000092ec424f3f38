#include "net/tls_record_layer.h"

#include <algorithm>

#include "base/assert.h"

namespace ringcast::net {

namespace {

constexpr std::uint8_t kKeyUpdate = 24;  // handshake message type (RFC 8446 §4.6.3)

Opened refuse(TlsOffload& o, std::uint8_t alert) {
  o.alert = alert;
  return Opened::failed;
}

// The peer's post-handshake handshake message `m` (`n` bytes, one per record: a KeyUpdate must
// end its record). Only KeyUpdate is the server's business in TLS 1.3 (no client tickets, no
// renegotiation); false for anything else, or one KeyUpdate too many in a row.
bool take_key_update(TlsOffload& o, const std::uint8_t* m, long n) {
  if (n != 5 || m[0] != kKeyUpdate || m[1] != 0 || m[2] != 0 || m[3] != 1 || m[4] > 1)
    return false;
  if (o.key_updates_in_a_row >= kKeyUpdatesInARowMax) return false;
  ++o.key_updates_in_a_row;
  if (!update_traffic_secret(o.aead, o.rx)) return false;
  if (m[4] == 1) o.key_update_owed = true;  // update_requested: answered once, before our next
  return true;
}

// Our KeyUpdate (never requesting one back: the peer's keys are its business), then our keys
// move to the next generation.
bool seal_key_update(TlsOffload& o, EVP_CIPHER_CTX* ctx, std::string& out) {
  static const char kUpdateNotRequested[] = {char(kKeyUpdate), 0, 0, 1, 0};
  const iovec v{const_cast<char*>(kUpdateNotRequested), sizeof kUpdateNotRequested};
  const std::size_t at = out.size();
  if (!seal_record(ctx, o.aead, o.tx, kHandshake, {&v, 1}, out)) return false;
  if (!update_traffic_secret(o.aead, o.tx)) {
    out.resize(at);  // the peer must not switch keys we did not switch
    return false;
  }
  o.key_update_owed = false;
  return true;
}

// Before each record: the KeyUpdate the peer is owed, or the one that retires a key before it
// protects more than `records_per_key` records (that KeyUpdate being the last of them).
bool before_record(TlsOffload& o, EVP_CIPHER_CTX* ctx, std::uint64_t records_per_key,
                   std::string& out) {
  if (!o.key_update_owed && o.tx.seq + 1 < records_per_key) return true;
  return seal_key_update(o, ctx, out);
}

bool seal_one(TlsOffload& o, EVP_CIPHER_CTX* ctx, std::uint64_t records_per_key,
              std::uint8_t type, std::span<const iovec> iov, std::string& out) {
  return before_record(o, ctx, records_per_key, out) &&
         seal_record(ctx, o.aead, o.tx, type, iov, out);
}

}  // namespace

Opened open_records(TlsOffload& o, EVP_CIPHER_CTX* ctx, std::string_view& feed, char* plain,
                    std::size_t room, std::size_t& got) {
  RC_ASSERT(room >= kMaxCiphertext && got <= room);
  for (;;) {
    const long length = record_length(feed);
    if (length < 0) return refuse(o, kAlertDecodeError);
    if (length == 0 || got + kMaxCiphertext > room) return Opened::more;
    std::uint8_t type = 0;
    const long n =
        open_record(ctx, o.aead, o.rx, feed.substr(0, std::size_t(length)), plain + got, type);
    if (n < 0) return refuse(o, kAlertBadRecordMac);
    feed.remove_prefix(std::size_t(length));
    const auto* m = reinterpret_cast<const std::uint8_t*>(plain + got);
    if (type == kApplicationData) {
      if (n > 0) o.key_updates_in_a_row = 0;  // an empty record is no data: it resets nothing
      got += std::size_t(n);
      continue;
    }
    // close_notify ends the stream cleanly; any other alert is fatal (RFC 8446 §6) and the
    // peer that sent it gets none back.
    if (type == kAlert) return n == 2 && m[1] == 0 ? Opened::close_notify : Opened::failed;
    if (type != kHandshake || !take_key_update(o, m, n))
      return refuse(o, kAlertUnexpectedMessage);
  }
}

bool seal_records(TlsOffload& o, EVP_CIPHER_CTX* ctx, std::uint64_t records_per_key,
                  std::span<const iovec> iov, std::vector<iovec>& pieces, std::string& out) {
  pieces.clear();
  std::size_t in_record = 0;
  for (const iovec& v : iov) {
    const char* p = static_cast<const char*>(v.iov_base);
    std::size_t left = v.iov_len;
    while (left > 0) {
      const std::size_t take = std::min(left, kMaxPlaintext - in_record);
      pieces.push_back({const_cast<char*>(p), take});
      in_record += take;
      p += take;
      left -= take;
      if (in_record == kMaxPlaintext) {
        if (!seal_one(o, ctx, records_per_key, kApplicationData, pieces, out)) return false;
        pieces.clear();
        in_record = 0;
      }
    }
  }
  return in_record == 0 || seal_one(o, ctx, records_per_key, kApplicationData, pieces, out);
}

bool seal_alert(TlsOffload& o, EVP_CIPHER_CTX* ctx, std::uint64_t records_per_key,
                std::uint8_t level, std::uint8_t description, std::string& out) {
  const char alert[] = {char(level), char(description)};
  const iovec v{const_cast<char*>(alert), sizeof alert};
  return seal_one(o, ctx, records_per_key, kAlert, {&v, 1}, out);
}

bool seal_owed_key_update(TlsOffload& o, EVP_CIPHER_CTX* ctx, std::string& out) {
  return !o.key_update_owed || seal_key_update(o, ctx, out);
}

std::size_t sealed_bytes_max(std::size_t plain, std::uint64_t records_per_key) {
  RC_ASSERT(records_per_key >= 2);
  const std::size_t records = (plain + kMaxPlaintext - 1) / kMaxPlaintext;
  const std::size_t key_updates = records == 0 ? 0 : 1 + records / (records_per_key - 1);
  return plain + records * (kRecordHeader + 1 + kTag) + key_updates * kKeyUpdateRecordBytes;
}

}  // namespace ringcast::net
