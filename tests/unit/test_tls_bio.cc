// net/tls_bio.h: TLS over memory, shared by the server's TLS layer and the load generator's
// client. Two SSLs talk through owners of the kind each program has: one whose output grows
// (the server's), one with a fixed output buffer (the client's).
#include "net/tls_bio.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/unit/tls_harness.h"

namespace ringcast::net {
namespace {

// An owner: ciphertext handed in waits in `in`; written ciphertext goes to `out`, at most
// `out_max` bytes of it.
struct Pipe {
  std::string received;  // bytes handed in (owned here; `in` views them)
  std::string_view in;
  std::string out;
  std::size_t out_max = ~std::size_t(0);
  bool refused = false;

  std::size_t bio_take(char* to, std::size_t max) { return take_front(in, to, max); }
  bool bio_put(const char* data, std::size_t len) {
    if (out.size() + len > out_max) return refused = true, false;
    out.append(data, len);
    return true;
  }
  // Moves everything `from` wrote into this pipe's input.
  void deliver(Pipe& from) {
    received.assign(in);
    received += from.out;
    from.out.clear();
    in = received;
  }
};

struct Contexts {
  SSL_CTX* server = SSL_CTX_new(TLS_server_method());
  SSL_CTX* client = SSL_CTX_new(TLS_client_method());
  Contexts() {
    const tls_test::TestPki& p = tls_test::pki();
    EXPECT_EQ(SSL_CTX_use_certificate_chain_file(server, p.cert.c_str()), 1);
    EXPECT_EQ(SSL_CTX_use_PrivateKey_file(server, p.key.c_str(), SSL_FILETYPE_PEM), 1);
    SSL_CTX_set_verify(client, SSL_VERIFY_NONE, nullptr);
  }
  ~Contexts() {
    SSL_CTX_free(server);
    SSL_CTX_free(client);
  }
};

struct Peers {
  Contexts ctx;
  Pipe server_pipe, client_pipe;
  SSL* server = SSL_new(ctx.server);
  SSL* client = SSL_new(ctx.client);
  Peers() {
    EXPECT_TRUE(attach_memory_bio(server, &server_pipe));
    EXPECT_TRUE(attach_memory_bio(client, &client_pipe));
    SSL_set_accept_state(server);
    SSL_set_connect_state(client);
  }
  ~Peers() {
    SSL_free(server);
    SSL_free(client);
  }
  // Steps both handshakes, moving the bytes between them, until both are done.
  void handshake() {
    TlsStep c = TlsStep::want_read, s = TlsStep::want_read;
    for (int round = 0; round < 10 && (c != TlsStep::done || s != TlsStep::done); ++round) {
      if (c != TlsStep::done) c = tls_handshake_step(client);
      server_pipe.deliver(client_pipe);
      if (s != TlsStep::done) s = tls_handshake_step(server);
      client_pipe.deliver(server_pipe);
      ASSERT_NE(c, TlsStep::failed);
      ASSERT_NE(s, TlsStep::failed);
    }
    ASSERT_EQ(c, TlsStep::done);
    ASSERT_EQ(s, TlsStep::done);
  }
};

TEST(TlsBio, HandshakeThenData) {
  Peers p;
  p.handshake();
  ASSERT_EQ(SSL_write(p.client, "hello", 5), 5);
  p.server_pipe.deliver(p.client_pipe);
  char buf[64];
  std::size_t got = 0;
  std::string text;
  // The client's post-handshake bytes may come first; read until the plaintext is in.
  for (int i = 0; i < 4 && text.size() < 5; ++i) {
    const TlsStep step = tls_read_step(p.server, buf, sizeof buf, got);
    if (step == TlsStep::done) text.append(buf, got);
    else ASSERT_EQ(step, TlsStep::want_read);
  }
  EXPECT_EQ(text, "hello");
  // Everything handed in was taken: the next read wants more.
  EXPECT_EQ(tls_read_step(p.server, buf, sizeof buf, got), TlsStep::want_read);
  EXPECT_TRUE(p.server_pipe.in.empty());
}

TEST(TlsBio, CloseNotifyIsClosed) {
  Peers p;
  p.handshake();
  SSL_shutdown(p.client);
  p.server_pipe.deliver(p.client_pipe);
  char buf[64];
  std::size_t got = 0;
  TlsStep step = TlsStep::want_read;
  for (int i = 0; i < 4 && step != TlsStep::closed; ++i) step = tls_read_step(p.server, buf, sizeof buf, got);
  EXPECT_EQ(step, TlsStep::closed);
}

TEST(TlsBio, AnOwnerWithoutRoomFailsTheStep) {
  Peers p;
  p.client_pipe.out_max = 16;  // a ClientHello is a few hundred bytes
  EXPECT_EQ(tls_handshake_step(p.client), TlsStep::failed);
  EXPECT_TRUE(p.client_pipe.refused);
}

TEST(TlsBio, GarbageFailsTheHandshakeWithOpenSslsWords) {
  Peers p;
  p.server_pipe.received = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  p.server_pipe.in = p.server_pipe.received;
  EXPECT_EQ(tls_handshake_step(p.server), TlsStep::failed);
  const std::string text = tls_error_text(ERR_peek_error());
  EXPECT_NE(text.find("http request"), std::string::npos) << text;
  ERR_clear_error();
  EXPECT_EQ(tls_error_text(0), "no OpenSSL error");
}

TEST(TlsBio, TakeFront) {
  std::string_view in = "abcdef";
  char out[4];
  EXPECT_EQ(take_front(in, out, 4), 4u);
  EXPECT_EQ(std::string(out, 4), "abcd");
  EXPECT_EQ(in, "ef");
  EXPECT_EQ(take_front(in, out, 4), 2u);
  EXPECT_EQ(take_front(in, out, 4), 0u);
}

}  // namespace
}  // namespace ringcast::net
