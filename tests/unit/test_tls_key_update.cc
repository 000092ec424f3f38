// KeyUpdates through the whole TLS layer: a real OpenSSL client over memory BIOs, a real shard,
// the simulated IO deciding when the server's sends complete (never, for a client that does
// not read).
#include "tests/unit/tls_harness.h"

namespace ringcast {
namespace {

using namespace tls_test;

// A TLS 1.3 stream whose client has read the stream's head; its later sends are the test's.
std::uint32_t open_stream(TlsShard& s, Client& sub, const std::string& topic) {
  const std::uint32_t fd = s.connect(sub);
  sub.write("GET /sse/" + topic + " HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_TRUE(s.pump(sub, fd));
  EXPECT_EQ(sub.plaintext, prelude());
  sub.plaintext.clear();
  return fd;
}

void publish(TlsShard& s, Client& pub, std::uint32_t pfd, const std::string& topic,
             const std::string& body) {
  pub.write("POST /pub/" + topic + " HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(body.size()) +
            "\r\n\r\n" + body);
  ASSERT_TRUE(s.pump(pub, pfd));
}

TEST(TlsOffload, KeyUpdatesRequestedWhileASendIsInFlightAreAnsweredOnce) {
  ClientCtx cc;
  TlsShard s(true);
  Client sub(cc.ctx);
  const std::uint32_t fd = open_stream(s, sub, "k");
  s.io.auto_complete = false;  // the client stops reading: nothing the server sends completes
  sub.key_update(true);
  s.io.client_write(fd, sub.take_output());
  s.settle();
  ASSERT_EQ(s.io.inflight().size(), 1u);
  EXPECT_EQ(s.io.inflight()[0].bytes.size(), net::kKeyUpdateRecordBytes);  // the answer
  for (int i = 0; i < 20; ++i) sub.key_update(true);
  s.io.client_write(fd, sub.take_output());
  s.settle();
  s.io.complete_send(0, std::int32_t(net::kKeyUpdateRecordBytes));
  s.settle();
  // What waited behind the stuck send: one answer for twenty requests (RFC 8446 §4.6.3).
  ASSERT_EQ(s.io.inflight().size(), 1u);
  EXPECT_EQ(s.io.inflight()[0].bytes.size(), net::kKeyUpdateRecordBytes);
  s.io.auto_complete = true;
  s.io.complete_all_sends();
  s.settle();
  ASSERT_TRUE(sub.feed(s.io.received(fd)));
  s.io.clear_received(fd);
  EXPECT_EQ(sub.key_updates_received, 2);
  // The client's keys are where the server's are: the next event opens.
  Client pub(cc.ctx);
  publish(s, pub, s.connect(pub), "k", "after");
  ASSERT_TRUE(s.pump(sub, fd));
  EXPECT_NE(sub.plaintext.find("data: after\n\n"), std::string::npos) << sub.plaintext;
  EXPECT_EQ(s.tls.tls_stats()->failures, 0u);
}

// Both record layers: ringcast's ends the run of KeyUpdates; OpenSSL's answers every one, and
// the cap on queued output cuts the connection off once the answers pile up unread.
class TlsKeyUpdateFlood : public ::testing::TestWithParam<bool> {};
INSTANTIATE_TEST_SUITE_P(RecordLayer, TlsKeyUpdateFlood, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "offload" : "openssl"; });

TEST_P(TlsKeyUpdateFlood, APeerThatAsksAndNeverReadsIsCutOffWithBoundedOutput) {
  ClientCtx cc;
  TlsShard s(GetParam());
  Client sub(cc.ctx);
  const std::uint32_t fd = open_stream(s, sub, "flood");
  s.io.auto_complete = false;
  sub.key_update(true);  // OpenSSL's layer answers a request as it reads the next record
  sub.key_update(true);
  s.io.client_write(fd, sub.take_output());
  s.settle();
  ASSERT_EQ(s.io.inflight().size(), 1u);  // an answer, stuck
  for (int i = 0; i < 2000; ++i) sub.key_update(true);
  s.io.client_write(fd, sub.take_output());  // ~54 KB of requests, 4 KiB per receive
  s.settle(100);
  s.io.auto_complete = true;  // whatever the server still queued may go now
  s.io.complete_all_sends();
  s.settle(20);
  EXPECT_TRUE(s.io.closed_by_server(fd));
  EXPECT_LE(s.io.received(fd).size(), net::kTlsControlOutputMax);
  EXPECT_EQ(s.tls.tls_stats()->failures, 1u);
  EXPECT_EQ(s.tls.sessions(), 0u);
  EXPECT_EQ(s.shard->open_connections(), 0u);
}

// The shard closes a connection it has nothing in flight on; the TLS layer may still have its
// own send out (here a KeyUpdate answer to a client that left without reading it). The epoll
// backend refuses to close a descriptor with a send armed (it asserts), and io_uring must not
// be left cancelling by a slot that the close gave to another connection: the layer cancels
// its own operations, then closes.
TEST(TlsOffload, ACloseWhileOurOwnSendIsOutCancelsItFirst) {
  ClientCtx cc;
  TlsShard s(true);
  Client sub(cc.ctx);
  const std::uint32_t fd = open_stream(s, sub, "gone");
  s.io.auto_complete = false;
  sub.key_update(true);
  s.io.client_write(fd, sub.take_output());
  s.settle();
  ASSERT_EQ(s.io.inflight().size(), 1u);  // the answer, not read
  s.io.client_close(fd);                  // the client leaves: the shard closes the stream
  s.settle(12);
  EXPECT_TRUE(s.io.inflight().empty());
  EXPECT_TRUE(s.io.closed_by_server(fd));
  EXPECT_EQ(s.tls.sessions(), 0u);
  EXPECT_EQ(s.shard->open_connections(), 0u);
}

TEST(TlsOffload, MoreThanThirtyTwoKeyUpdatesWithoutDataEndWithUnexpectedMessage) {
  ClientCtx cc;
  TlsShard s(true);
  Client c(cc.ctx);
  const std::uint32_t fd = s.connect(c);
  for (int round = 0; round < 2; ++round) {  // a request between two runs starts a new run
    for (std::uint32_t i = 0; i < net::kKeyUpdatesInARowMax; ++i) c.key_update(false);
    c.write("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    ASSERT_TRUE(s.pump(c, fd));
    EXPECT_NE(c.plaintext.find("200 OK"), std::string::npos) << round;
    c.plaintext.clear();
  }
  for (std::uint32_t i = 0; i <= net::kKeyUpdatesInARowMax; ++i) c.key_update(false);
  EXPECT_FALSE(s.pump(c, fd));  // the client's read fails on the server's fatal alert
  EXPECT_EQ(c.alert_received, int(net::kAlertUnexpectedMessage));
  s.settle(12);
  EXPECT_TRUE(s.io.closed_by_server(fd));
  EXPECT_EQ(s.tls.tls_stats()->failures, 1u);
  EXPECT_EQ(s.tls.sessions(), 0u);
}

TEST(TlsOffload, TheServerRetiresItsKeyAndTheClientKeepsReading) {
  ClientCtx cc;
  constexpr std::uint64_t kPerKey = 3;  // production: net::kTxRecordsPerKey (2^24)
  TlsShard s(true, kPerKey);
  Client sub(cc.ctx);
  const std::uint32_t fd = open_stream(s, sub, "r");
  Client pub(cc.ctx);
  const std::uint32_t pfd = s.connect(pub);
  std::string expected;
  for (int i = 0; i < 20; ++i) {
    const std::string body = "event " + std::to_string(i);
    publish(s, pub, pfd, "r", body);
    expected += "data: " + body + "\n\n";
  }
  ASSERT_TRUE(s.pump(sub, fd));
  std::string got;  // the events without their ids
  for (std::size_t at = 0; (at = sub.plaintext.find("data: ", at)) != std::string::npos;) {
    const std::size_t end = sub.plaintext.find("\n\n", at) + 2;
    got += sub.plaintext.substr(at, end - at);
    at = end;
  }
  EXPECT_EQ(got, expected);
  // At least 20 event records after the head, two per key (the third is the KeyUpdate): the
  // client followed a KeyUpdate at least every other record, and read every event after it.
  EXPECT_GE(sub.key_updates_received, 10);
  EXPECT_GE(pub.key_updates_received, 10);  // its twenty 202s likewise
  EXPECT_EQ(s.tls.tls_stats()->failures, 0u);
}

}  // namespace
}  // namespace ringcast
