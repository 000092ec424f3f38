// libFuzzer target: token parsing and verification on arbitrary bytes. The input is split at
// the first NUL byte (if any) into a token and a claims text, so one run drives both
// verify_jwt and the claims parser directly (a token reaches the claims only after its
// signature verified, which mutations rarely keep).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "auth/access.h"
#include "auth/base64url.h"
#include "auth/jwt.h"
#include "auth/jwt_claims.h"
#include "auth/topic_scope.h"

namespace {

const ringcast::http::KeySet& keys() {
  static ringcast::http::KeySet* k = [] {
    auto* set = new ringcast::http::KeySet();
    if (!set->set_hmac_secret("fuzz-secret-fuzz-secret-fuzz-secret!").empty()) std::abort();
    return set;
  }();
  return *k;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  using namespace ringcast::http;
  const std::string_view input(reinterpret_cast<const char*>(bytes), size);
  const std::size_t nul = input.find('\0');
  const std::string_view token = input.substr(0, nul);
  const std::string_view json = nul == std::string_view::npos ? input : input.substr(nul + 1);

  VerifyOptions options;
  options.now_s = 1'700'000'000;
  Claims claims;
  const VerifyResult r = verify_jwt(token, keys(), options, claims);
  // An accepted token (the seed corpus holds one signed with the secret above) has an exp
  // that has not passed; a refused one says why.
  if (r.error == TokenError::ok && (!claims.has_exp || claims.exp + 30 <= options.now_s)) std::abort();
  if (r.error != TokenError::ok && r.detail.empty()) std::abort();

  Claims direct;
  if (parse_claims(json, direct).empty()) {
    if (direct.subscribe.patterns.size() > kScopeEntriesMax) std::abort();
    for (const std::string& p : direct.subscribe.patterns) (void)scope_grants(direct.subscribe, p);
  }
  JoseHeader header;
  (void)parse_jose_header(json, header);

  std::string decoded;
  if (base64url_decode(token, decoded) && base64url_encode(decoded) != token) std::abort();
  std::string_view bearer;
  (void)bearer_token(token, bearer);
  (void)cookie_value(token, "rc");
  (void)redact_access_token(token);
  return 0;
}
