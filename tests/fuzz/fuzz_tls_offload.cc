// The offloaded TLS 1.3 connection as a whole (net/tls_record_layer.h): a script of what a
// peer sends (application data, KeyUpdates requested or not, raw bytes of its choosing) and of
// what the server does (seals the shard's plaintext, answers when idle, closes, lets the peer
// read). Checked after every step:
//   - output bound: between two drains the server's output never exceeds the sealed size of
//     the plaintext it was handed (sealed_bytes_max) plus its alerts, whatever the peer sent —
//     however many KeyUpdates it requested, they cost one record;
//   - our key never protects records_per_key records, a KeyUpdate run never passes the bound;
//   - every record the server writes opens with the peer's keys (following our KeyUpdates) and
//     carries exactly the plaintext handed to it, in order.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "net/tls_record_layer.h"

using namespace ringcast::net;

namespace {

constexpr std::uint8_t kKeyUpdateType = 24;
constexpr std::size_t kAlertRecordMax = kKeyUpdateRecordBytes + kRecordHeader + 2 + 1 + kTag;

#define CHECK(cond) \
  do {              \
    if (!(cond)) __builtin_trap(); \
  } while (0)

EVP_CIPHER_CTX* ctx() {
  static EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
  return c;
}

struct Script {
  const std::uint8_t* p;
  std::size_t left;
  std::uint8_t byte() {
    if (left == 0) return 0;
    --left;
    return *p++;
  }
};

struct World {
  Aead aead;
  std::uint64_t per_key;
  TlsOffload server;
  TrafficKeys peer_tx, peer_rx;
  std::string wire;          // peer -> server, not yet opened
  std::string out;           // server -> peer since the last drain
  std::size_t out_max = 0;   // what `out` may hold: the bound under test
  std::string handed;        // plaintext handed to the server's seal, not yet read by the peer
  bool over = false;         // the server ended the connection

  void peer_seals(std::uint8_t type, std::string_view body) {
    const iovec v{const_cast<char*>(body.data()), body.size()};
    CHECK(seal_record(ctx(), aead, peer_tx, type, {&v, 1}, wire));
    if (type == kHandshake && body.size() == 5 && body[0] == char(kKeyUpdateType))
      CHECK(update_traffic_secret(aead, peer_tx));
  }

  // The server reads what arrived, as TlsIo does: the shard takes the plaintext each time.
  void server_reads() {
    static char plain[2 * kMaxCiphertext];
    for (int rounds = 0; rounds < 1 << 16 && !over; ++rounds) {
      std::string_view feed(wire);
      std::size_t got = 0;
      const Opened r = open_records(server, ctx(), feed, plain, sizeof plain, got);
      CHECK(got <= sizeof plain);
      const std::size_t used = wire.size() - feed.size();
      wire.erase(0, used);
      CHECK(server.key_updates_in_a_row <= kKeyUpdatesInARowMax);
      if (r == Opened::failed || r == Opened::close_notify) return end_connection(r);
      if (used == 0) return;  // an incomplete record: wait for more
    }
  }

  void end_connection(Opened r) {
    over = true;
    if (r == Opened::failed && server.alert != 0) {
      CHECK(seal_alert(server, ctx(), per_key, 2, server.alert, out));
      out_max += kAlertRecordMax;
    }
    check_bounds();
  }

  void server_seals(std::size_t n, std::uint8_t fill) {
    std::string text(n, char(fill));
    for (std::size_t i = 0; i < n; i += 97) text[i] = char(i);
    // Two pieces, as the shard hands a send (head and chunk).
    const iovec pieces[2] = {{text.data(), n / 3}, {text.data() + n / 3, n - n / 3}};
    static std::vector<iovec> scratch;
    CHECK(seal_records(server, ctx(), per_key, pieces, scratch, out));
    out_max += sealed_bytes_max(n, per_key);
    handed += text;
    check_bounds();
  }

