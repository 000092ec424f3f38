#pragma once
// What the TLS unit tests share: a throwaway PKI, an OpenSSL client over memory BIOs, and a
// real shard over the TLS layer over the simulated IO.
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

#include "base/clock.h"
#include "core/shard.h"
#include "http/response.h"
#include "net/sim_io.h"
#include "net/tls_context.h"
#include "net/tls_io.h"
#include "tests/unit/single_cluster.h"

namespace ringcast::tls_test {

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

inline const TestPki& pki() {
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
    SSL_set_app_data(ssl_, this);
    SSL_set_msg_callback(ssl_, on_message);
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
  // Queues one KeyUpdate record (OpenSSL writes it on the next handshake call).
  void key_update(bool requested) {
    ASSERT_EQ(SSL_key_update(ssl_, requested ? SSL_KEY_UPDATE_REQUESTED
                                             : SSL_KEY_UPDATE_NOT_REQUESTED), 1);
    ASSERT_EQ(SSL_do_handshake(ssl_), 1);
  }
  bool handshake_done() const { return SSL_is_init_finished(ssl_); }
  SSL* ssl() { return ssl_; }

  std::string plaintext;
  bool got_close_notify = false;
  int key_updates_received = 0;  // the server's KeyUpdates this client followed
  int alert_received = -1;       // the description of the last alert the server sent

 private:
  static void on_message(int write_p, int, int content_type, const void* buf, std::size_t len,
                         SSL* ssl, void*) {
    auto* self = static_cast<Client*>(SSL_get_app_data(ssl));
    const auto* b = static_cast<const unsigned char*>(buf);
    if (write_p || len < 1) return;
    if (content_type == SSL3_RT_HANDSHAKE && b[0] == SSL3_MT_KEY_UPDATE) ++self->key_updates_received;
    if (content_type == SSL3_RT_ALERT && len == 2) self->alert_received = b[1];
  }

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
  explicit TlsShard(bool offload, std::uint64_t tx_records_per_key = net::kTxRecordsPerKey)
      : io(8, 4096), tls(io, server_ctx(offload), 4096, tx_records_per_key) {
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

inline std::string prelude() { return std::string(http::stream_head()) + "retry: 2000\n\n"; }

}  // namespace ringcast::tls_test
