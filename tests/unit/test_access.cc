// Access decisions without sockets: topic scopes, CORS, token sources and the 401/403 rules.
#include "auth/access.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "auth/topic_scope.h"
#include "http/response.h"
#include "jwt_signer.h"

namespace ringcast::http {
namespace {

constexpr std::int64_t kNow = 1'700'000'000;
const std::string kSecret = "0123456789abcdef0123456789abcdef";

// ---- scopes ----

TEST(TopicScope, ExactNamesAndPrefixWildcards) {
  EXPECT_TRUE(topic_matches("news", "news"));
  EXPECT_FALSE(topic_matches("news", "news.eu"));
  EXPECT_TRUE(topic_matches("news.*", "news.eu"));
  EXPECT_TRUE(topic_matches("news.*", "news.eu.fr"));
  EXPECT_FALSE(topic_matches("news.*", "news")) << "the prefix needs something after it";
  EXPECT_FALSE(topic_matches("news.*", "newsroom"));
  EXPECT_TRUE(topic_matches("news*", "newsroom"));
  EXPECT_TRUE(topic_matches("*", "anything"));
  EXPECT_FALSE(topic_matches("*", ""));
  EXPECT_FALSE(topic_matches("n*ws", "news")) << "'*' only works at the end";
  EXPECT_FALSE(topic_matches("", "news"));
}

TEST(TopicScope, AbsentGrantsNothingTrueGrantsAll) {
  TopicScope none;
  EXPECT_FALSE(scope_grants(none, "a"));
  TopicScope all;
  all.present = all.all = true;
  EXPECT_TRUE(scope_grants(all, "a"));
  TopicScope list;
  list.present = true;
  list.patterns = {"a", "b.*"};
  EXPECT_TRUE(scope_grants(list, "b.c"));
  EXPECT_FALSE(scope_grants(list, "c"));
}

// ---- CORS ----

TEST(Cors, ListedOriginsGetCredentialsWildcardDoesNot) {
  CorsPolicy p;
  ASSERT_EQ(p.configure("https://a.example, http://127.0.0.1:8000,*"), "");
  CorsPolicy::Decision a = p.decide("https://a.example");
  ASSERT_TRUE(a.allowed);
  EXPECT_EQ(p.headers(a.slot),
            "Access-Control-Allow-Origin: https://a.example\r\n"
            "Access-Control-Allow-Credentials: true\r\nVary: Origin\r\n");
  CorsPolicy::Decision other = p.decide("https://evil.example");
  ASSERT_TRUE(other.allowed);
  EXPECT_EQ(p.headers(other.slot), "Access-Control-Allow-Origin: *\r\n");
  EXPECT_EQ(p.decide("").slot, 0) << "no Origin: not a cross-origin request";
  EXPECT_EQ(p.slots(), 4u);
}

TEST(Cors, UnlistedOriginIsRefused) {
  CorsPolicy p;
  ASSERT_EQ(p.configure("https://a.example"), "");
  EXPECT_FALSE(p.decide("https://a.example.evil").allowed);
  EXPECT_FALSE(p.decide("https://A.example").allowed) << "browsers send origins in lower case";
  EXPECT_FALSE(p.decide("null").allowed);
  EXPECT_EQ(p.headers(p.decide("https://b.example").slot), "");
  const std::string pre = p.preflight_headers(p.decide("https://a.example").slot, "POST, OPTIONS");
  EXPECT_NE(pre.find("Access-Control-Allow-Methods: POST, OPTIONS\r\n"), std::string::npos);
  EXPECT_NE(pre.find("Access-Control-Allow-Headers: Authorization"), std::string::npos);
  EXPECT_NE(pre.find("Access-Control-Max-Age: 600\r\n"), std::string::npos);
}

TEST(Cors, ConfigureRefusesWhatIsNotAnOrigin) {
  CorsPolicy p;
  for (const char* bad : {"a.example", "https://a.example/", "https://a.example/path",
                          "https://A.example", "null", ",", "https://a\r\nX: y"}) {
    EXPECT_NE(p.configure(bad), "") << bad;
  }
  std::string many;
  for (int i = 0; i <= int(kCorsOriginsMax); ++i) many += "https://h" + std::to_string(i) + ",";
  EXPECT_NE(p.configure(many), "");
}

TEST(Cors, StreamHeadCarriesTheOriginsHeaders) {
  const std::string head = stream_head("Access-Control-Allow-Origin: *\r\n");
  EXPECT_TRUE(head.ends_with("\r\nConnection: keep-alive\r\nAccess-Control-Allow-Origin: *\r\n\r\n"))
      << head;
  EXPECT_EQ(head.substr(0, 17), "HTTP/1.1 200 OK\r\n");
}

// ---- token sources ----

TEST(TokenSources, BearerCookieAndRedaction) {
  std::string_view t;
  EXPECT_TRUE(bearer_token("Bearer abc.def.ghi", t));
  EXPECT_EQ(t, "abc.def.ghi");
  EXPECT_TRUE(bearer_token("bearer   x", t));
  EXPECT_EQ(t, "x");
  EXPECT_FALSE(bearer_token("Basic dXNlcjpwYXNz", t));
  EXPECT_FALSE(bearer_token("Bearer", t));
  EXPECT_FALSE(bearer_token("Bearer a b", t));
  EXPECT_EQ(cookie_value("a=1; rc_token=xyz; b=2", "rc_token"), "xyz");
  EXPECT_EQ(cookie_value("rc_token=\"q\"", "rc_token"), "q");
  EXPECT_EQ(cookie_value("xrc_token=1", "rc_token"), "");
  EXPECT_EQ(cookie_value("", "rc_token"), "");
  EXPECT_EQ(redact_access_token("/sse/a?topic=b&access_token=SECRET&x=1"),
            "/sse/a?topic=b&access_token=REDACTED&x=1");
  EXPECT_EQ(redact_access_token("/sse/a?access_token=S"), "/sse/a?access_token=REDACTED");
  EXPECT_EQ(redact_access_token("/sse/a"), "/sse/a");
}

// ---- decisions over parsed requests ----

class Decide : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(policy.keys.set_hmac_secret(kSecret), "");
    policy.settings.cookie_name = "rc";
  }
  // Parses `head` and keeps the bytes alive for the Request's views.
  const Request& parse(std::string head) {
    raw = std::move(head) + "\r\n";
    ParseResult r = parse_request(raw, ParseLimits{16384, 8192, false}, req);
    EXPECT_EQ(r.status, ParseStatus::complete) << raw;
    return req;
  }
  std::string token(const std::string& extra, std::int64_t exp = kNow + 60) {
    return testing::mint("HS256", "{\"exp\":" + std::to_string(exp) + extra + "}", kSecret);
  }
  AuthOutcome subscribe(const std::string& head, std::vector<std::string> topics = {"news.eu"}) {
    return policy.check_subscribe(parse(head), topics, kNow);
  }
  AuthOutcome publish(const std::string& head, std::string_view topic = "news.eu") {
    return policy.check_publish(parse(head), topic, kNow);
  }
  AccessPolicy policy;
  std::string raw;
  Request req;
};

