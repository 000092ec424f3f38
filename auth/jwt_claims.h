#pragma once
// The JWT members ringcast reads (RFC 7515 header, RFC 7519 claims, and its own two scope
// claims), parsed strictly from JSON. Socket-free and crypto-free: the fuzz target and the unit
// tests drive it directly.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ringcast::http {

// Topic patterns per scope claim, at most this many (a larger list is a malformed token).
inline constexpr std::size_t kScopeEntriesMax = 256;

struct JoseHeader {
  std::string alg;  // as sent; "none", "HS256", ...
};

// A claim holding topic patterns: absent, `true` (every topic, publish only), or a list.
struct TopicScope {
  bool present = false;
  bool all = false;
  std::vector<std::string> patterns;
};

struct Claims {
  bool has_exp = false, has_nbf = false, has_iat = false;
  std::int64_t exp = 0, nbf = 0, iat = 0;  // NumericDate, seconds (fractions dropped)
  bool has_iss = false;
  std::string iss;
  std::vector<std::string> aud;            // "aud" as a string or an array of strings
  TopicScope subscribe;                    // "subscribe": ["news.*", "weather"]
  TopicScope publish;                      // "publish": true | ["news.*"]
};

// Both return an empty string_view on success, else what is wrong (static text).
// The header: "alg" is required and a string; "crit" is refused (ringcast understands no
// extension, and RFC 7515 §4.1.11 says a token naming one it cannot process is invalid);
// other members are skipped.
std::string_view parse_jose_header(std::string_view json, JoseHeader& header);
// The claims: exp/nbf/iat numbers, iss a string, aud a string or string array, "subscribe"
// an array of strings, "publish" true, false or an array of strings; any other member is
// skipped. A duplicate member name is refused (two parsers could pick different copies).
std::string_view parse_claims(std::string_view json, Claims& claims);

}  // namespace ringcast::http
