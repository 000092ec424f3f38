// The offloaded TLS 1.3 record layer's state machine (net/tls_record_layer) without a
// connection: KeyUpdates owed, bounded and initiated, against a peer that holds the other
// side's keys and speaks through the same record primitives.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "net/tls_record_layer.h"

namespace ringcast::net {
namespace {

constexpr std::uint8_t kKeyUpdateType = 24;

struct Ctx {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  ~Ctx() { EVP_CIPHER_CTX_free(ctx); }
};

std::vector<std::uint8_t> secret(std::uint8_t seed) {
  std::vector<std::uint8_t> s(32);
  for (std::size_t i = 0; i < s.size(); ++i) s[i] = std::uint8_t(seed + i * 13);
  return s;
}

// The server's layer and the client's two directions, from the same two secrets.
struct Pair {
  TlsOffload server;
  TrafficKeys client_tx, client_rx;
  Ctx c;
  Pair() {
    server.aead = client_aead;
    EXPECT_TRUE(set_traffic_secret(client_aead, secret(1), server.rx));
    EXPECT_TRUE(set_traffic_secret(client_aead, secret(2), server.tx));
    EXPECT_TRUE(set_traffic_secret(client_aead, secret(1), client_tx));
    EXPECT_TRUE(set_traffic_secret(client_aead, secret(2), client_rx));
  }
  static constexpr Aead client_aead = Aead::aes_128_gcm;

  // The client seals a record (a KeyUpdate moves its sending keys on, as RFC 8446 says).
  void client_sends(std::string& wire, std::uint8_t type, std::string_view body) {
    const iovec v{const_cast<char*>(body.data()), body.size()};
    ASSERT_TRUE(seal_record(c.ctx, client_aead, client_tx, type, {&v, 1}, wire));
    if (type == kHandshake && !body.empty() && body[0] == char(kKeyUpdateType)) {
      ASSERT_TRUE(update_traffic_secret(client_aead, client_tx));
    }
  }
  void client_key_update(std::string& wire, bool requested) {
    const char m[] = {char(kKeyUpdateType), 0, 0, 1, char(requested ? 1 : 0)};
    client_sends(wire, kHandshake, std::string_view(m, sizeof m));
  }
  Opened server_reads(std::string_view wire, std::string& plaintext) {
    std::vector<char> buf(kMaxCiphertext * 2);
    std::size_t got = 0;
    const Opened r = open_records(server, c.ctx, wire, buf.data(), buf.size(), got);
    plaintext.assign(buf.data(), got);
    return r;
  }
  // What the client makes of the server's records: the application data, and how many
  // KeyUpdates it followed; false if a record does not open.
  bool client_reads(std::string_view wire, std::string& data, int& key_updates) {
    char buf[kMaxCiphertext];
    while (!wire.empty()) {
      const long n = record_length(wire);
      if (n <= 0) return false;
      std::uint8_t type = 0;
      const long got = open_record(c.ctx, client_aead, client_rx, wire.substr(0, std::size_t(n)),
                                   buf, type);
      if (got < 0) return false;
      wire.remove_prefix(std::size_t(n));
      if (type == kApplicationData) data.append(buf, std::size_t(got));
      if (type != kHandshake) continue;
      if (got != 5 || buf[0] != char(kKeyUpdateType) || buf[4] != 0) return false;  // never requests
      if (!update_traffic_secret(client_aead, client_rx)) return false;
      ++key_updates;
    }
    return true;
  }
};

TEST(TlsRecordLayer, ManyRequestedKeyUpdatesOweOneAnswerBeforeTheNextRecord) {
  Pair p;
  std::string wire, plaintext;
  for (int i = 0; i < 20; ++i) p.client_key_update(wire, true);
  ASSERT_EQ(p.server_reads(wire, plaintext), Opened::more);
  EXPECT_TRUE(p.server.key_update_owed);
  std::string out;
  std::vector<iovec> pieces;
  const iovec v{const_cast<char*>("hello"), 5};
  ASSERT_TRUE(seal_records(p.server, p.c.ctx, kTxRecordsPerKey, {&v, 1}, pieces, out));
  EXPECT_FALSE(p.server.key_update_owed);
  EXPECT_EQ(out.size(), kKeyUpdateRecordBytes + kRecordHeader + 5 + 1 + kTag);  // one answer
  std::string data;
  int key_updates = 0;
  ASSERT_TRUE(p.client_reads(out, data, key_updates));
  EXPECT_EQ(data, "hello");
  EXPECT_EQ(key_updates, 1);
  // Owed with nothing else to send: the answer goes out alone.
  wire.clear();
  p.client_key_update(wire, true);
  ASSERT_EQ(p.server_reads(wire, plaintext), Opened::more);
  out.clear();
  ASSERT_TRUE(seal_owed_key_update(p.server, p.c.ctx, out));
  ASSERT_TRUE(seal_owed_key_update(p.server, p.c.ctx, out));  // owed once, sent once
  EXPECT_EQ(out.size(), kKeyUpdateRecordBytes);
  ASSERT_TRUE(p.client_reads(out, data, key_updates));
  EXPECT_EQ(key_updates, 2);
}

TEST(TlsRecordLayer, MoreThanThirtyTwoKeyUpdatesInARowEndTheConnection) {
  Pair p;
  std::string wire, plaintext;
  for (int round = 0; round < 3; ++round) {  // application data between runs resets the count
    for (std::uint32_t i = 0; i < kKeyUpdatesInARowMax; ++i) p.client_key_update(wire, false);
    p.client_sends(wire, kApplicationData, "GET");
  }
  ASSERT_EQ(p.server_reads(wire, plaintext), Opened::more);
  EXPECT_EQ(plaintext, "GETGETGET");
  wire.clear();
  for (std::uint32_t i = 0; i < kKeyUpdatesInARowMax; ++i) p.client_key_update(wire, false);
  p.client_sends(wire, kApplicationData, "");  // an empty record is not data: no reset
  p.client_key_update(wire, true);
  EXPECT_EQ(p.server_reads(wire, plaintext), Opened::failed);
  EXPECT_EQ(p.server.alert, kAlertUnexpectedMessage);
}

TEST(TlsRecordLayer, OurKeyRetiresBeforeItProtectsMoreThanRecordsPerKey) {
  Pair p;
  constexpr std::uint64_t kPerKey = 4;
  std::string out, data;
  std::vector<iovec> pieces;
  int key_updates = 0;
  const std::string big(3 * kMaxPlaintext + 100, 'b');  // four records in one send
  for (int i = 0; i < 10; ++i) {
    const std::string text = i == 5 ? big : "event " + std::to_string(i) + "\n";
    const iovec v{const_cast<char*>(text.data()), text.size()};
    const std::size_t before = out.size();
    ASSERT_TRUE(seal_records(p.server, p.c.ctx, kPerKey, {&v, 1}, pieces, out));
    EXPECT_LE(out.size() - before, sealed_bytes_max(text.size(), kPerKey)) << i;
    // The key in use never has more than kPerKey records behind it, its KeyUpdate included.
    EXPECT_LT(p.server.tx.seq, kPerKey);
  }
  ASSERT_TRUE(p.client_reads(out, data, key_updates));
  EXPECT_NE(data.find(big), std::string::npos);
  EXPECT_NE(data.find("event 9\n"), std::string::npos);
  // 13 application records, three of them per key: a KeyUpdate after every third.
  EXPECT_EQ(key_updates, 4);
}

}  // namespace
}  // namespace ringcast::net
