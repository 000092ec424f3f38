// Who is listening (#19) at the shard, over the simulated IO: GET /topics/{topic} and
// GET /topics (counts, 404, paging, bad input, access), occupancy events, and the parsing of
// the node counts read back from Redis (hostile input).
#include <gtest/gtest.h>

#include <hiredis/hiredis.h>

#include <string>
#include <vector>

#include "auth/access.h"
#include "base/clock.h"
#include "http/topic_info_json.h"
#include "redis/occupancy.h"
#include "tests/unit/jwt_signer.h"
#include "tests/unit/sim_shard.h"

namespace ringcast {
namespace {

constexpr char kSecret[] = "0123456789abcdef0123456789abcdef";

void tick(SimShard& s, int times = 1) {
  for (int i = 0; i < times; ++i) {
    s.io.advance_ms(300);
    s.settle();
  }
}

std::string get(SimShard& s, const std::string& target, const std::string& headers = "") {
  const std::uint32_t fd = s.request("GET " + target + " HTTP/1.1\r\nHost: t\r\n" + headers + "\r\n");
  return s.io.received(fd);
}

std::string body_of(const std::string& response) {
  const auto at = response.find("\r\n\r\n");
  return at == std::string::npos ? std::string() : response.substr(at + 4);
}

TEST(ShardSimTopics, CountsStreamsAndHeldPollsAndAnswers404ForUnknownTopics) {
  SimShard s;
  s.subscribe("news");
  s.subscribe("news");
  s.request("GET /poll/news HTTP/1.1\r\nHost: t\r\n\r\n");  // held: counts as a subscriber
  const std::string id = id_of(s.publish("news", "hello"));  // answers the poll
  const std::string held = get(s, "/poll/news");             // held again
  (void)held;
  const std::string info = get(s, "/topics/news");
  ASSERT_EQ(info.compare(0, 12, "HTTP/1.1 200"), 0) << info;
  EXPECT_EQ(body_of(info), "{\"topic\":\"news\",\"subscribers\":3,\"subscribersCluster\":3,\"lastEventId\":\"" +
                               id + "\",\"historyEvents\":1,\"historyBytes\":" +
                               std::to_string(std::string("id: " + id + "\ndata: hello\n\n").size()) + "}\n");
  const std::uint64_t topics_before = s.metrics().topics.get();
  for (int i = 0; i < 20; ++i) {
    const std::string miss = get(s, "/topics/none" + std::to_string(i));
    EXPECT_EQ(miss.compare(0, 12, "HTTP/1.1 404"), 0) << miss;
  }
  s.settle();
  EXPECT_EQ(s.metrics().topics.get(), topics_before);  // asking created nothing
  EXPECT_EQ(get(s, "/topics/a%20b").compare(0, 12, "HTTP/1.1 400"), 0);
  EXPECT_EQ(get(s, "/topics/").compare(0, 12, "HTTP/1.1 400"), 0);
}

TEST(ShardSimTopics, ListingIsSortedPagedAndSkipsTheServersTopics) {
  SimShard s;
  for (const char* t : {"b.2", "a.1", "b.1", "c", "b.3"}) s.subscribe(t);
  auto page = [&](const std::string& query) { return body_of(get(s, "/topics" + query)); };
  std::string all = page("");
  EXPECT_EQ(all.find("_stats"), std::string::npos) << all;
  EXPECT_LT(all.find("\"a.1\""), all.find("\"b.1\""));
  EXPECT_LT(all.find("\"b.3\""), all.find("\"c\""));
  EXPECT_NE(all.find("\"next\":null"), std::string::npos) << all;
  // Two at a time through the b's: each page's cursor is its last name.
  std::string first = page("?prefix=b.&limit=2");
  EXPECT_NE(first.find("\"b.1\""), std::string::npos);
  EXPECT_NE(first.find("\"b.2\""), std::string::npos);
  EXPECT_EQ(first.find("\"b.3\""), std::string::npos);
  EXPECT_NE(first.find("\"next\":\"b.2\""), std::string::npos) << first;
  std::string second = page("?prefix=b.&limit=2&after=b.2");
  EXPECT_NE(second.find("\"b.3\""), std::string::npos) << second;
  EXPECT_EQ(second.find("\"b.1\""), std::string::npos) << second;
  EXPECT_NE(second.find("\"next\":null"), std::string::npos) << second;
}

TEST(ShardSimTopics, ListingRefusesBadInputWith400) {
  SimShard s;
  for (const char* q : {"?limit=1001", "?limit=99999999999999999999", "?limit=0", "?limit=-1", "?limit=1e3",
                        "?limit=", "?after=a%20b", "?after=..", "?after=%zz", "?prefix=a%2Fb", "?prefix=%00",
                        "?prefix=a*", "?prefix=<script>"}) {
    const std::string r = get(s, std::string("/topics") + q);
    EXPECT_EQ(r.compare(0, 12, "HTTP/1.1 400"), 0) << q << ": " << r;
  }
  EXPECT_EQ(get(s, "/topics?limit=1000").compare(0, 12, "HTTP/1.1 200"), 0);
}

class ShardSimTopicsAccess : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(policy.keys.set_hmac_secret(kSecret), "");
    policy.settings.require_subscribe_token = true;
    policy.settings.publish_token = "pub-token";
    s.cluster().access = &policy;
  }
  std::string bearer(const std::string& scope) {
    return "Authorization: Bearer " +
           testing::mint("HS256", "{\"exp\":" + std::to_string(unix_ms() / 1000 + 600) +
                                      ",\"subscribe\":" + scope + "}", kSecret) + "\r\n";
  }
  SimShard s;
  http::AccessPolicy policy;
};

