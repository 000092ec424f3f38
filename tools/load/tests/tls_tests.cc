// The TLS client without sockets: an in-process OpenSSL server over memory BIOs, with a CA and
// server certificate made here (OpenSSL APIs), ciphertext carried between the two by hand in
// pieces of every size. Handshakes (TLS 1.3 and 1.2), ALPN, verification failures, resumption,
// close_notify, a damaged record, and an output buffer too small.
#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "tools/load/tls_client.h"

namespace ringcast::load {
namespace {

struct Key {
  EVP_PKEY* p = EVP_EC_gen("P-256");
  ~Key() { EVP_PKEY_free(p); }
};

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  ASSERT_NE(ext, nullptr);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

// A certificate for `key` named `cn`, signed by (issuer, issuer_key), or self-signed.
X509* make_cert(const Key& key, const char* cn, X509* issuer, const Key* issuer_key, bool ca, const char* san) {
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  static long serial = 1;
  ASN1_INTEGER_set(X509_get_serialNumber(cert), serial++);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn), -1, -1, 0);
  X509_set_issuer_name(cert, issuer != nullptr ? X509_get_subject_name(issuer) : name);
  X509_set_pubkey(cert, key.p);
  X509* signer = issuer != nullptr ? issuer : cert;
  add_ext(cert, signer, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
  if (ca) add_ext(cert, signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  if (san != nullptr) add_ext(cert, signer, NID_subject_alt_name, san);
  X509_sign(cert, (issuer_key != nullptr ? issuer_key : &key)->p, EVP_sha256());
  return cert;
}

// A CA, a server certificate it signed (localhost, 127.0.0.1), and the CA's PEM file.
struct Pki {
  Key ca_key, server_key;
  X509* ca = make_cert(ca_key, "ringcast-load test CA", nullptr, nullptr, true, nullptr);
  X509* server = make_cert(server_key, "localhost", ca, &ca_key, false, "DNS:localhost,IP:127.0.0.1");
  std::string ca_file;

  Pki() {
    char path[] = "/tmp/ringcast-load-tls-ca-XXXXXX";
    const int fd = mkstemp(path);
    EXPECT_GE(fd, 0);
    close(fd);
    ca_file = path;
    FILE* f = std::fopen(path, "w");
    PEM_write_X509(f, ca);
    std::fclose(f);
  }
  ~Pki() {
    X509_free(ca);
    X509_free(server);
    std::remove(ca_file.c_str());
  }
};

Pki& pki() {
  static Pki p;
  return p;
}

int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned inlen, void*) {
  static const unsigned char kHttp11[] = "\x08http/1.1";
  unsigned char* sel = nullptr;
  if (SSL_select_next_proto(&sel, outlen, kHttp11, sizeof kHttp11 - 1, in, inlen) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  *out = sel;
  return SSL_TLSEXT_ERR_OK;
}

// The server: tickets on (OpenSSL's default), ALPN http/1.1, TLS 1.2 or 1.3.
struct Server {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  explicit Server(int max_version = TLS1_3_VERSION, X509* cert = pki().server, EVP_PKEY* key = pki().server_key.p) {
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx, max_version);
    SSL_CTX_use_certificate(ctx, cert);
    SSL_CTX_use_PrivateKey(ctx, key);
    SSL_CTX_set_alpn_select_cb(ctx, select_alpn, nullptr);
  }
  ~Server() { SSL_CTX_free(ctx); }
};

TlsConfig verified(const std::string& sni = "") {
  TlsConfig c;
  c.verify = true;
  c.ca_file = pki().ca_file;
  c.sni = sni;
  c.verify_ip = "127.0.0.1";
  return c;
}

// One client connection and one server connection, with the bytes between them carried by
// hand: client output -> server's memory BIO; server output -> client, `piece` bytes at a time.
struct Link {
  SSL* server;
  BIO* to_server = BIO_new(BIO_s_mem());
  BIO* from_server = BIO_new(BIO_s_mem());
  TlsConn client;
  std::vector<char> out = std::vector<char>(8192);
  std::string client_plain, server_plain;
  int handshakes = 0;
  bool closed = false, failed = false;

  explicit Link(const Server& s) : server(SSL_new(s.ctx)) {
    SSL_set_bio(server, to_server, from_server);
    SSL_set_accept_state(server);
  }
  ~Link() { SSL_free(server); }

