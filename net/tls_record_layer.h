#pragma once
// The offloaded TLS 1.3 connection (RFC 8446 §4.6.3, §5) as a state machine: records in,
// plaintext out; plaintext in, records out; the peer's KeyUpdates followed and answered, our
// own sent before a key wears out. Pure: no IO, no SSL. TlsIo drives it for a connection
// (net/tls_offload.cc); tests/fuzz/fuzz_tls_offload.cc drives it with a stranger's records.
//
// Bounds, whatever the peer sends:
//   - at most one KeyUpdate is ever owed to the peer. However many it requests while we are
//     busy, one answer goes out, before our next record (§4.6.3: "an implementation which
//     receives multiple KeyUpdates while it is silent [responds] with a single update");
//   - more than kKeyUpdatesInARowMax KeyUpdates with no application data between them end the
//     connection (unexpected_message);
//   - each of our traffic keys protects at most `records_per_key` records, the last of them
//     the KeyUpdate that retires it: §5.5's AEAD limits are never reached and the sequence
//     number never wraps;
//   - sealing `n` plaintext bytes appends at most sealed_bytes_max(n, records_per_key) bytes.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "net/tls_record.h"

namespace ringcast::net {

// KeyUpdates the peer may send in a row with no application data between them. An honest
// peer updates once in a long while (after gigabytes). BoringSSL uses the same bound (its
// kMaxKeyUpdates, unexpected_message on the 33rd); OpenSSL 3.0 has none.
inline constexpr std::uint32_t kKeyUpdatesInARowMax = 32;

// Records our traffic key protects before we retire it with a KeyUpdate (update_not_requested).
// RFC 8446 §5.5 limits an AES-GCM key to 2^24.5 full-size records; 2^24 keeps a margin and
// serves ChaCha20-Poly1305 too (whose limit is far higher: rotating early costs one record).
inline constexpr std::uint64_t kTxRecordsPerKey = std::uint64_t(1) << 24;

// A KeyUpdate record: header, the message (type, 24-bit length, request_update), inner type, tag.
inline constexpr std::size_t kKeyUpdateRecordBytes = kRecordHeader + 5 + 1 + kTag;

// Alert descriptions (RFC 8446 §6.2) the record layer sends when it ends a connection.
inline constexpr std::uint8_t kAlertUnexpectedMessage = 10;
inline constexpr std::uint8_t kAlertBadRecordMac = 20;
inline constexpr std::uint8_t kAlertDecodeError = 50;

// One connection's record layer: its keys (filled from OpenSSL's key log during the
// handshake) and the KeyUpdate state. ~220 bytes; the keys are wiped when it goes.
struct TlsOffload {
  Aead aead = Aead::none;
  bool have_rx = false;                   // the client's application traffic secret arrived
  bool have_tx = false;                   // the server's
  bool key_update_owed = false;           // the peer requested one; not yet sent
  std::uint8_t key_updates_in_a_row = 0;  // since the peer's last application data
  std::uint8_t alert = 0;                 // after a refused record: the alert to send (0: none)
  TrafficKeys rx;                         // client -> server
  TrafficKeys tx;                         // server -> client
};

enum class Opened : std::uint8_t {
  more,          // every whole record is open (or `plain` is full): feed more
  close_notify,  // the peer closed cleanly
  failed,        // the connection is over; `alert` says what to tell the peer
};

// Opens the whole records at the front of `feed` into `plain` + `got` (room for `room` bytes in
// all, at least kMaxCiphertext), consuming them from `feed` and counting their plaintext in
// `got`. Stops before a record that might not fit.
Opened open_records(TlsOffload& o, EVP_CIPHER_CTX* ctx, std::string_view& feed, char* plain,
                    std::size_t room, std::size_t& got);

// Appends `iov` to `out` as records of at most 16 KiB (the pieces read in place; `pieces` is
// scratch), each preceded by our KeyUpdate when one is owed or the key has done its share.
bool seal_records(TlsOffload& o, EVP_CIPHER_CTX* ctx, std::uint64_t records_per_key,
                  std::span<const iovec> iov, std::vector<iovec>& pieces, std::string& out);

// Appends an alert (level 1 warning, 2 fatal) under the same rule.
bool seal_alert(TlsOffload& o, EVP_CIPHER_CTX* ctx, std::uint64_t records_per_key,
                std::uint8_t level, std::uint8_t description, std::string& out);

// Appends the KeyUpdate owed to the peer, if one is: for a connection with nothing else to
// send, so the peer's request is answered without waiting for our next record.
bool seal_owed_key_update(TlsOffload& o, EVP_CIPHER_CTX* ctx, std::string& out);

// The most bytes seal_records appends for `plain` bytes: 22 per record of 16 KiB and one
// KeyUpdate record before the first and after every `records_per_key - 1` records.
std::size_t sealed_bytes_max(std::size_t plain, std::uint64_t records_per_key);

}  // namespace ringcast::net