TEST_F(ShardSimTopicsAccess, InfoNeedsTheRightToReadTheTopic) {
  s.request("GET /sse/secret HTTP/1.1\r\nHost: t\r\n" + bearer("[\"secret\"]") + "\r\n");
  EXPECT_EQ(get(s, "/topics/secret").compare(0, 12, "HTTP/1.1 401"), 0);
  EXPECT_EQ(get(s, "/topics/secret", bearer("[\"other\"]")).compare(0, 12, "HTTP/1.1 403"), 0);
  EXPECT_EQ(get(s, "/topics/secret", bearer("[\"secret\"]")).compare(0, 12, "HTTP/1.1 200"), 0);
  // Refused info requests for topics that do not exist create nothing either.
  const std::uint64_t before = s.metrics().topics.get();
  for (int i = 0; i < 10; ++i) get(s, "/topics/ghost" + std::to_string(i));
  s.settle();
  EXPECT_EQ(s.metrics().topics.get(), before);
}

TEST_F(ShardSimTopicsAccess, AListingNeverRevealsATopicTheCallerCannotRead) {
  s.request("GET /sse/team.a HTTP/1.1\r\nHost: t\r\n" + bearer("[\"*\"]") + "\r\n");
  s.request("GET /sse/secret HTTP/1.1\r\nHost: t\r\n" + bearer("[\"*\"]") + "\r\n");
  EXPECT_EQ(get(s, "/topics").compare(0, 12, "HTTP/1.1 401"), 0);
  const std::string mine = get(s, "/topics?limit=1", bearer("[\"team.*\"]"));
  EXPECT_NE(mine.find("\"team.a\""), std::string::npos) << mine;
  EXPECT_EQ(mine.find("secret"), std::string::npos) << mine;
  // Filtered before the page is cut: limit=1 still holds the one readable topic, and the
  // cursor never points at a hidden one.
  const std::string after = get(s, "/topics?after=a", bearer("[\"team.*\"]"));
  EXPECT_EQ(after.find("secret"), std::string::npos) << after;
  const std::string every = get(s, "/topics", bearer("[\"*\"]"));
  EXPECT_NE(every.find("\"secret\""), std::string::npos) << every;
}