  // Client output so far goes to the server.
  void flush_client(TlsIo& io) {
    if (io.out_len > 0) BIO_write(to_server, io.out, int(io.out_len));
    io.set_out(out.data(), std::uint32_t(out.size()), 0);
  }
  void server_turn() {
    ERR_clear_error();
    if (!SSL_is_init_finished(server)) {
      SSL_do_handshake(server);
      if (!SSL_is_init_finished(server)) return;
    }
    char buf[4096];
    int n;
    while ((n = SSL_read(server, buf, sizeof buf)) > 0) server_plain.append(buf, std::size_t(n));
    ERR_clear_error();
  }
  // Server output goes to the client in pieces; every piece is taken whole.
  void client_turn(TlsIo& io, std::size_t piece) {
    char buf[65536];
    const int n = BIO_read(from_server, buf, sizeof buf);
    std::string_view rest(buf, n > 0 ? std::size_t(n) : 0);
    while (!rest.empty() && !closed && !failed) {
      io.in = rest.substr(0, piece);
      rest.remove_prefix(io.in.size());
      for (int guard = 0; guard < 10000; ++guard) {
        std::string_view plain;
        const TlsStatus st = client.step(io, plain);
        if (st == TlsStatus::need_more) break;
        if (st == TlsStatus::handshake_done) ++handshakes;
        if (st == TlsStatus::plaintext) client_plain.append(plain);
        if (st == TlsStatus::closed) closed = true;
        if (st == TlsStatus::failed) failed = true;
        if (closed || failed) break;
      }
    }
    flush_client(io);
  }
  // Bounded rounds until both sides finished the handshake (or the client failed).
  void handshake(TlsIo& io, std::size_t piece) {
    for (int round = 0; round < 10 && !failed && !(client.established() && SSL_is_init_finished(server)); ++round) {
      server_turn();
      client_turn(io, piece);
    }
  }
};

struct Fixture {
  TlsContext ctx;
  TlsIo io;
  explicit Fixture(const TlsConfig& c) { EXPECT_EQ(ctx.init(c), ""); }
};

std::string response(std::size_t body) {
  std::string r = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n";
  for (std::size_t i = 0; r.size() < body; ++i) r += "id: 1-" + std::to_string(i) + "\ndata: x\n\n";
  return r;
}

TEST(TlsClient, HandshakeRequestAndStreamInEveryPieceSize) {
  Server server;
  const std::string reply = response(40000);  // several records
  for (std::size_t piece : {std::size_t(1), std::size_t(5), std::size_t(700), std::size_t(65536)}) {
    SCOPED_TRACE(piece);
    Fixture f(verified());
    Link link(server);
    f.io.set_out(link.out.data(), std::uint32_t(link.out.size()), 0);
    ASSERT_TRUE(link.client.start(f.ctx, f.io, nullptr));
    EXPECT_GT(f.io.out_len, 100u);  // the ClientHello
    link.flush_client(f.io);
    link.handshake(f.io, piece);
    ASSERT_FALSE(link.failed) << f.io.first_error;
    ASSERT_TRUE(link.client.established());
    EXPECT_EQ(link.handshakes, 1);
    EXPECT_EQ(link.client.version(), "TLSv1.3");
    EXPECT_EQ(link.client.alpn(), "http/1.1");
    EXPECT_FALSE(link.client.resumed());
    ASSERT_TRUE(link.client.write(f.io, "GET /sse/t0 HTTP/1.1\r\n\r\n"));
    link.flush_client(f.io);
    link.server_turn();
    EXPECT_EQ(link.server_plain, "GET /sse/t0 HTTP/1.1\r\n\r\n");
    ASSERT_EQ(SSL_write(link.server, reply.data(), int(reply.size())), int(reply.size()));
    link.client_turn(f.io, piece);
    EXPECT_EQ(link.client_plain, reply);
    EXPECT_FALSE(link.failed);
  }
}

TEST(TlsClient, Tls12AndServerName) {
  Server server(TLS1_2_VERSION);
  Fixture f(verified("localhost"));
  Link link(server);
  f.io.set_out(link.out.data(), std::uint32_t(link.out.size()), 0);
  ASSERT_TRUE(link.client.start(f.ctx, f.io, nullptr));
  link.flush_client(f.io);
  link.handshake(f.io, 3);
  ASSERT_FALSE(link.failed) << f.io.first_error;
  EXPECT_EQ(link.client.version(), "TLSv1.2");
  EXPECT_STREQ(SSL_get_servername(link.server, TLSEXT_NAMETYPE_host_name), "localhost");
  ASSERT_TRUE(link.client.write(f.io, "ping"));
  link.flush_client(f.io);
  link.server_turn();
  EXPECT_EQ(link.server_plain, "ping");
}

void expect_verify_failure(const TlsConfig& config, X509* cert, EVP_PKEY* key) {
  Server server(TLS1_3_VERSION, cert, key);
  Fixture f(config);
  Link link(server);
  f.io.set_out(link.out.data(), std::uint32_t(link.out.size()), 0);
  ASSERT_TRUE(link.client.start(f.ctx, f.io, nullptr));
  link.flush_client(f.io);
  link.handshake(f.io, 100);
  EXPECT_TRUE(link.failed);
  EXPECT_FALSE(link.client.established());
  EXPECT_EQ(f.io.failure, TlsFailure::verify);
  EXPECT_NE(f.io.first_error.find("tls_verify"), std::string::npos) << f.io.first_error;
}

TEST(TlsClient, VerificationFailures) {
  // A name the certificate does not carry.
  expect_verify_failure(verified("other.example"), pki().server, pki().server_key.p);
  // An address it does not carry.
  TlsConfig ip = verified();
  ip.verify_ip = "127.0.0.2";
  expect_verify_failure(ip, pki().server, pki().server_key.p);
  // A self-signed certificate the CA did not sign.
  Key stranger_key;
  X509* stranger = make_cert(stranger_key, "localhost", nullptr, nullptr, false, "IP:127.0.0.1");
  expect_verify_failure(verified(), stranger, stranger_key.p);
  // --tls-insecure takes it.
  TlsConfig insecure;
  insecure.verify = false;
  Server server(TLS1_3_VERSION, stranger, stranger_key.p);
  Fixture f(insecure);
  Link link(server);
  f.io.set_out(link.out.data(), std::uint32_t(link.out.size()), 0);
  ASSERT_TRUE(link.client.start(f.ctx, f.io, nullptr));
  link.flush_client(f.io);
  link.handshake(f.io, 100);
  EXPECT_FALSE(link.failed) << f.io.first_error;
  EXPECT_TRUE(link.client.established());
  X509_free(stranger);
}

TEST(TlsClient, MissingCaFileIsAStartError) {
  TlsConfig c = verified();
  c.ca_file = "/nonexistent/ca.pem";
  TlsContext ctx;
  EXPECT_NE(ctx.init(c).find("--tls-ca /nonexistent/ca.pem"), std::string::npos);
}

// Returns whether the connection resumed; `session` is offered when not null.
bool connect_once(Server& server, Fixture& f, SSL_SESSION* session) {
  Link link(server);
  f.io.set_out(link.out.data(), std::uint32_t(link.out.size()), 0);
  EXPECT_TRUE(link.client.start(f.ctx, f.io, session));
  link.flush_client(f.io);
  link.handshake(f.io, 64);
  EXPECT_FALSE(link.failed) << f.io.first_error;
  // TLS 1.3 tickets come after the handshake; the client takes them in its reads.
  EXPECT_TRUE(link.client.write(f.io, "GET / HTTP/1.1\r\n\r\n"));
  link.flush_client(f.io);
  link.server_turn();
  link.client_turn(f.io, 64);
  return link.client.resumed();
}

TEST(TlsClient, ResumptionWithTicketsOnlyWhenAsked) {
  for (int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
    SCOPED_TRACE(version);
    Server server(version);
    TlsConfig with = verified();
    with.resume = true;
    Fixture f(with);
    EXPECT_FALSE(connect_once(server, f, f.io.newest_session));
    ASSERT_NE(f.io.newest_session, nullptr);  // kept from the first handshake
    EXPECT_TRUE(connect_once(server, f, f.io.newest_session));
    EXPECT_TRUE(connect_once(server, f, f.io.newest_session));

    Fixture without(verified());
    EXPECT_FALSE(connect_once(server, without, without.io.newest_session));
    EXPECT_EQ(without.io.newest_session, nullptr);  // nothing kept without --tls-resume
  }
}

TEST(TlsClient, CloseNotifyAndDamagedRecord) {
  Server server;
  for (bool damage : {false, true}) {
    Fixture f(verified());
    Link link(server);
    f.io.set_out(link.out.data(), std::uint32_t(link.out.size()), 0);
    ASSERT_TRUE(link.client.start(f.ctx, f.io, nullptr));
    link.flush_client(f.io);
    link.handshake(f.io, 1000);
    ASSERT_TRUE(link.client.established());
    link.client_turn(f.io, 1000);  // tickets, if any
    if (damage) {
      ASSERT_EQ(SSL_write(link.server, "data: x\n\n", 9), 9);
      char buf[256];
      const int n = BIO_read(link.from_server, buf, sizeof buf);
      ASSERT_GT(n, 10);
      buf[n - 3] ^= 0x55;  // inside the authentication tag
      f.io.in = std::string_view(buf, std::size_t(n));
      std::string_view plain;
      EXPECT_EQ(link.client.step(f.io, plain), TlsStatus::failed);
      EXPECT_EQ(f.io.failure, TlsFailure::record);
    } else {
      SSL_shutdown(link.server);
      link.client_turn(f.io, 7);
      EXPECT_TRUE(link.closed);
      EXPECT_FALSE(link.failed);
    }
  }
}

TEST(TlsClient, OutputBufferTooSmall) {
  Fixture f(verified());
  char tiny[64];
  f.io.set_out(tiny, sizeof tiny, 0);
  TlsConn conn;
  EXPECT_FALSE(conn.start(f.ctx, f.io, nullptr));  // the ClientHello is larger
  EXPECT_EQ(f.io.failure, TlsFailure::output_full);
}

}  // namespace
}  // namespace ringcast::load