TEST_F(Decide, SubscribeTokenFromHeaderQueryOrCookie) {
  const std::string t = token(",\"subscribe\":[\"news.*\"]");
  EXPECT_EQ(subscribe("GET /sse/news.eu HTTP/1.1\r\nAuthorization: Bearer " + t + "\r\n").status, 0);
  EXPECT_EQ(subscribe("GET /sse/news.eu?access_token=" + t + " HTTP/1.1\r\n").status, 0);
  EXPECT_EQ(subscribe("GET /sse/news.eu HTTP/1.1\r\nCookie: a=b; rc=" + t + "\r\n").status, 0);
  // The header wins over the query.
  AuthOutcome o = subscribe("GET /sse/news.eu?access_token=" + t +
                            " HTTP/1.1\r\nAuthorization: Bearer " + token("", kNow - 100) + "\r\n");
  EXPECT_EQ(o.status, 401);
  EXPECT_EQ(o.reason, AuthReason::expired);
}

TEST_F(Decide, SubscribeWithoutTokenOpenUnlessRequired) {
  EXPECT_EQ(subscribe("GET /sse/news.eu HTTP/1.1\r\n").status, 0);
  policy.settings.require_subscribe_token = true;
  AuthOutcome o = subscribe("GET /sse/news.eu HTTP/1.1\r\n");
  EXPECT_EQ(o.status, 401);
  EXPECT_EQ(o.reason, AuthReason::missing);
  EXPECT_EQ(o.www_authenticate, "WWW-Authenticate: Bearer realm=\"ringcast\"\r\n");
  // A cookie is only read under the configured name.
  policy.settings.cookie_name.clear();
  EXPECT_EQ(subscribe("GET /sse/news.eu HTTP/1.1\r\nCookie: rc=" + token(",\"subscribe\":[\"*\"]") +
                      "\r\n").reason, AuthReason::missing);
}