TEST_F(ShardSimTopicsAccess, TheOccupancyTopicNeedsTheRightToReadItsTopic) {
  EXPECT_EQ(get(s, "/sse/_occupancy.secret", bearer("[\"other\"]")).compare(0, 12, "HTTP/1.1 403"), 0);
  EXPECT_EQ(get(s, "/sse/_occupancy._occupancy.secret", bearer("[\"other\"]")).compare(0, 12, "HTTP/1.1 403"), 0);
  EXPECT_EQ(get(s, "/sse/_occupancy.secret").compare(0, 12, "HTTP/1.1 401"), 0);
  const std::string ok = get(s, "/sse/_occupancy.secret", bearer("[\"secret\"]"));
  EXPECT_EQ(ok.compare(0, 12, "HTTP/1.1 200"), 0) << ok;
}

Config occupancy_config() {
  Config c = SimShard::base_config();
  c.occupancy_events = true;
  c.occupancy_interval_ms = 1000;
  c.occupancy_grace_ms = 2000;
  return c;
}

std::vector<std::string> events_named(const std::string& stream, const std::string& name) {
  std::vector<std::string> out;
  const std::string key = "event: " + name + "\ndata: ";
  for (std::size_t at = stream.find(key); at != std::string::npos; at = stream.find(key, at + 1)) {
    const std::size_t start = at + key.size();
    out.push_back(stream.substr(start, stream.find('\n', start) - start));
  }
  return out;
}

TEST(ShardSimOccupancy, CountsAreCoalescedAndVacatedWaitsForTheGracePeriod) {
  SimShard s(occupancy_config());
  const std::uint32_t watch = s.subscribe("_occupancy.news");
  tick(s);
  std::vector<std::uint32_t> subs;
  for (int i = 0; i < 5; ++i) subs.push_back(s.subscribe("news"));  // within one interval
  tick(s, 4);
  std::string got = s.io.received(watch);
  EXPECT_EQ(events_named(got, "occupied").size(), 1u) << got;
  const auto counts = events_named(got, "occupancy");
  ASSERT_FALSE(counts.empty()) << got;
  EXPECT_LE(counts.size(), 2u) << got;  // 1.2 s of churn: at most two count events
  EXPECT_EQ(counts.back(), "{\"topic\":\"news\",\"subscribers\":5,\"subscribersCluster\":5}");
  // The watcher is not a subscriber of news.
  EXPECT_NE(body_of(get(s, "/topics/news")).find("\"subscribers\":5,"), std::string::npos);
  // A blip: everyone leaves and one comes back within the grace period: no vacated.
  for (std::uint32_t fd : subs) s.io.client_close(fd);
  s.settle();
  tick(s, 2);
  const std::uint32_t back = s.subscribe("news");
  tick(s, 10);
  got = s.io.received(watch);
  EXPECT_TRUE(events_named(got, "vacated").empty()) << got;
  EXPECT_EQ(events_named(got, "occupied").size(), 1u) << got;
  s.io.client_close(back);
  s.settle();
  tick(s, 10);  // 3 s: past the grace period
  got = s.io.received(watch);
  ASSERT_EQ(events_named(got, "vacated").size(), 1u) << got;
  EXPECT_EQ(events_named(got, "vacated")[0], "{\"topic\":\"news\",\"subscribers\":0,\"subscribersCluster\":0}");
  EXPECT_GE(s.metrics().occupancy_events.get(), 3u);
}

TEST(ShardSimOccupancy, WatchersOfOccupancyTopicsGenerateNoOccupancyOfTheirOwn) {
  SimShard s(occupancy_config());
  const std::uint32_t meta = s.subscribe("_occupancy._occupancy.news");
  std::vector<std::uint32_t> watchers;
  for (int i = 0; i < 3; ++i) watchers.push_back(s.subscribe("_occupancy.news"));
  tick(s, 5);
  for (std::uint32_t fd : watchers) s.io.client_close(fd);
  s.settle();
  tick(s, 5);
  EXPECT_EQ(s.io.received(meta), SimShard::prelude());  // nothing, ever
  EXPECT_EQ(get(s, "/topics/_occupancy._occupancy._occupancy.news").compare(0, 12, "HTTP/1.1 404"), 0);
}

