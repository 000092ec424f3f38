// The TLS layer (net/tls_io) between a real shard and the simulated IO: a real OpenSSL client
// talks to the shard through memory BIOs, the simulator decides how sends complete.
#include "tests/unit/tls_harness.h"

namespace ringcast {
namespace {

using namespace tls_test;

// Every case runs with OpenSSL's record layer (false) and with ringcast's own after the
// handshake (true, the default in production).
class TlsIoModes : public ::testing::TestWithParam<bool> {};
INSTANTIATE_TEST_SUITE_P(RecordLayer, TlsIoModes, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "offload" : "openssl"; });

TEST_P(TlsIoModes, HandshakeThenStreamCarriesTheSameBytesAsPlain) {
  ClientCtx cc;
  TlsShard s(GetParam());
  Client sub(cc.ctx);
  const std::uint32_t fd = s.connect(sub);
  ASSERT_TRUE(sub.handshake_done());
  sub.write("GET /sse/news HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(s.pump(sub, fd));
  EXPECT_EQ(sub.plaintext, prelude());

  Client pub(cc.ctx);
  const std::uint32_t pfd = s.connect(pub);
  pub.write("POST /pub/news HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello");
  ASSERT_TRUE(s.pump(pub, pfd));
  EXPECT_NE(pub.plaintext.find("202 Accepted"), std::string::npos) << pub.plaintext;
  ASSERT_TRUE(s.pump(sub, fd));
  EXPECT_NE(sub.plaintext.find("data: hello\n\n"), std::string::npos) << sub.plaintext;
  EXPECT_EQ(s.tls.tls_stats()->handshakes, 2u);
  EXPECT_EQ(s.tls.tls_stats()->sessions, 2u);
}

TEST_P(TlsIoModes, ShortWritesOfCiphertextStillDeliverEveryByte) {
  ClientCtx cc;
  TlsShard s(GetParam());
  Client sub(cc.ctx);
  const std::uint32_t fd = s.connect(sub);
  sub.write("GET /sse/a HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(s.pump(sub, fd));
  ASSERT_EQ(sub.plaintext, prelude());
  sub.plaintext.clear();

  s.io.auto_complete = false;
  Client pub(cc.ctx);
  const std::string body(40000, 'x');  // several TLS records
  std::uint32_t pfd = s.io.connect();
  s.settle();
  pub.feed("");
  bool posted = false;
  for (int round = 0; round < 3000; ++round) {  // every send completes 97 bytes at a time
    std::string up = pub.take_output();
    if (!up.empty()) s.io.client_write(pfd, up);
    s.settle(2);
    for (std::size_t n = s.io.inflight().size(); n > 0; --n)  // each removes the first
      s.io.complete_send(0, std::min<int>(97, int(s.io.inflight()[0].bytes.size())));
    s.settle(2);
    ASSERT_TRUE(pub.feed(s.io.received(pfd)));
    s.io.clear_received(pfd);
    ASSERT_TRUE(sub.feed(s.io.received(fd)));
    s.io.clear_received(fd);
    if (pub.handshake_done() && !posted) {
      pub.write("POST /pub/a HTTP/1.1\r\nHost: t\r\nContent-Length: 40000\r\n\r\n" + body);
      posted = true;
    }
    if (sub.plaintext.find(body + "\n\n") != std::string::npos) break;
  }
  EXPECT_TRUE(posted);
  EXPECT_NE(sub.plaintext.find("data: " + body + "\n\n"), std::string::npos);
}

TEST_P(TlsIoModes, PlainHttpToTheTlsPortGetsA400AndAClose) {
  TlsShard s(GetParam());
  const std::uint32_t fd = s.io.connect();
  s.settle();
  s.io.client_write(fd, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
  s.settle(12);
  EXPECT_EQ(s.io.received(fd).substr(0, 24), "HTTP/1.1 400 Bad Request");
  EXPECT_TRUE(s.io.closed_by_server(fd));
  EXPECT_EQ(s.tls.tls_stats()->plain_http, 1u);
  EXPECT_EQ(s.tls.sessions(), 0u);
}

TEST_P(TlsIoModes, GarbageHandshakeIsClosedAndFreed) {
  TlsShard s(GetParam());
  const std::uint32_t fd = s.io.connect();
  s.settle();
  s.io.client_write(fd, std::string("\x16\x03\x01\x00\x05garbagegarbage", 19));
  s.settle(12);
  EXPECT_TRUE(s.io.closed_by_server(fd));
  EXPECT_EQ(s.tls.tls_stats()->failures, 1u);
  EXPECT_EQ(s.tls.tls_stats()->handshakes, 0u);
  EXPECT_EQ(s.tls.sessions(), 0u);
  EXPECT_EQ(s.shard->open_connections(), 0u);
}

TEST_P(TlsIoModes, ClientCloseNotifyEndsTheConnection) {
  ClientCtx cc;
  TlsShard s(GetParam());
  Client c(cc.ctx);
  const std::uint32_t fd = s.connect(c);
  c.write("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(s.pump(c, fd));
  EXPECT_NE(c.plaintext.find("200 OK"), std::string::npos);
  SSL_shutdown(c.ssl());
  s.io.client_write(fd, c.take_output());
  s.settle(12);
  EXPECT_TRUE(s.io.closed_by_server(fd));
  EXPECT_EQ(s.tls.sessions(), 0u);
  EXPECT_EQ(s.shard->open_connections(), 0u);
}

TEST_P(TlsIoModes, AlpnMustIncludeHttp11) {
  ClientCtx cc;
  TlsShard s(GetParam());
  {
    Client c(cc.ctx);
    static const unsigned char h2_only[] = {2, 'h', '2'};
    SSL_set_alpn_protos(c.ssl(), h2_only, sizeof h2_only);
    const std::uint32_t fd = s.io.connect();
    s.settle();
    c.feed("");
    s.pump(c, fd);
    EXPECT_FALSE(c.handshake_done());
    EXPECT_TRUE(s.io.closed_by_server(fd));
  }
  {
    Client c(cc.ctx);
    static const unsigned char both[] = {2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    SSL_set_alpn_protos(c.ssl(), both, sizeof both);
    s.connect(c);
    ASSERT_TRUE(c.handshake_done());
    const unsigned char* chosen = nullptr;
    unsigned int len = 0;
    SSL_get0_alpn_selected(c.ssl(), &chosen, &len);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(chosen), len), "http/1.1");
  }
  EXPECT_EQ(s.tls.tls_stats()->failures, 1u);
}

TEST_P(TlsIoModes, SecondConnectionResumesWithTheTicket) {
  ClientCtx cc;
  TlsShard s(GetParam());
  SSL_SESSION* session = nullptr;
  {
    Client c(cc.ctx);
    const std::uint32_t fd = s.connect(c);
    c.write("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");  // reading the answer reads the ticket
    ASSERT_TRUE(s.pump(c, fd));
    session = SSL_get1_session(c.ssl());
    ASSERT_NE(session, nullptr);
    EXPECT_TRUE(SSL_SESSION_is_resumable(session));
    EXPECT_TRUE(SSL_SESSION_has_ticket(session));
    SSL_shutdown(c.ssl());  // an SSL freed without a shutdown spoils its session
  }
  Client again(cc.ctx, session);
  s.connect(again);
  EXPECT_TRUE(again.handshake_done());
  EXPECT_TRUE(SSL_session_reused(again.ssl()));
  EXPECT_EQ(s.tls.tls_stats()->resumed, 1u);
  SSL_SESSION_free(session);
}

TEST_P(TlsIoModes, PipelinedRequestsLargerThanOneBufferAreAllAnswered) {
  ClientCtx cc;
  TlsShard s(GetParam());
  Client c(cc.ctx);
  const std::uint32_t fd = s.connect(c);
  std::string many;
  for (int i = 0; i < 40; ++i) many += "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Pad: " + std::string(200, 'p') + "\r\n\r\n";
  c.write(many);  // ~10 KiB of plaintext: spans plaintext and receive buffers (4 KiB each)
  ASSERT_TRUE(s.pump(c, fd));
  std::size_t answers = 0;
  for (std::size_t at = 0; (at = c.plaintext.find("200 OK", at)) != std::string::npos; ++at) ++answers;
  EXPECT_EQ(answers, 40u);
}

TEST(TlsOffload, Tls13HandsOverToTheRecordLayerAndTls12StaysOnOpenSsl) {
  ClientCtx cc;
  TlsShard s(true);
  Client v13(cc.ctx);
  const std::uint32_t fd = s.connect(v13);
  v13.write("GET /sse/o HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(s.pump(v13, fd));
  EXPECT_EQ(v13.plaintext, prelude());
  EXPECT_EQ(s.tls.tls_stats()->offloaded, 1u);

  Client v12(cc.ctx);
  SSL_set_max_proto_version(v12.ssl(), TLS1_2_VERSION);
  const std::uint32_t fd12 = s.connect(v12);
  v12.write("GET /sse/o HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(s.pump(v12, fd12));
  EXPECT_EQ(v12.plaintext, prelude());
  EXPECT_EQ(s.tls.tls_stats()->offloaded, 1u);  // TLS 1.2 keeps OpenSSL

  v13.plaintext.clear();
  v12.plaintext.clear();
  Client pub(cc.ctx);
  const std::uint32_t pfd = s.connect(pub);
  const std::string big(50000, 'z');  // four records
  pub.write("POST /pub/o HTTP/1.1\r\nHost: t\r\nContent-Length: 50000\r\n\r\n" + big);
  ASSERT_TRUE(s.pump(pub, pfd));
  ASSERT_TRUE(s.pump(v13, fd));
  ASSERT_TRUE(s.pump(v12, fd12));
  EXPECT_NE(v13.plaintext.find("data: " + big + "\n\n"), std::string::npos);
  EXPECT_EQ(v13.plaintext, v12.plaintext);  // the same bytes either way
}

TEST(TlsOffload, ClientKeyUpdateIsFollowedAndAnswered) {
  ClientCtx cc;
  TlsShard s(true);
  Client c(cc.ctx);
  const std::uint32_t fd = s.connect(c);
  c.write("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(s.pump(c, fd));
  ASSERT_NE(c.plaintext.find("200 OK"), std::string::npos);
  for (int round = 0; round < 3; ++round) {
    c.plaintext.clear();
    // The client moves to new keys and asks the server to do the same.
    ASSERT_EQ(SSL_key_update(c.ssl(), SSL_KEY_UPDATE_REQUESTED), 1);
    c.write("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    ASSERT_TRUE(s.pump(c, fd));
    EXPECT_NE(c.plaintext.find("200 OK"), std::string::npos) << round;
  }
  EXPECT_EQ(s.tls.tls_stats()->failures, 0u);
}

TEST(TlsOffload, ATamperedRecordClosesTheConnection) {
  ClientCtx cc;
  TlsShard s(true);
  Client c(cc.ctx);
  const std::uint32_t fd = s.connect(c);
  c.write("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
  std::string record = c.take_output();
  record[record.size() - 3] ^= 0x40;  // inside the tag
  s.io.client_write(fd, record);
  s.settle(12);
  EXPECT_TRUE(s.io.closed_by_server(fd));
  EXPECT_EQ(s.tls.tls_stats()->failures, 1u);
  EXPECT_EQ(s.tls.sessions(), 0u);
}

TEST(TlsOffload, ShutdownSendsAnEncryptedCloseNotify) {
  ClientCtx cc;
  TlsShard s(true);
  Client c(cc.ctx);
  const std::uint32_t fd = s.connect(c);
  // An error answer ends in a lingering close: close_notify, then the write side shut.
  c.write("GET /nowhere HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(s.pump(c, fd));
  EXPECT_NE(c.plaintext.find("404"), std::string::npos);
  EXPECT_TRUE(c.got_close_notify);
  EXPECT_TRUE(s.io.write_shut_by_server(fd));
}

TEST(TlsContext, ErrorsNameTheFile) {
  std::string err;
  EXPECT_FALSE(net::make_tls_context({"/nonexistent/cert.pem", pki().key, "1.2"}, err));
  EXPECT_NE(err.find("/nonexistent/cert.pem"), std::string::npos) << err;
  err.clear();
  EXPECT_FALSE(net::make_tls_context({pki().cert, pki().other_key, "1.2"}, err));
  EXPECT_NE(err.find(pki().other_key), std::string::npos) << err;  // key values mismatch
  err.clear();
  EXPECT_FALSE(net::make_tls_context({pki().cert, pki().key, "1.1"}, err));
  EXPECT_NE(err.find("1.2 or 1.3"), std::string::npos) << err;
}

TEST(TlsContext, AlpnListParsing) {
  const unsigned char ok[] = {2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  EXPECT_TRUE(net::alpn_offers_http11(ok, sizeof ok));
  const unsigned char h2[] = {2, 'h', '2'};
  EXPECT_FALSE(net::alpn_offers_http11(h2, sizeof h2));
  const unsigned char truncated[] = {9, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  EXPECT_FALSE(net::alpn_offers_http11(truncated, sizeof truncated));
  const unsigned char zero[] = {0};
  EXPECT_FALSE(net::alpn_offers_http11(zero, sizeof zero));
}

TEST(TlsContext, AlpnPrefersH2WhenAllowed) {
  const unsigned char both[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1', 2, 'h', '2'};
  EXPECT_EQ(net::alpn_choose(both, sizeof both, true), net::Alpn::h2);  // server's preference
  EXPECT_EQ(net::alpn_choose(both, sizeof both, false), net::Alpn::http11);
  const unsigned char h2[] = {2, 'h', '2'};
  EXPECT_EQ(net::alpn_choose(h2, sizeof h2, true), net::Alpn::h2);
  EXPECT_EQ(net::alpn_choose(h2, sizeof h2, false), net::Alpn::none);
  const unsigned char h2c[] = {3, 'h', '2', 'c'};  // not "h2": cleartext upgrade token
  EXPECT_EQ(net::alpn_choose(h2c, sizeof h2c, true), net::Alpn::none);
  const unsigned char bad_tail[] = {2, 'h', '2', 5, 'x'};  // malformed: refuse it all
  EXPECT_EQ(net::alpn_choose(bad_tail, sizeof bad_tail, true), net::Alpn::none);
}

}  // namespace
}  // namespace ringcast