TEST_F(Decide, SubscribeScopeIsCheckedForEveryTopic) {
  const std::string t = token(",\"subscribe\":[\"news.*\",\"weather\"]");
  const std::string head = "GET /sse HTTP/1.1\r\nAuthorization: Bearer " + t + "\r\n";
  EXPECT_EQ(subscribe(head, {"news.eu", "weather"}).status, 0);
  AuthOutcome o = subscribe(head, {"news.eu", "sport"});
  EXPECT_EQ(o.status, 403);
  EXPECT_EQ(o.reason, AuthReason::out_of_scope);
  EXPECT_NE(o.www_authenticate.find("insufficient_scope"), std::string_view::npos);
  // A token without a subscribe claim grants no topic.
  EXPECT_EQ(subscribe("GET /sse/x HTTP/1.1\r\nAuthorization: Bearer " + token("") + "\r\n").status, 403);
}

TEST_F(Decide, SubscribeRefusalsSayWhy) {
  const std::string bearer = "GET /sse/news.eu HTTP/1.1\r\nAuthorization: ";
  EXPECT_EQ(subscribe(bearer + "Basic dXNlcjpwYXNz\r\n").reason, AuthReason::malformed);
  EXPECT_EQ(subscribe(bearer + "Bearer not.a.jwt\r\n").reason, AuthReason::malformed);
  AuthOutcome o = subscribe(bearer + "Bearer " + token(",\"subscribe\":[\"*\"]", kNow - 31) + "\r\n");
  EXPECT_EQ(o.reason, AuthReason::expired);
  EXPECT_EQ(o.www_authenticate,
            "WWW-Authenticate: Bearer realm=\"ringcast\", error=\"invalid_token\", "
            "error_description=\"expired\"\r\n");
  EXPECT_EQ(subscribe("GET /sse/news.eu?access_token=%zz HTTP/1.1\r\n").reason, AuthReason::malformed);
}

TEST_F(Decide, PublishNeedsTheTokenOrAPublishClaim) {
  policy.settings.publish_token = "pub-secret";
  AuthOutcome missing = publish("POST /pub/news.eu HTTP/1.1\r\n");
  EXPECT_EQ(missing.status, 401);
  EXPECT_EQ(missing.reason, AuthReason::missing);
  EXPECT_EQ(publish("POST /pub/news.eu HTTP/1.1\r\nAuthorization: Bearer pub-secret\r\n").status, 0);
  // Not the publish token, so it must be a JWT (a key is configured): it is not one.
  EXPECT_EQ(publish("POST /pub/news.eu HTTP/1.1\r\nAuthorization: Bearer pub-secreT\r\n").reason,
            AuthReason::malformed);
  const std::string all = token(",\"publish\":true");
  const std::string some = token(",\"publish\":[\"news.*\"]");
  const std::string subscriber = token(",\"subscribe\":[\"*\"]");
  EXPECT_EQ(publish("POST /pub/x HTTP/1.1\r\nAuthorization: Bearer " + all + "\r\n", "x").status, 0);
  EXPECT_EQ(publish("POST /pub/news.eu HTTP/1.1\r\nAuthorization: Bearer " + some + "\r\n").status, 0);
  EXPECT_EQ(publish("POST /pub/x HTTP/1.1\r\nAuthorization: Bearer " + some + "\r\n", "x").status, 403);
  EXPECT_EQ(publish("POST /pub/x HTTP/1.1\r\nAuthorization: Bearer " + subscriber + "\r\n", "x").status, 403);
  // Publishing never reads a cookie or ?access_token= (a cookie would invite CSRF).
  EXPECT_EQ(publish("POST /pub/news.eu?access_token=" + all + " HTTP/1.1\r\nCookie: rc=" + all +
                    "\r\n").reason, AuthReason::missing);
}

TEST_F(Decide, PublishTokenAloneAndNothingAtAll) {
  AccessPolicy only_token;
  only_token.settings.publish_token = "pub-secret";
  EXPECT_FALSE(only_token.publish_open());
  AuthOutcome o = only_token.check_publish(parse("POST /pub/a HTTP/1.1\r\nAuthorization: Bearer nope\r\n"), "a", kNow);
  EXPECT_EQ(o.status, 401);
  EXPECT_EQ(o.reason, AuthReason::wrong_token);
  // Subscribing stays open: there is no key to check a subscriber's token with.
  EXPECT_EQ(only_token.check_subscribe(parse("GET /sse/a HTTP/1.1\r\n"), std::vector<std::string>{"a"}, kNow).status, 0);
  AccessPolicy open;
  EXPECT_TRUE(open.publish_open());
  EXPECT_EQ(open.check_publish(parse("POST /pub/a HTTP/1.1\r\n"), "a", kNow).status, 0);
}

TEST_F(Decide, ReasonNamesAreStable) {
  EXPECT_EQ(auth_reason_name(AuthReason::missing), "missing");
  EXPECT_EQ(auth_reason_name(AuthReason::out_of_scope), "out_of_scope");
  EXPECT_EQ(auth_reason_name(AuthReason::cors_origin), "cors_origin");
}

}  // namespace
}  // namespace ringcast::http
