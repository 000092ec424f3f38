#pragma once
// The server's TLS configuration: one OpenSSL context, built once at start-up and shared
// read-only by every shard (OpenSSL contexts are safe to share; each connection gets its own SSL).
#include <openssl/ssl.h>

#include <memory>
#include <string>

namespace ringcast::net {

struct TlsOptions {
  std::string cert_file;    // PEM: the certificate, then any intermediates
  std::string key_file;     // PEM: the private key
  std::string min_version;  // "1.2" (default) or "1.3"
  bool h2 = false;          // ALPN offers "h2" ahead of "http/1.1"
};

struct SslCtxFree {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
using TlsContext = std::unique_ptr<SSL_CTX, SslCtxFree>;

// Builds the context: certificate chain and key (checked against each other), TLS 1.2+ (or
// 1.3 only), no renegotiation, no compression, ALPN that picks "h2" (with options.h2) or
// "http/1.1" (a client offering neither is refused: no_application_protocol), stateless
// session tickets (resumption works across shards: they share the ticket keys), no server-side
// session cache, idle read/write buffers released. On failure returns null and sets `error`
// to a message naming the file and OpenSSL's reason.
TlsContext make_tls_context(const TlsOptions& options, std::string& error);

// The ALPN choice, exposed for tests: given the client's wire-format protocol list, true if it
// contains "http/1.1".
bool alpn_offers_http11(const unsigned char* in, unsigned int in_len);

enum class Alpn : unsigned char { none, h2, http11 };
// The server's pick from the client's list: "h2" if allowed and offered (the server prefers
// it whatever the client's order), else "http/1.1", else none. A malformed list picks none.
Alpn alpn_choose(const unsigned char* in, unsigned int in_len, bool allow_h2);

}  // namespace ringcast::net