TEST(ShardSimOccupancy, NothingIsPublishedWithoutTheFlag) {
  SimShard s;
  const std::uint32_t watch = s.subscribe("_occupancy.news");
  s.subscribe("news");
  tick(s, 5);
  EXPECT_EQ(s.io.received(watch), SimShard::prelude());
  EXPECT_EQ(s.metrics().occupancy_events.get(), 0u);
}

// ---- the node counts read back from Redis: hostile input --------------------------------

struct ParsedReply {
  explicit ParsedReply(const std::string& resp) {
    redisReader* reader = redisReaderCreate();
    redisReaderFeed(reader, resp.data(), resp.size());
    void* out = nullptr;
    EXPECT_EQ(redisReaderGetReply(reader, &out), REDIS_OK);
    reply = static_cast<redisReply*>(out);
    redisReaderFree(reader);
  }
  ~ParsedReply() {
    if (reply != nullptr) freeReplyObject(reply);
  }
  redisReply* reply = nullptr;
};

std::string bulk(const std::string& s) { return "$" + std::to_string(s.size()) + "\r\n" + s + "\r\n"; }

TEST(occupancy_hash, ParsesCountsAndSkipsWhatIsNotACount) {
  std::string resp = "*14\r\n";
  for (const auto& [k, v] : std::vector<std::pair<std::string, std::string>>{
           {"news", "3"}, {"bad name", "1"}, {"neg", "-1"}, {"huge", "99999999999999999999"},
           {"_stats", "5"}, {"hex", "0x10"}, {"ok.2", "100000000"}})
    resp += bulk(k) + bulk(v);
  ParsedReply r(resp);
  std::vector<std::pair<std::string, std::uint64_t>> out;
  ASSERT_TRUE(parse_occupancy_hash(r.reply, 1000, out));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0], (std::pair<std::string, std::uint64_t>{"news", 3}));
  EXPECT_EQ(out[1], (std::pair<std::string, std::uint64_t>{"ok.2", 100000000}));
}

TEST(occupancy_hash, RefusesWhatIsNotAHashAndBoundsTheFields) {
  std::vector<std::pair<std::string, std::uint64_t>> out;
  EXPECT_FALSE(parse_occupancy_hash(nullptr, 10, out));
  for (const std::string& resp : {std::string("*3\r\n") + bulk("a") + bulk("1") + bulk("b"),
                                 std::string("-WRONGTYPE no\r\n"), std::string(":5\r\n"),
                                 std::string("*2\r\n*1\r\n:1\r\n") + bulk("1"), std::string("$-1\r\n")}) {
    ParsedReply r(resp);
    EXPECT_FALSE(parse_occupancy_hash(r.reply, 10, out)) << resp;
    EXPECT_TRUE(out.empty());
  }
  std::string many = "*200\r\n";
  for (int i = 0; i < 100; ++i) many += bulk("t" + std::to_string(i)) + bulk("1");
  ParsedReply r(many);
  ASSERT_TRUE(parse_occupancy_hash(r.reply, 10, out));
  EXPECT_EQ(out.size(), 10u);
  ParsedReply empty("*0\r\n");  // an expired node: nothing
  ASSERT_TRUE(parse_occupancy_hash(empty.reply, 10, out));
  EXPECT_TRUE(out.empty());
}

TEST(topics_query, DefaultsAndBounds) {
  http::TopicListQuery q;
  ASSERT_TRUE(http::parse_topic_list_query("", q));
  EXPECT_EQ(q.limit, http::kTopicListDefault);
  ASSERT_TRUE(http::parse_topic_list_query("prefix=news.&limit=7&after=news.a&access_token=x", q));
  EXPECT_EQ(q.prefix, "news.");
  EXPECT_EQ(q.after, "news.a");
  EXPECT_EQ(q.limit, 7u);
  EXPECT_FALSE(http::parse_topic_list_query("prefix=" + std::string(129, 'a'), q));
  EXPECT_EQ(q.error_status, 400);
}

}  // namespace
}  // namespace ringcast
