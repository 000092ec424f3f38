#include "tools/load/tls_client.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace ringcast::load {

namespace {

// --tls-resume: keep the newest session of this thread (TLS 1.3 tickets arrive after the
// handshake, in SSL_read). Returning 1 keeps the reference.
int on_new_session(SSL* ssl, SSL_SESSION* session) {
  auto* io = static_cast<TlsIo*>(SSL_get_app_data(ssl));
  if (io == nullptr) return 0;
  if (io->newest_session != nullptr) SSL_SESSION_free(io->newest_session);
  io->newest_session = session;
  return 1;
}

std::string openssl_error(const char* what) {
  const std::string text = net::tls_error_text(ERR_get_error());
  ERR_clear_error();
  return std::string(what) + ": " + text;
}

}  // namespace

const char* tls_failure_name(TlsFailure f) {
  switch (f) {
    case TlsFailure::none: return "tls_none";
    case TlsFailure::verify: return "tls_verify";
    case TlsFailure::handshake: return "tls_handshake";
    case TlsFailure::record: return "tls_record";
    case TlsFailure::output_full: return "tls_output_full";
  }
  return "?";
}

TlsContext::~TlsContext() {
  if (ctx_ != nullptr) SSL_CTX_free(ctx_);
}

std::string TlsContext::init(const TlsConfig& config) {
  config_ = config;
  ctx_ = SSL_CTX_new(TLS_client_method());
  if (ctx_ == nullptr) return openssl_error("SSL_CTX_new");
  SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
  // RELEASE_BUFFERS: an idle connection holds no 16 KiB read or write buffer. No
  // renegotiation: the server has no reason to ask, and a client that refuses it stays simple.
  SSL_CTX_set_mode(ctx_, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_options(ctx_, SSL_OP_NO_RENEGOTIATION);
  static const unsigned char kAlpn[] = "\x08http/1.1";
  if (SSL_CTX_set_alpn_protos(ctx_, kAlpn, sizeof kAlpn - 1) != 0) return openssl_error("ALPN");
  if (config.verify) {
    if (SSL_CTX_load_verify_locations(ctx_, config.ca_file.c_str(), nullptr) != 1)
      return openssl_error(("--tls-ca " + config.ca_file).c_str());
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    X509_VERIFY_PARAM* param = SSL_CTX_get0_param(ctx_);
    const bool named = !config.sni.empty();
    const int ok = named ? X509_VERIFY_PARAM_set1_host(param, config.sni.c_str(), 0)
                         : X509_VERIFY_PARAM_set1_ip_asc(param, config.verify_ip.c_str());
    if (ok != 1) return openssl_error("certificate name check");
  } else {
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);
  }
  if (config.resume) {
    // The sessions live in TlsIo (one per thread), not in a cache of the context.
    SSL_CTX_set_session_cache_mode(ctx_, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx_, on_new_session);
  } else {
    SSL_CTX_set_session_cache_mode(ctx_, SSL_SESS_CACHE_OFF);
  }
  return {};
}

TlsIo::~TlsIo() {
  if (newest_session != nullptr) SSL_SESSION_free(newest_session);
}

TlsConn& TlsConn::operator=(TlsConn&& o) noexcept {
  if (this != &o) {
    reset();
    ssl_ = o.ssl_;
    o.ssl_ = nullptr;
  }
  return *this;
}

