#include "net/tls_context.h"

#include <openssl/err.h>

#include <cstring>

namespace ringcast::net {

namespace {

constexpr unsigned char kHttp11[] = {'h', 't', 't', 'p', '/', '1', '.', '1'};
constexpr unsigned char kH2[] = {'h', '2'};

std::string openssl_reason() {
  const unsigned long e = ERR_peek_last_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  char text[256];
  ERR_error_string_n(e, text, sizeof text);
  return text;
}

int select_alpn(SSL*, const unsigned char** out, unsigned char* out_len, const unsigned char* in,
                unsigned int in_len, void* arg) {
  switch (alpn_choose(in, in_len, arg != nullptr)) {
    case Alpn::h2:
      *out = kH2;
      *out_len = sizeof kH2;
      return SSL_TLSEXT_ERR_OK;
    case Alpn::http11:
      *out = kHttp11;
      *out_len = sizeof kHttp11;
      return SSL_TLSEXT_ERR_OK;
    case Alpn::none: break;
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL;  // no_application_protocol
}

}  // namespace

Alpn alpn_choose(const unsigned char* in, unsigned int in_len, bool allow_h2) {
  bool h2 = false, http11 = false;
  for (unsigned int i = 0; i < in_len;) {
    const unsigned int len = in[i];
    if (len == 0 || i + 1 + len > in_len) return Alpn::none;  // malformed list
    h2 |= len == sizeof kH2 && std::memcmp(in + i + 1, kH2, len) == 0;
    http11 |= len == sizeof kHttp11 && std::memcmp(in + i + 1, kHttp11, len) == 0;
    i += 1 + len;
  }
  if (h2 && allow_h2) return Alpn::h2;
  return http11 ? Alpn::http11 : Alpn::none;
}

bool alpn_offers_http11(const unsigned char* in, unsigned int in_len) {
  return alpn_choose(in, in_len, false) == Alpn::http11;
}

TlsContext make_tls_context(const TlsOptions& options, std::string& error) {
  ERR_clear_error();
  TlsContext ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) {
    error = "TLS: cannot create a context: " + openssl_reason();
    return nullptr;
  }
  int min = TLS1_2_VERSION;
  if (options.min_version == "1.3") min = TLS1_3_VERSION;
  else if (!options.min_version.empty() && options.min_version != "1.2") {
    error = "TLS: --tls-min-version must be 1.2 or 1.3";
    return nullptr;
  }
  SSL_CTX_set_min_proto_version(ctx.get(), min);
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                                     SSL_OP_CIPHER_SERVER_PREFERENCE);
  // Idle streams keep no read/write buffers: the density target holds for TLS streams too.
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_RELEASE_BUFFERS);
  // Stateless tickets only: no per-session state on the server, no lock shared by shards.
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(ctx.get(), 1);
  // The callback's argument only says whether "h2" may be picked (non-null: yes).
  static int allow_h2_marker;
  SSL_CTX_set_alpn_select_cb(ctx.get(), select_alpn, options.h2 ? &allow_h2_marker : nullptr);
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), options.cert_file.c_str()) != 1) {
    error = "TLS: cannot load certificate " + options.cert_file + ": " + openssl_reason();
    return nullptr;
  }
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), options.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    error = "TLS: cannot load private key " + options.key_file + ": " + openssl_reason();
    return nullptr;
  }
  if (SSL_CTX_check_private_key(ctx.get()) != 1) {
    error = "TLS: " + options.key_file + " does not match " + options.cert_file + ": " +
            openssl_reason();
    return nullptr;
  }
  return ctx;
}

}  // namespace ringcast::net
