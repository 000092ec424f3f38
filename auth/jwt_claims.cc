#include "auth/jwt_claims.h"

#include <algorithm>
#include <cmath>

#include "base/assert.h"
#include "http/json_reader.h"

namespace ringcast::http {
namespace {

// RFC 7519 NumericDate; a fraction is dropped. Beyond ±2^53 s a double is no longer exact,
// and no real token needs dates past year 285 million.
std::string_view read_date(json::Reader& r, std::int64_t& out) {
  double v;
  if (r.peek() != json::Kind::number || !r.read_number(v)) return "a time claim is not a number";
  if (std::fabs(v) > 9007199254740992.0) return "a time claim is out of range";
  out = static_cast<std::int64_t>(std::floor(v));
  return {};
}

std::string_view read_string_list(json::Reader& r, std::vector<std::string>& out,
                                  std::string_view what) {
  if (!r.begin_array()) return what;
  bool first = true;
  std::string item;
  while (r.next_element(first)) {
    if (r.peek() != json::Kind::string || !r.read_string(item)) return what;
    if (out.size() >= kScopeEntriesMax) return "a claim lists too many entries";
    out.push_back(item);
  }
  RC_ASSERT(out.size() <= kScopeEntriesMax);  // the bound checked before each push
  return r.failed() ? what : std::string_view{};
}

std::string_view read_audience(json::Reader& r, std::vector<std::string>& aud) {
  if (r.peek() == json::Kind::string) {
    std::string one;
    if (!r.read_string(one)) return "aud is not a string";
    aud.push_back(std::move(one));
    return {};
  }
  return read_string_list(r, aud, "aud is neither a string nor an array of strings");
}

std::string_view read_scope(json::Reader& r, TopicScope& scope, bool allow_bool) {
  scope.present = true;
  if (allow_bool && r.peek() == json::Kind::boolean) {
    bool all;
    if (!r.read_bool(all)) return "publish is not true, false or a list";
    scope.all = all;
    scope.present = all;  // "publish": false grants nothing
    return {};
  }
  return read_string_list(r, scope.patterns, allow_bool
                                                 ? "publish is not true, false or a list"
                                                 : "subscribe is not an array of strings");
}

std::string_view read_claim(json::Reader& r, const std::string& key, Claims& c) {
  struct Date { const char* name; bool Claims::*has; std::int64_t Claims::*value; };
  static constexpr Date kDates[] = {{"exp", &Claims::has_exp, &Claims::exp},
                                    {"nbf", &Claims::has_nbf, &Claims::nbf},
                                    {"iat", &Claims::has_iat, &Claims::iat}};
  for (const Date& d : kDates) {
    if (key != d.name) continue;
    c.*(d.has) = true;
    return read_date(r, c.*(d.value));
  }
  if (key == "iss") {
    c.has_iss = true;
    if (r.peek() != json::Kind::string || !r.read_string(c.iss)) return "iss is not a string";
    return {};
  }
  if (key == "aud") return read_audience(r, c.aud);
  if (key == "subscribe") return read_scope(r, c.subscribe, false);
  if (key == "publish") return read_scope(r, c.publish, true);
  return r.skip_value() ? std::string_view{} : "the claims are not valid JSON";
}

// Walks the members of the one top-level object, calling `member` for each distinct name.
template <typename Member>
std::string_view walk_object(std::string_view json, std::string_view not_object, Member member) {
  json::Reader r(json);
  if (r.peek() != json::Kind::object || !r.begin_object()) return not_object;
  std::vector<std::string> seen;
  std::string key;
  bool first = true;
  while (r.next_member(first, key)) {
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) return "a member is repeated";
    if (seen.size() >= 64) return "too many members";
    seen.push_back(key);
    if (std::string_view why = member(r, key); !why.empty()) return why;
  }
  if (!r.finish()) return not_object;
  return {};
}

}  // namespace

std::string_view parse_jose_header(std::string_view json, JoseHeader& header) {
  bool has_alg = false;
  std::string_view why = walk_object(
      json, "the header is not a JSON object", [&](json::Reader& r, const std::string& key) {
        if (key == "crit") return std::string_view("the header names a critical extension");
        if (key != "alg") {
          return r.skip_value() ? std::string_view{} : "the header is not a JSON object";
        }
        has_alg = true;
        if (r.peek() != json::Kind::string || !r.read_string(header.alg))
          return std::string_view("alg is not a string");
        return std::string_view{};
      });
  if (!why.empty()) return why;
  return has_alg ? std::string_view{} : "the header has no alg";
}

std::string_view parse_claims(std::string_view json, Claims& claims) {
  return walk_object(json, "the claims are not a JSON object",
                     [&](json::Reader& r, const std::string& key) { return read_claim(r, key, claims); });
}

}  // namespace ringcast::http
