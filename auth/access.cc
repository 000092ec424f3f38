#include "auth/access.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>

#include "auth/topic_scope.h"
#include "base/assert.h"
#include "http/query.h"

namespace ringcast::http {
namespace {

struct ReasonText {
  const char* name;
  const char* www_authenticate;
};

// RFC 6750 §3: the challenge says "invalid_token" for a bad one, nothing more for a missing
// one, "insufficient_scope" for a valid one that does not reach the resource.
#define RC_INVALID(reason) \
  "WWW-Authenticate: Bearer realm=\"ringcast\", error=\"invalid_token\", " \
  "error_description=\"" reason "\"\r\n"
constexpr ReasonText kReasons[kAuthReasons] = {
    {"missing", "WWW-Authenticate: Bearer realm=\"ringcast\"\r\n"},
    {"malformed", RC_INVALID("malformed")},
    {"alg_none", RC_INVALID("alg_none")},
    {"wrong_alg", RC_INVALID("wrong_alg")},
    {"bad_signature", RC_INVALID("bad_signature")},
    {"expired", RC_INVALID("expired")},
    {"not_yet_valid", RC_INVALID("not_yet_valid")},
    {"audience", RC_INVALID("audience")},
    {"issuer", RC_INVALID("issuer")},
    {"wrong_token", RC_INVALID("wrong_token")},
    {"out_of_scope", "WWW-Authenticate: Bearer realm=\"ringcast\", error=\"insufficient_scope\"\r\n"},
    {"cors_origin", ""},
};
#undef RC_INVALID

AuthOutcome refuse(int status, AuthReason reason, std::string_view detail) {
  // 401 asks for (another) token, 403 says this one does not reach the topic (RFC 6750 §3.1).
  RC_ASSERT((status == 401 || status == 403) && reason < AuthReason::count && !detail.empty());
  return {status, reason, detail, kReasons[std::size_t(reason)].www_authenticate};
}

AuthReason reason_of(TokenError e) {
  RC_ASSERT(e != TokenError::ok);  // only refusals are translated
  switch (e) {
    case TokenError::malformed: return AuthReason::malformed;
    case TokenError::alg_none: return AuthReason::alg_none;
    case TokenError::wrong_alg: return AuthReason::wrong_alg;
    case TokenError::bad_signature: return AuthReason::bad_signature;
    case TokenError::expired: return AuthReason::expired;
    case TokenError::not_yet_valid: return AuthReason::not_yet_valid;
    case TokenError::audience: return AuthReason::audience;
    case TokenError::issuer: return AuthReason::issuer;
    case TokenError::ok: break;
  }
  return AuthReason::malformed;
}

// Compares a presented secret with the configured one in time that depends on neither's
// content nor length: both are hashed to fixed-length digests first, then compared with
// CRYPTO_memcmp (a length check up front would tell an attacker the token's length).
bool same_secret(std::string_view presented, std::string_view secret) {
  unsigned char a[EVP_MAX_MD_SIZE], b[EVP_MAX_MD_SIZE];
  unsigned int a_len = 0, b_len = 0;
  const bool ok = EVP_Digest(presented.data(), presented.size(), a, &a_len, EVP_sha256(), nullptr) == 1 &&
                  EVP_Digest(secret.data(), secret.size(), b, &b_len, EVP_sha256(), nullptr) == 1;
  return ok && a_len == b_len && CRYPTO_memcmp(a, b, a_len) == 0;
}

bool iequals_ascii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = char(x + 32);
    if (y >= 'A' && y <= 'Z') y = char(y + 32);
    if (x != y) return false;
  }
  return true;
}

// The subscriber's token: Authorization first, then ?access_token=, then the cookie.
// Returns false (with `bad` set) when a source is present but unusable.
bool subscriber_token(const Request& req, std::string_view cookie_name, std::string& token,
                      AuthOutcome& bad) {
  token.clear();
  if (!req.authorization.empty()) {
    std::string_view t;
    if (!bearer_token(req.authorization, t)) {
      bad = refuse(401, AuthReason::malformed, "use Authorization: Bearer <token>");
      return false;
    }
    token.assign(t);
    return true;
  }
  QueryIter it(req.query);
  std::string_view key, value;
  while (it.next(key, value)) {
    if (key != "access_token") continue;
    if (!percent_decode(value, token) || token.empty()) {
      bad = refuse(401, AuthReason::malformed, "malformed access_token");
      return false;
    }
    return true;
  }
  if (!cookie_name.empty()) token.assign(cookie_value(req.cookie, cookie_name));
  return true;
}

}  // namespace

