// Issue #15 at the shard, over the simulated IO: refused reads create nothing, unused topics
// are reclaimed, a full topic table is never fatal, a stream ends when its token expires.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "auth/access.h"
#include "base/clock.h"
#include "core/chunk.h"
#include "tests/unit/jwt_signer.h"
#include "tests/unit/sim_shard.h"

namespace ringcast {
namespace {

constexpr char kSecret[] = "0123456789abcdef0123456789abcdef";

Config small_table(std::uint32_t max_topics) {
  Config c = SimShard::base_config();
  c.max_topics = max_topics;
  c.max_topics_per_stream = 1;
  return c;
}

// Runs enough passes, across enough simulated time, that the shard has ticked.
// The wall clock the shard reads, in seconds (for token expiry).
std::int64_t unix_s(const SimShard& s) { return std::int64_t(s.io.unix_ms() / 1000); }

void tick(SimShard& s) {
  s.io.advance_ms(300);
  s.settle();
}

std::string publish_with(SimShard& s, const std::string& topic, const std::string& bearer) {
  const std::uint32_t fd = s.request("POST /pub/" + topic + " HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " +
                                     bearer + "\r\nContent-Length: 1\r\n\r\nx");
  return s.io.received(fd);
}

TEST(ShardSecurity, ReadsRefusedByAccessControlCreateNoTopic) {
  SimShard s(small_table(20));
  http::AccessPolicy policy;
  ASSERT_EQ(policy.keys.set_hmac_secret(kSecret), "");
  policy.settings.require_subscribe_token = true;
  policy.settings.publish_token = "pub-token";
  s.cluster().access = &policy;
  for (int i = 0; i < 25; ++i) {
    const std::string t = "anon" + std::to_string(i);
    for (const std::string& target : {"/poll/" + t + "?lastEventId=0-0", "/sse/" + t, "/sse?topic=" + t}) {
      const std::uint32_t fd = s.request("GET " + target + " HTTP/1.1\r\nHost: t\r\n\r\n");
      ASSERT_EQ(s.io.received(fd).compare(0, 12, "HTTP/1.1 401"), 0) << target;
    }
  }
  tick(s);
  EXPECT_EQ(s.metrics().topics.get(), 1u);  // "_stats", the server's own
  EXPECT_NE(publish_with(s, "fresh", "pub-token").find("HTTP/1.1 202"), std::string::npos);
}

TEST(ShardSecurity, TopicsWithNoSubscribersAndNoHistoryAreReclaimed) {
  SimShard s(small_table(20));
  std::vector<std::uint32_t> polls;
  for (int i = 0; i < 19; ++i)  // "_stats" holds the 20th slot
    polls.push_back(s.request("GET /poll/p" + std::to_string(i) + " HTTP/1.1\r\nHost: t\r\n\r\n"));
  const std::uint32_t refused = s.request("GET /poll/one-too-many HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_EQ(s.io.received(refused).compare(0, 12, "HTTP/1.1 503"), 0) << s.io.received(refused);
  EXPECT_EQ(s.publish("news", "x").compare(0, 12, "HTTP/1.1 503"), 0);
  tick(s);  // held polls are subscribers: nothing to reclaim yet
  EXPECT_EQ(s.metrics().topics_reclaimed.get(), 0u);
  for (std::uint32_t fd : polls) s.io.client_close(fd);
  s.settle();
  tick(s);
  EXPECT_EQ(s.metrics().topics_reclaimed.get(), 19u);
  EXPECT_EQ(s.metrics().topics.get(), 1u);
  EXPECT_NE(s.publish("news", "x").find("HTTP/1.1 202"), std::string::npos);
  // A topic with history is kept while its events live, even with no one subscribed.
  tick(s);
  EXPECT_EQ(s.metrics().topics_reclaimed.get(), 19u);
  EXPECT_EQ(s.metrics().topics.get(), 2u);
}

TEST(ShardSecurity, AReclaimedTopicStartsAfreshAndResumesReportAGap) {
  Config c = small_table(20);
  c.history_ttl_ms = 1000;
  SimShard s(c);
  const std::string first = id_of(s.publish("t", "old"));
  s.io.advance_ms(1500);  // the event expires ...
  s.settle();
  tick(s);  // ... and the empty topic is freed
  EXPECT_EQ(s.metrics().topics_reclaimed.get(), 1u);
  const std::uint32_t sub =
      s.request("GET /sse/t HTTP/1.1\r\nHost: t\r\nLast-Event-ID: " + first + "\r\n\r\n");
  const std::string second = id_of(s.publish("t", "new"));
  s.settle();
  const std::string got = s.io.received(sub);
  EXPECT_NE(got.find("event: gap\n"), std::string::npos) << got;
  EXPECT_NE(got.find("id: " + second + "\ndata: new\n\n"), std::string::npos) << got;
  EXPECT_EQ(got.find("data: old"), std::string::npos) << got;
}

TEST(ShardSecurity, AChunkForAFullTableIsCountedNotFatal) {
  SimShard s(small_table(2));
  const std::uint32_t sub = s.subscribe("held");  // "_stats" and "held": the table is full
  ASSERT_EQ(s.io.received(sub), SimShard::prelude());
  // What another shard's owner would send: a chunk of a topic this shard has no room for.
  const std::int64_t before = live_chunks();
  s.cluster().mailboxes[0]->chunks_pending.fetch_add(1);  // as publish_local counts it
  // Two references, one built-in message: the owner's reference is ours to drop.
  Chunk* chunk = make_chunk("elsewhere", EventId{1, 1}, "", "x", 2, 1);
  s.cluster().mailboxes[0]->push(chunk_message(chunk, 0));
  release(chunk);
  s.settle();
  EXPECT_EQ(s.metrics().topic_table_full.get(), 1u);
  EXPECT_EQ(live_chunks(), before);  // its reference was released
  EXPECT_EQ(s.cluster().mailboxes[0]->chunks_pending.load(), 0u);
  EXPECT_EQ(s.io.received(sub), SimShard::prelude());
}

class TokenExpiryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(policy.keys.set_hmac_secret(kSecret), "");
    policy.settings.leeway_s = 30;
    policy.settings.publish_token = "pub-token";
    s.cluster().access = &policy;
  }
  std::string token(std::int64_t exp) {
    return testing::mint("HS256", "{\"exp\":" + std::to_string(exp) + ",\"subscribe\":[\"*\"]}", kSecret);
  }
  SimShard s;
  http::AccessPolicy policy;
};

TEST_F(TokenExpiryTest, AStreamEndsWithANoticeWhenItsTokenExpires) {
  const std::uint32_t sub =
      s.request("GET /sse/news HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " + token(unix_s(s) + 10) + "\r\n\r\n");
  const std::uint32_t anon = s.subscribe("news");  // no token: nothing expires
  ASSERT_EQ(s.io.received(sub), SimShard::prelude());
  for (int i = 0; i < 130; ++i) tick(s);  // 39 s: within exp + leeway
  EXPECT_FALSE(s.io.write_shut_by_server(sub));
  const std::string ack = publish_with(s, "news", "pub-token");
  s.settle();
  EXPECT_NE(s.io.received(sub).find("data: x"), std::string::npos) << s.io.received(sub) << ack;
  for (int i = 0; i < 10; ++i) tick(s);  // 42 s: past exp + leeway
  EXPECT_EQ(s.metrics().token_expired_streams.get(), 1u);
  EXPECT_TRUE(s.io.write_shut_by_server(sub));
  const std::string got = s.io.received(sub);
  const std::string notice = "event: token_expired\ndata: {\"reason\":\"token_expired\"}\n\n";
  ASSERT_GE(got.size(), notice.size());
  EXPECT_EQ(got.substr(got.size() - notice.size()), notice);
  const std::string late = id_of(publish_with(s, "news", "pub-token"));
  s.settle();
  EXPECT_EQ(s.io.received(sub).find(late), std::string::npos);
  EXPECT_NE(s.io.received(anon).find(late), std::string::npos);
  EXPECT_FALSE(s.io.write_shut_by_server(anon));
}

TEST_F(TokenExpiryTest, ChurnDoesNotGrowTheExpiryQueue) {
  const std::string t = token(unix_s(s) + 86400);
  for (int i = 0; i < 2000; ++i) {
    const std::uint32_t fd =
        s.request("GET /sse/news HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " + t + "\r\n\r\n");
    s.io.client_close(fd);
    s.settle(2);
  }
  EXPECT_EQ(s.metrics().token_expired_streams.get(), 0u);
  EXPECT_LE(s.shard->token_expiries_queued(), 2 * s.shard->open_connections() + 64 + 1);
}

}  // namespace
}  // namespace ringcast