void TlsConn::reset() {
  if (ssl_ == nullptr) return;
  // Freeing a connection that was not shut down marks its session not resumable, and that
  // session may be the one --tls-resume keeps. A connection that completed its handshake and
  // met no fatal error ends like a browser's that lost its TCP connection: its session stays
  // good. (A fatal error leaves the handshake unfinished in OpenSSL's eyes, so such a
  // session is still dropped.)
  if (SSL_is_init_finished(ssl_)) SSL_set_shutdown(ssl_, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
  SSL_free(ssl_);  // frees the BIO too
  ssl_ = nullptr;
}

bool TlsIo::bio_put(const char* data, std::size_t len) {
  // Whole or not at all: a write that does not fit marks the IO full, and the caller ends the
  // connection (output_full).
  if (out == nullptr || len > out_cap - out_len) {
    out_full = true;
    return false;
  }
  std::memcpy(out + out_len, data, len);
  out_len += std::uint32_t(len);
  return true;
}

void TlsConn::bind(TlsIo& io) {
  net::rebind_memory_bio(ssl_, &io);
  SSL_set_app_data(ssl_, &io);
  // SSL_get_error reads this thread's error queue: it must start empty.
  ERR_clear_error();
}

bool TlsConn::start(const TlsContext& ctx, TlsIo& io, SSL_SESSION* session, bool h2) {
  reset();
  ssl_ = SSL_new(ctx.ctx());
  if (ssl_ == nullptr) return ERR_clear_error(), false;
  // One BIO both ways: reads take io.in, writes append to io's out buffer (bio_take, bio_put).
  if (!net::attach_memory_bio(ssl_, &io)) {
    reset();
    ERR_clear_error();
    return false;
  }
  SSL_set_connect_state(ssl_);
  const std::string& sni = ctx.config().sni;
  if (!sni.empty() && SSL_set_tlsext_host_name(ssl_, sni.c_str()) != 1) {
    reset();
    ERR_clear_error();
    return false;
  }
  static const unsigned char kH2[] = "\x02h2";
  if (h2 && SSL_set_alpn_protos(ssl_, kH2, sizeof kH2 - 1) != 0) {
    reset();
    ERR_clear_error();
    return false;
  }
  if (session != nullptr && SSL_SESSION_is_resumable(session)) SSL_set_session(ssl_, session);
  std::string_view none;
  io.in = {};
  return step(io, none) == TlsStatus::need_more && io.out_len > 0;
}

TlsStatus TlsConn::step(TlsIo& io, std::string_view& plain) {
  bind(io);
  const bool established = SSL_is_init_finished(ssl_);
  std::size_t n = 0;
  const net::TlsStep step = established ? net::tls_read_step(ssl_, io.plain, sizeof io.plain, n)
                                        : net::tls_handshake_step(ssl_);
  if (step == net::TlsStep::done) {
    if (!established) return TlsStatus::handshake_done;
    plain = std::string_view(io.plain, n);
    return TlsStatus::plaintext;
  }
  if (step == net::TlsStep::want_read && !io.out_full) {
    // The BIO asks for more only once every byte handed in was read.
    if (!io.in.empty()) std::abort();
    return TlsStatus::need_more;
  }
  // close_notify ends a connection only once it is established; during the handshake it is a
  // failure like any other.
  if (step == net::TlsStep::closed && established) return TlsStatus::closed;
  return fail(io, established);
}

bool TlsConn::write(TlsIo& io, std::string_view plain) {
  if (plain.empty()) return true;
  if (!established()) {
    io.failure = TlsFailure::record;
    return false;
  }
  bind(io);
  const int n = SSL_write(ssl_, plain.data(), int(plain.size()));
  if (n == int(plain.size())) return true;
  fail(io, true);
  return false;
}

// Names the failure, keeps OpenSSL's words for the thread's first one, and empties the
// thread's error queue for the next connection.
// (A fatal error leaves OpenSSL's state machine in its error state, so whether the handshake
// had finished is the caller's to say.)
TlsStatus TlsConn::fail(TlsIo& io, bool established) {
  const long verify = SSL_get_verify_result(ssl_);
  if (io.out_full) io.failure = TlsFailure::output_full;
  else if (established) io.failure = TlsFailure::record;
  else if ((SSL_get_verify_mode(ssl_) & SSL_VERIFY_PEER) && verify != X509_V_OK) io.failure = TlsFailure::verify;
  else io.failure = TlsFailure::handshake;
  if (io.first_error.empty()) {
    io.first_error = std::string(tls_failure_name(io.failure)) + ": " + net::tls_error_text(ERR_peek_error());
    if (io.failure == TlsFailure::verify)
      io.first_error += std::string(" (") + X509_verify_cert_error_string(verify) + ")";
  }
  ERR_clear_error();
  return TlsStatus::failed;
}

std::string_view TlsConn::version() const {
  return ssl_ == nullptr ? std::string_view() : std::string_view(SSL_get_version(ssl_));
}

std::string_view TlsConn::alpn() const {
  if (ssl_ == nullptr) return {};
  const unsigned char* data = nullptr;
  unsigned len = 0;
  SSL_get0_alpn_selected(ssl_, &data, &len);
  return std::string_view(reinterpret_cast<const char*>(data), len);
}

}  // namespace ringcast::load
