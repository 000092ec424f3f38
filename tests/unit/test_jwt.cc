// JWT: base64url, the strict claims parser, and verification with keys generated here.
#include "auth/jwt.h"

#include <gtest/gtest.h>

#include <string>

#include "auth/base64url.h"
#include "auth/jwt_claims.h"
#include "jwt_signer.h"

namespace ringcast::http {
namespace {

using testing::b64;
using testing::mint;

constexpr std::int64_t kNow = 1'700'000'000;
const std::string kSecret = "0123456789abcdef0123456789abcdef";  // 32 bytes

std::string claims_with(const std::string& extra) {
  return "{\"exp\":" + std::to_string(kNow + 600) + extra + "}";
}

// ---- base64url ----

TEST(Base64Url, RoundTripsEveryLength) {
  std::string bytes;
  for (int n = 0; n < 70; ++n) {
    std::string decoded;
    ASSERT_TRUE(base64url_decode(base64url_encode(bytes), decoded)) << n;
    EXPECT_EQ(decoded, bytes);
    bytes.push_back(char(n * 37 + 200));
  }
}

TEST(Base64Url, KnownVectors) {
  std::string out;
  EXPECT_TRUE(base64url_decode("Zm9vYmFy", out));
  EXPECT_EQ(out, "foobar");
  EXPECT_TRUE(base64url_decode("-_8", out));
  EXPECT_EQ(out, "\xfb\xff");
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
}

TEST(Base64Url, RefusesWhatIsNotCanonicalBase64Url) {
  std::string out;
  EXPECT_FALSE(base64url_decode("Zm9vYg==", out)) << "padding";
  EXPECT_FALSE(base64url_decode("Zm9v+/8", out)) << "standard alphabet";
  EXPECT_FALSE(base64url_decode("Zm9vY", out)) << "length 1 mod 4";
  EXPECT_FALSE(base64url_decode("Zm9 v", out)) << "space";
  EXPECT_FALSE(base64url_decode("-_9", out)) << "non-zero unused bits";
  EXPECT_TRUE(base64url_decode("", out));
}

// ---- claims parsing ----

struct ClaimsCase {
  const char* name;
  std::string json;
  bool ok;
};

class ClaimsParse : public ::testing::TestWithParam<ClaimsCase> {};

TEST_P(ClaimsParse, AcceptsOnlyStrictJson) {
  Claims claims;
  EXPECT_EQ(parse_claims(GetParam().json, claims).empty(), GetParam().ok) << GetParam().json;
}

INSTANTIATE_TEST_SUITE_P(
    Table, ClaimsParse,
    ::testing::Values(
        ClaimsCase{"Empty", "{}", true},
        ClaimsCase{"Whitespace", " {\n\"exp\" : 1 ,\t\"x\":[1,{\"y\":null}] } ", true},
        ClaimsCase{"UnknownMembersSkipped", "{\"a\":{\"b\":[true,false,null,-1.5e3,\"\\u00e9\"]}}", true},
        ClaimsCase{"FractionalDate", "{\"exp\":1700000000.75}", true},
        ClaimsCase{"NotAnObject", "[1]", false},
        ClaimsCase{"TrailingGarbage", "{} x", false},
        ClaimsCase{"TrailingComma", "{\"a\":1,}", false},
        ClaimsCase{"TrailingCommaInArray", "{\"a\":[1,]}", false},
        ClaimsCase{"DuplicateMember", "{\"exp\":1,\"exp\":2}", false},
        ClaimsCase{"ExpAsString", "{\"exp\":\"1700000000\"}", false},
        ClaimsCase{"ExpHuge", "{\"exp\":1e300}", false},
        ClaimsCase{"ExpInfinity", "{\"exp\":1e999}", false},
        ClaimsCase{"LeadingZero", "{\"exp\":0123}", false},
        ClaimsCase{"BareDot", "{\"exp\":1.}", false},
        ClaimsCase{"SingleQuotes", "{'exp':1}", false},
        ClaimsCase{"RawControlInString", "{\"iss\":\"a\x01\"}", false},
        ClaimsCase{"BadEscape", "{\"iss\":\"\\x\"}", false},
        ClaimsCase{"LoneSurrogate", "{\"iss\":\"\\ud800\"}", false},
        ClaimsCase{"SurrogatePair", "{\"iss\":\"\\ud83d\\ude00\"}", true},
        ClaimsCase{"InvalidUtf8", "{\"iss\":\"\xff\"}", false},
        ClaimsCase{"Unterminated", "{\"iss\":\"abc", false},
        ClaimsCase{"TooDeep", "{\"a\":[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]}", false},
        ClaimsCase{"SubscribeNotList", "{\"subscribe\":\"news\"}", false},
        ClaimsCase{"SubscribeNumbers", "{\"subscribe\":[1]}", false},
        ClaimsCase{"PublishTrue", "{\"publish\":true}", true},
        ClaimsCase{"PublishObject", "{\"publish\":{}}", false},
        ClaimsCase{"AudNumber", "{\"aud\":5}", false}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(ClaimsParse, ReadsTheMembersItNeeds) {
  Claims c;
  ASSERT_EQ(parse_claims("{\"exp\":10.9,\"nbf\":-3,\"iat\":5,\"iss\":\"me\",\"aud\":[\"a\",\"b\"],"
                         "\"subscribe\":[\"news.*\",\"x\"],\"publish\":[\"p\"]}", c), "");
  EXPECT_TRUE(c.has_exp && c.has_nbf && c.has_iat && c.has_iss);
  EXPECT_EQ(c.exp, 10);
  EXPECT_EQ(c.nbf, -3);
  EXPECT_EQ(c.iss, "me");
  EXPECT_EQ(c.aud, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(c.subscribe.patterns, (std::vector<std::string>{"news.*", "x"}));
  EXPECT_TRUE(c.publish.present && !c.publish.all);
  Claims f;
  ASSERT_EQ(parse_claims("{\"publish\":false,\"aud\":\"solo\"}", f), "");
  EXPECT_FALSE(f.publish.present) << "publish: false grants nothing";
  EXPECT_EQ(f.aud, std::vector<std::string>{"solo"});
}

TEST(ClaimsParse, BoundsScopeLists) {
  std::string many = "{\"subscribe\":[";
  for (std::size_t i = 0; i <= kScopeEntriesMax; ++i) many += (i ? ",\"t\"" : "\"t\"");
  many += "]}";
  Claims c;
  EXPECT_NE(parse_claims(many, c), "");
}

TEST(JoseHeader, NeedsAlgAndRefusesCrit) {
  JoseHeader h;
  EXPECT_EQ(parse_jose_header("{\"alg\":\"HS256\",\"kid\":\"k1\"}", h), "");
  EXPECT_EQ(h.alg, "HS256");
  EXPECT_NE(parse_jose_header("{\"typ\":\"JWT\"}", h), "");
  EXPECT_NE(parse_jose_header("{\"alg\":256}", h), "");
  EXPECT_NE(parse_jose_header("{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", h), "");
}

// ---- verification ----

class Verify : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    rsa_ = new testing::Pkey(testing::make_rsa(2048));
    ec_ = new testing::Pkey(testing::make_ec("P-256"));
  }
  static void TearDownTestSuite() {
    delete rsa_;
    delete ec_;
  }
  VerifyResult verify(const std::string& token, const KeySet& keys, std::int64_t now = kNow,
                      std::uint32_t leeway = 30) {
    VerifyOptions o;
    o.now_s = now;
    o.leeway_s = leeway;
    o.audience = audience;
    o.issuer = issuer;
    claims = Claims{};
    return verify_jwt(token, keys, o, claims);
  }
  static void load_hmac(KeySet& k) { EXPECT_EQ(k.set_hmac_secret(kSecret), ""); }
  static testing::Pkey* rsa_;
  static testing::Pkey* ec_;
  Claims claims;
  std::string audience, issuer;
};
testing::Pkey* Verify::rsa_ = nullptr;
testing::Pkey* Verify::ec_ = nullptr;

TEST_F(Verify, AcceptsEachAlgorithmWithItsKey) {
  KeySet hs;
  ASSERT_EQ(hs.set_hmac_secret(kSecret), "");
  EXPECT_EQ(verify(mint("HS256", claims_with(",\"subscribe\":[\"a\"]"), kSecret), hs).error, TokenError::ok);
  EXPECT_EQ(claims.subscribe.patterns, std::vector<std::string>{"a"});
  KeySet rs;
  ASSERT_EQ(rs.set_public_key_pem(testing::public_pem(rsa_->get())), "");
  EXPECT_EQ(verify(mint("RS256", claims_with(""), "", rsa_->get()), rs).error, TokenError::ok);
  KeySet es;
  ASSERT_EQ(es.set_public_key_pem(testing::public_pem(ec_->get())), "");
  EXPECT_EQ(verify(mint("ES256", claims_with(""), "", ec_->get()), es).error, TokenError::ok);
}

TEST_F(Verify, RefusesAlgNoneInAnySpelling) {
  KeySet hs;
  ASSERT_EQ(hs.set_hmac_secret(kSecret), "");
  for (const char* alg : {"none", "None", "NONE"}) {
    const std::string token = b64(std::string("{\"alg\":\"") + alg + "\"}") + "." +
                              b64(claims_with("")) + ".";
    EXPECT_EQ(verify(token, hs).error, TokenError::alg_none) << alg;
  }
}

TEST_F(Verify, RefusesAnAlgorithmTheKeyTypeCannotCheck) {
  KeySet rs;
  ASSERT_EQ(rs.set_public_key_pem(testing::public_pem(rsa_->get())), "");
  // The RS/HS confusion: an HMAC "signed" with the public key's PEM text as the secret.
  const std::string pem = testing::public_pem(rsa_->get());
  EXPECT_EQ(verify(mint("HS256", claims_with(""), pem), rs).error, TokenError::wrong_alg);
  EXPECT_EQ(verify(mint("ES256", claims_with(""), "", ec_->get()), rs).error, TokenError::wrong_alg);
  KeySet es;
  ASSERT_EQ(es.set_public_key_pem(testing::public_pem(ec_->get())), "");
  EXPECT_EQ(verify(mint("RS256", claims_with(""), "", rsa_->get()), es).error, TokenError::wrong_alg);
  KeySet hs;
  load_hmac(hs);
  EXPECT_EQ(verify(mint("RS256", claims_with(""), "", rsa_->get()), hs).error, TokenError::wrong_alg);
  for (const char* alg : {"HS512", "PS256", "hs256", "ES384"}) {
    EXPECT_EQ(verify(mint(alg, claims_with(""), kSecret), hs).error, TokenError::wrong_alg) << alg;
  }
}

TEST_F(Verify, RefusesBadSignatures) {
  KeySet hs;
  load_hmac(hs);
  std::string token = mint("HS256", claims_with(""), "another secret of 32 bytes length!");
  EXPECT_EQ(verify(token, hs).error, TokenError::bad_signature);
  // A changed claim under the original signature.
  token = mint("HS256", claims_with(""), kSecret);
  const std::size_t dot2 = token.rfind('.');
  const std::string forged = b64("{\"alg\":\"HS256\",\"typ\":\"JWT\"}") + "." +
                             b64(claims_with(",\"subscribe\":[\"*\"]")) + token.substr(dot2);
  EXPECT_EQ(verify(forged, hs).error, TokenError::bad_signature);
  // ES256: a DER signature where JOSE wants raw r || s, and a truncated one.
  KeySet es;
  ASSERT_EQ(es.set_public_key_pem(testing::public_pem(ec_->get())), "");
  const std::string input = b64("{\"alg\":\"ES256\"}") + "." + b64(claims_with(""));
  const std::string der = testing::sign_pkey(input, ec_->get());
  EXPECT_EQ(verify(input + "." + b64(der), es).error, TokenError::bad_signature);
  const std::string raw = testing::der_to_raw(der);
  EXPECT_EQ(verify(input + "." + b64(raw), es).error, TokenError::ok);
  EXPECT_EQ(verify(input + "." + b64(raw.substr(0, 63)), es).error, TokenError::bad_signature);
  // RS256 signed by another RSA key.
  KeySet rs;
  ASSERT_EQ(rs.set_public_key_pem(testing::public_pem(rsa_->get())), "");
  testing::Pkey other = testing::make_rsa(2048);
  EXPECT_EQ(verify(mint("RS256", claims_with(""), "", other.get()), rs).error, TokenError::bad_signature);
}

TEST_F(Verify, RefusesMalformedTokens) {
  KeySet hs;
  load_hmac(hs);
  const std::string good = mint("HS256", claims_with(""), kSecret);
  for (const std::string& t : {std::string(""), std::string("abc"), std::string("a.b"),
                               good + ".x", std::string("!!.e30.sig"),
                               std::string(kTokenBytesMax + 1, 'a')}) {
    EXPECT_EQ(verify(t, hs).error, TokenError::malformed) << t.substr(0, 40);
  }
  // Signed correctly, but the claims are not JSON, or lack exp.
  EXPECT_EQ(verify(mint("HS256", "{\"exp\":1", kSecret), hs).error, TokenError::malformed);
  EXPECT_EQ(verify(mint("HS256", "{\"sub\":\"x\"}", kSecret), hs).error, TokenError::malformed);
  EXPECT_EQ(verify(mint("HS256", claims_with(""), kSecret, nullptr, "{\"alg\":\"HS256\",\"crit\":[\"b64\"]}"), hs).error,
            TokenError::malformed);
}

TEST_F(Verify, TimeClaimsAtTheEdgesOfTheLeeway) {
  KeySet hs;
  load_hmac(hs);
  auto at = [&](const std::string& claims_json, std::int64_t now) {
    return verify(mint("HS256", claims_json, kSecret), hs, now, 30).error;
  };
  const std::string exp = "{\"exp\":" + std::to_string(kNow) + "}";
  EXPECT_EQ(at(exp, kNow - 1), TokenError::ok);
  EXPECT_EQ(at(exp, kNow + 29), TokenError::ok) << "inside the skew";
  EXPECT_EQ(at(exp, kNow + 30), TokenError::expired) << "exp + leeway is already too late";
  const std::string nbf = "{\"exp\":" + std::to_string(kNow + 999) + ",\"nbf\":" + std::to_string(kNow) + "}";
  EXPECT_EQ(at(nbf, kNow - 30), TokenError::ok) << "nbf - leeway is allowed";
  EXPECT_EQ(at(nbf, kNow - 31), TokenError::not_yet_valid);
  const std::string iat = "{\"exp\":" + std::to_string(kNow + 999) + ",\"iat\":" + std::to_string(kNow) + "}";
  EXPECT_EQ(at(iat, kNow - 30), TokenError::ok);
  EXPECT_EQ(at(iat, kNow - 31), TokenError::not_yet_valid) << "issued in the future";
  // No leeway at all.
  EXPECT_EQ(verify(mint("HS256", exp, kSecret), hs, kNow, 0).error, TokenError::expired);
  EXPECT_EQ(verify(mint("HS256", exp, kSecret), hs, kNow - 1, 0).error, TokenError::ok);
}

TEST_F(Verify, AudienceAndIssuerWhenConfigured) {
  KeySet hs;
  load_hmac(hs);
  audience = "ringcast";
  issuer = "https://issuer.example";
  const std::string iss = ",\"iss\":\"https://issuer.example\"";
  EXPECT_EQ(verify(mint("HS256", claims_with(",\"aud\":\"ringcast\"" + iss), kSecret), hs).error, TokenError::ok);
  EXPECT_EQ(verify(mint("HS256", claims_with(",\"aud\":[\"x\",\"ringcast\"]" + iss), kSecret), hs).error, TokenError::ok);
  EXPECT_EQ(verify(mint("HS256", claims_with(",\"aud\":\"other\"" + iss), kSecret), hs).error, TokenError::audience);
  EXPECT_EQ(verify(mint("HS256", claims_with(iss), kSecret), hs).error, TokenError::audience);
  EXPECT_EQ(verify(mint("HS256", claims_with(",\"aud\":\"ringcast\""), kSecret), hs).error, TokenError::issuer);
  EXPECT_EQ(verify(mint("HS256", claims_with(",\"aud\":\"ringcast\",\"iss\":\"evil\""), kSecret), hs).error,
            TokenError::issuer);
}

TEST_F(Verify, KeyLoadingRefusesWeakOrForeignKeys) {
  KeySet k;
  EXPECT_NE(k.set_hmac_secret("short"), "");
  EXPECT_NE(k.set_public_key_pem("not a pem"), "");
  EXPECT_NE(k.set_public_key_pem(testing::public_pem(testing::make_rsa(1024).get())), "");
  EXPECT_NE(k.set_public_key_pem(testing::public_pem(testing::make_ec("P-384").get())), "");
  EXPECT_NE(k.set_public_key_pem(testing::public_pem(testing::make_ed25519().get())), "");
  EXPECT_TRUE(k.empty());
}

}  // namespace
}  // namespace ringcast::http
