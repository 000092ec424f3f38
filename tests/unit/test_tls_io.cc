// The TLS layer (net/tls_io) between a real shard and the simulated IO: a real OpenSSL client
// talks to the shard through memory BIOs, the simulator decides how sends complete.
#include <gtest/gtest.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>

#include "core/clock.h"
#include "core/shard.h"
#include "http/response.h"
#include "net/sim_io.h"
#include "tests/unit/single_cluster.h"
#include "net/tls_context.h"
#include "net/tls_io.h"

namespace ringcast {
namespace {

// A throwaway P-256 key and self-signed certificate for CN=localhost, written as PEM files.
struct TestPki {
  std::string dir, cert, key, other_key;
  TestPki() {
    char tmpl[] = "/tmp/ringcast-tls-XXXXXX";
    dir = mkdtemp(tmpl);
    cert = dir + "/cert.pem";
    key = dir + "/key.pem";
    other_key = dir + "/other.pem";
    EVP_PKEY* pkey = EVP_EC_gen("P-256");
    EVP_PKEY* other = EVP_EC_gen("P-256");
    X509* x = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, pkey);
    X509_NAME* name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509_sign(x, pkey, EVP_sha256());
    write(cert, [&](FILE* f) { PEM_write_X509(f, x); });
    write(key, [&](FILE* f) { PEM_write_PrivateKey(f, pkey, nullptr, nullptr, 0, nullptr, nullptr); });
    write(other_key,
          [&](FILE* f) { PEM_write_PrivateKey(f, other, nullptr, nullptr, 0, nullptr, nullptr); });
    X509_free(x);
    EVP_PKEY_free(pkey);
    EVP_PKEY_free(other);
  }
  ~TestPki() {
    std::remove(cert.c_str());
    std::remove(key.c_str());
    std::remove(other_key.c_str());
    rmdir(dir.c_str());
  }
  template <typename F>
  static void write(const std::string& path, F f) {
    FILE* file = std::fopen(path.c_str(), "w");
    ASSERT_NE(file, nullptr);
    f(file);
    std::fclose(file);
  }
};

const TestPki& pki() {
  static TestPki p;
  return p;
}

// One client: an OpenSSL client SSL over two memory BIOs.
class Client {
 public:
  explicit Client(SSL_CTX* ctx, SSL_SESSION* resume = nullptr) {
    ssl_ = SSL_new(ctx);
    rbio_ = BIO_new(BIO_s_mem());
    wbio_ = BIO_new(BIO_s_mem());
    SSL_set_bio(ssl_, rbio_, wbio_);
    SSL_set_tlsext_host_name(ssl_, "localhost");
    if (resume != nullptr) SSL_set_session(ssl_, resume);
    SSL_set_connect_state(ssl_);
  }
  ~Client() { SSL_free(ssl_); }
  Client(const Client&) = delete;

  // Ciphertext the client wants to send.
  std::string take_output() {
    std::string bytes;
    char buf[4096];
    int n;
    while ((n = BIO_read(wbio_, buf, sizeof buf)) > 0) bytes.append(buf, std::size_t(n));
    return bytes;
  }
  // Feeds ciphertext from the server; returns false if the TLS session failed.
  bool feed(const std::string& bytes) {
    if (!bytes.empty()) BIO_write(rbio_, bytes.data(), int(bytes.size()));
    if (!SSL_is_init_finished(ssl_)) {
      const int r = SSL_do_handshake(ssl_);
      if (r != 1 && SSL_get_error(ssl_, r) != SSL_ERROR_WANT_READ) return false;
      if (r != 1) return true;
    }
    char buf[4096];
    for (;;) {
      std::size_t n = 0;
      if (SSL_read_ex(ssl_, buf, sizeof buf, &n) == 1) {
        plaintext.append(buf, n);
        continue;
      }
      const int e = SSL_get_error(ssl_, 0);
      if (e == SSL_ERROR_ZERO_RETURN) got_close_notify = true;
      return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_ZERO_RETURN;
    }
  }
  void write(const std::string& text) { ASSERT_EQ(SSL_write(ssl_, text.data(), int(text.size())), int(text.size())); }
  bool handshake_done() const { return SSL_is_init_finished(ssl_); }
  SSL* ssl() { return ssl_; }

  std::string plaintext;
  bool got_close_notify = false;

 private:
  SSL* ssl_;
  BIO* rbio_;
  BIO* wbio_;
};

struct ClientCtx {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  ClientCtx() {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT);
    SSL_CTX_load_verify_locations(ctx, pki().cert.c_str(), nullptr);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  }
  ~ClientCtx() { SSL_CTX_free(ctx); }
};

class TlsShard {
 public:
  explicit TlsShard(bool offload) : io(8, 4096), tls(io, server_ctx(offload), 4096) {
    config_.retry_jitter_ms = 0;
    config_.retry_ms = 2000;
    config_.max_streams = 100;
    init_single_cluster(cluster_, config_);
    shard = std::make_unique<Shard>(0, cluster_, tls);
    shard->start();
  }
  // Two contexts: OpenSSL's record layer throughout, and ringcast's after a TLS 1.3 handshake.
  static SSL_CTX* server_ctx(bool offload) {
    static net::TlsContext plain = make(false);
    static net::TlsContext offloading = make(true);
    return offload ? offloading.get() : plain.get();
  }
  static net::TlsContext make(bool offload) {
    std::string err;
    net::TlsContext c = net::make_tls_context({pki().cert, pki().key, "1.2"}, err);
    EXPECT_TRUE(c) << err;
    if (offload) net::TlsIo::enable_record_offload(c.get());
    return c;
  }
  void settle(int passes = 6) {
    for (int i = 0; i < passes; ++i) shard->run_once(0);
  }
  // Moves bytes both ways until neither side has anything new.
  bool pump(Client& client, std::uint32_t fd) {
    for (int round = 0; round < 50; ++round) {
      std::string up = client.take_output();
      if (!up.empty() && !io.closed_by_server(fd)) io.client_write(fd, up);
      settle();
      std::string down = io.received(fd);
      io.clear_received(fd);
      if (!client.feed(down)) return false;
      if (up.empty() && down.empty()) return true;
    }
    return true;
  }
  std::uint32_t connect(Client& client) {
    std::uint32_t fd = io.connect();
    settle();
    client.feed("");  // ClientHello
    EXPECT_TRUE(pump(client, fd));
    return fd;
  }

 private:
  Config config_;
  Cluster cluster_;

 public:
  net::SimIo io;
  net::TlsIo tls;
  std::unique_ptr<Shard> shard;
};

std::string prelude() { return std::string(http::stream_head()) + "retry: 2000\n\n"; }

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

}  // namespace
}  // namespace ringcast
