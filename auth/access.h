#pragma once
// Who may publish and subscribe, decided from one parsed request: the token sources
// (Authorization: Bearer, a cookie, ?access_token=), JWT verification, topic scopes and the
// --publish-token. Socket-free; the shard asks and answers with the status it is given.
// Built once at start-up (keys loaded there) and shared read-only by every shard.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "auth/cors.h"
#include "auth/jwt.h"
#include "http/request_parser.h"

namespace ringcast::http {

// Why a request was refused, one counter each in /metrics.
enum class AuthReason : std::uint8_t {
  missing,        // 401: no token where one is required
  malformed,      // 401: not a JWT (parts, base64url, JSON, claim types, no exp, not Bearer)
  alg_none,       // 401: "alg": "none"
  wrong_alg,      // 401: an alg the configured keys cannot check
  bad_signature,  // 401
  expired,        // 401
  not_yet_valid,  // 401: nbf or iat in the future (beyond the leeway)
  audience,       // 401: --jwt-audience not in "aud"
  issuer,         // 401: "iss" is not --jwt-issuer
  wrong_token,    // 401: a publisher's bearer is not --publish-token (and no JWT key is set)
  out_of_scope,   // 403: a valid token that does not grant the topic
  cors_origin,    // 403: a preflight from an origin not in --cors-origin
  count,
};
inline constexpr std::size_t kAuthReasons = std::size_t(AuthReason::count);
std::string_view auth_reason_name(AuthReason reason);

struct AccessSettings {
  std::string publish_token;            // --publish-token (empty: none)
  std::uint32_t leeway_s = 30;          // --jwt-leeway-s
  std::string audience;                 // --jwt-audience
  std::string issuer;                   // --jwt-issuer
  bool require_subscribe_token = false; // --require-subscribe-token
  std::string cookie_name;              // --jwt-cookie (empty: cookies are not read)
};

struct AuthOutcome {
  int status = 0;  // 0: allowed; else 401 or 403
  AuthReason reason = AuthReason::missing;
  std::string_view detail;            // static text for the error body
  std::string_view www_authenticate;  // "WWW-Authenticate: ..." CRLF (static), for 401/403
  // Allowed by a token: the unix second after which it no longer is (its exp plus the
  // leeway). A stream it opened is ended then. 0: no token was involved.
  std::int64_t expires_s = 0;
};

class AccessPolicy {
 public:
  AccessSettings settings;
  KeySet keys;
  CorsPolicy cors;

  // Nothing configured: publishing is open, as it is without any of the flags.
  bool publish_open() const { return settings.publish_token.empty() && keys.empty(); }

  // Every topic of the stream must be granted by the token's "subscribe" claim. Without a
  // token the stream is allowed unless --require-subscribe-token; a token that is sent is
  // always checked (a client that sends a bad token is told so).
  AuthOutcome check_subscribe(const Request& req, std::span<const std::string> topics,
                              std::int64_t now_s) const;
  // The topics a caller may see listed (GET /topics): `scope.all` when subscribing is open
  // to it (no JWT key, or no token sent and none required), else its token's "subscribe"
  // claim. A bad token, or none where one is required, is refused like a stream would be.
  AuthOutcome subscribe_scope(const Request& req, std::int64_t now_s, TopicScope& scope) const;
  // The bearer must be --publish-token, or a JWT whose "publish" claim grants `topic`.
  AuthOutcome check_publish(const Request& req, std::string_view topic, std::int64_t now_s) const;

 private:
  AuthOutcome verify(std::string_view token, std::int64_t now_s, Claims& claims) const;
};

// "Bearer <token>" (scheme case-insensitive). False if the header is something else.
bool bearer_token(std::string_view authorization, std::string_view& token);
// The value of cookie `name` in a Cookie header ("a=1; b=2"), empty if absent.
std::string_view cookie_value(std::string_view cookie_header, std::string_view name);
// The request target with the value of any access_token query parameter replaced by
// "REDACTED", for logs: a bearer token in a URL must not end up in a log file.
std::string redact_access_token(std::string_view target);

}  // namespace ringcast::http