  void check_bounds() {
    CHECK(out.size() <= out_max);
    CHECK(server.tx.seq < per_key);
  }

  // The peer reads everything the server wrote: it must open, follow our KeyUpdates, and
  // carry exactly what was handed in.
  void drain() {
    static char plain[kMaxCiphertext];
    std::string_view rest(out);
    std::string data;
    while (!rest.empty()) {
      const long n = record_length(rest);
      CHECK(n > 0);
      std::uint8_t type = 0;
      const long got = open_record(ctx(), aead, peer_rx, rest.substr(0, std::size_t(n)), plain, type);
      CHECK(got >= 0);
      rest.remove_prefix(std::size_t(n));
      if (type == kApplicationData) data.append(plain, std::size_t(got));
      if (type != kHandshake) continue;
      CHECK(got == 5 && plain[0] == char(kKeyUpdateType) && plain[4] == 0);  // never requests
      CHECK(update_traffic_secret(aead, peer_rx));
    }
    CHECK(data == handed);
    out.clear();
    handed.clear();
    out_max = 0;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Script in{data, size};
  World w;
  w.aead = Aead(1 + in.byte() % 3);
  const std::uint8_t k = in.byte();
  w.per_key = k < 200 ? 2 + k % 6 : kTxRecordsPerKey;  // tiny keys reach rotation quickly
  std::vector<std::uint8_t> a(w.aead == Aead::aes_256_gcm ? 48 : 32, 0x11);
  std::vector<std::uint8_t> b(a.size(), 0x22);
  w.server.aead = w.aead;
  CHECK(set_traffic_secret(w.aead, a, w.server.rx) && set_traffic_secret(w.aead, a, w.peer_tx));
  CHECK(set_traffic_secret(w.aead, b, w.server.tx) && set_traffic_secret(w.aead, b, w.peer_rx));
  w.server.tx.seq = w.peer_rx.seq = 1;  // the session ticket, sealed by OpenSSL at hand-over
  while (in.left > 0 && !w.over) {
    const std::uint8_t op = in.byte();
    const std::uint8_t arg = in.byte();
    switch (op % 10) {
      case 0: {  // the peer's application data
        std::string body(arg, 'a');
        w.peer_seals(kApplicationData, body);
        break;
      }
      case 1:
      case 2: {  // the peer's KeyUpdates, `arg % 64` of them in a row
        const char m[] = {char(kKeyUpdateType), 0, 0, 1, char(op % 10 == 1)};
        for (int i = 0; i < arg % 64; ++i) w.peer_seals(kHandshake, std::string_view(m, 5));
        break;
      }
      case 3: {  // raw bytes of the peer's choosing
        for (int i = 0; i < arg && in.left > 0; ++i) w.wire.push_back(char(in.byte()));
        break;
      }
      case 4: w.server_reads(); break;
      case 5: w.server_seals(std::size_t(arg) * (in.byte() % 4 == 0 ? 257 : 3), arg); break;
      case 6:  // idle: the owed answer goes out alone, and is read
        CHECK(seal_owed_key_update(w.server, ctx(), w.out));
        w.out_max += kKeyUpdateRecordBytes;
        w.check_bounds();
        w.drain();
        break;
      case 7: w.drain(); break;
      case 8:  // the shard closes: close_notify
        CHECK(seal_alert(w.server, ctx(), w.per_key, 1, 0, w.out));
        w.out_max += kAlertRecordMax;
        w.over = true;
        w.check_bounds();
        break;
      case 9: {  // an authentic record with any inner type and content: alerts, a malformed
                 // KeyUpdate, another handshake message, an empty record...
        std::string body;
        for (int i = 0, n = in.byte() % 9; i < n && in.left > 0; ++i) body.push_back(char(in.byte()));
        w.peer_seals(arg, body);
        break;
      }
    }
  }
  w.server_reads();
  w.drain();
  return 0;
}