std::string_view auth_reason_name(AuthReason reason) {
  return reason < AuthReason::count ? kReasons[std::size_t(reason)].name : "unknown";
}

bool bearer_token(std::string_view authorization, std::string_view& token) {
  const std::size_t sp = authorization.find(' ');
  if (sp == std::string_view::npos || !iequals_ascii(authorization.substr(0, sp), "bearer"))
    return false;
  token = authorization.substr(sp + 1);
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  return !token.empty() && token.find(' ') == std::string_view::npos;
}

std::string_view cookie_value(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    const std::size_t semi = header.find(';');
    std::string_view pair = header.substr(0, semi);
    header = semi == std::string_view::npos ? std::string_view{} : header.substr(semi + 1);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    const std::size_t eq = pair.find('=');
    if (eq == std::string_view::npos || pair.substr(0, eq) != name) continue;
    std::string_view value = pair.substr(eq + 1);
    while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
    // RFC 6265 §4.1.1 allows the value in double quotes.
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    return value;
  }
  return {};
}

std::string redact_access_token(std::string_view target) {
  const std::size_t q = target.find('?');
  if (q == std::string_view::npos) return std::string(target);
  std::string out(target.substr(0, q + 1));
  std::string_view query = target.substr(q + 1);
  for (;;) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    out += pair.substr(0, 13) == "access_token=" ? std::string_view("access_token=REDACTED") : pair;
    if (amp == std::string_view::npos) break;
    out += '&';
    query = query.substr(amp + 1);
  }
  return out;
}

AuthOutcome AccessPolicy::verify(std::string_view token, std::int64_t now_s, Claims& claims) const {
  VerifyOptions options;
  options.now_s = now_s;
  options.leeway_s = settings.leeway_s;
  options.audience = settings.audience;
  options.issuer = settings.issuer;
  const VerifyResult r = verify_jwt(token, keys, options, claims);
  if (r.error != TokenError::ok) return refuse(401, reason_of(r.error), r.detail);
  return {};
}

AuthOutcome AccessPolicy::check_subscribe(const Request& req, std::span<const std::string> topics,
                                          std::int64_t now_s) const {
  if (keys.empty()) return {};  // no JWT key: subscribing is open (validate() saw to the rest)
  std::string token;
  AuthOutcome bad;
  if (!subscriber_token(req, settings.cookie_name, token, bad)) return bad;
  if (token.empty()) {
    if (!settings.require_subscribe_token) return {};
    return refuse(401, AuthReason::missing, "this server needs a token to subscribe");
  }
  Claims claims;
  if (AuthOutcome v = verify(token, now_s, claims); v.status != 0) return v;
  for (const std::string& topic : topics) {
    if (!scope_grants(claims.subscribe, topic))
      return refuse(403, AuthReason::out_of_scope, "the token does not grant this topic");
  }
  AuthOutcome allowed;
  allowed.expires_s = std::max<std::int64_t>(1, claims.exp + std::int64_t(settings.leeway_s));
  return allowed;
}

AuthOutcome AccessPolicy::subscribe_scope(const Request& req, std::int64_t now_s,
                                          TopicScope& scope) const {
  scope = TopicScope{};
  scope.all = true;
  if (keys.empty()) return {};  // as check_subscribe: subscribing is open
  std::string token;
  AuthOutcome bad;
  if (!subscriber_token(req, settings.cookie_name, token, bad)) return bad;
  if (token.empty()) {
    if (!settings.require_subscribe_token) return {};
    return refuse(401, AuthReason::missing, "this server needs a token to subscribe");
  }
  Claims claims;
  if (AuthOutcome v = verify(token, now_s, claims); v.status != 0) return v;
  scope = std::move(claims.subscribe);
  return {};
}

AuthOutcome AccessPolicy::check_publish(const Request& req, std::string_view topic,
                                        std::int64_t now_s) const {
  if (publish_open()) return {};
  if (req.authorization.empty())
    return refuse(401, AuthReason::missing, "publishing needs Authorization: Bearer <token>");
  std::string_view token;
  if (!bearer_token(req.authorization, token))
    return refuse(401, AuthReason::malformed, "use Authorization: Bearer <token>");
  if (!settings.publish_token.empty() && same_secret(token, settings.publish_token)) return {};
  if (keys.empty()) return refuse(401, AuthReason::wrong_token, "wrong publish token");
  Claims claims;
  if (AuthOutcome v = verify(token, now_s, claims); v.status != 0) return v;
  if (!scope_grants(claims.publish, topic))
    return refuse(403, AuthReason::out_of_scope, "the token does not grant publishing to this topic");
  return {};
}

}  // namespace ringcast::http
