// Redis command building and reply handling, without sockets: commands are checked as the
// RESP bytes hiredis formats; replies are RESP bytes parsed by hiredis's own redisReader.
#include "core/redis_protocol.h"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <memory>

namespace ringcast::redis {
namespace {

struct ReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyFree>;

Reply parse(std::string_view resp) {
  redisReader* reader = redisReaderCreate();
  redisReaderFeed(reader, resp.data(), resp.size());
  void* out = nullptr;
  EXPECT_EQ(redisReaderGetReply(reader, &out), REDIS_OK);
  redisReaderFree(reader);
  EXPECT_NE(out, nullptr) << "incomplete reply: " << resp;
  return Reply(static_cast<redisReply*>(out));
}

TEST(RedisProtocol, XaddWithoutAndWithEventType) {
  EXPECT_EQ(format(xadd("ringcast:news", 1024, "", "hi")),
            "*8\r\n$4\r\nXADD\r\n$13\r\nringcast:news\r\n$6\r\nMAXLEN\r\n$1\r\n~\r\n$4\r\n1024\r\n"
            "$1\r\n*\r\n$1\r\nd\r\n$2\r\nhi\r\n");
  const Command c = xadd("k", 5, "tick", std::string_view("a\0b\r\n", 5));
  ASSERT_EQ(c.size(), 10u);
  EXPECT_EQ(c[7], std::string("a\0b\r\n", 5));  // binary-safe: bulk strings carry lengths
  EXPECT_EQ(c[8], "e");
  EXPECT_EQ(c[9], "tick");
}

TEST(RedisProtocol, XreadNamesEveryStreamThenEveryId) {
  const Command c = xread({"p:a", "p:b"}, {EventId{5, 1}, EventId{}}, 100, 1000);
  EXPECT_EQ(c, (Command{"XREAD", "COUNT", "100", "BLOCK", "1000", "STREAMS", "p:a", "p:b", "5-1",
                        "0-0"}));
}

TEST(RedisProtocol, RangesAreExclusiveOfTheResumeId) {
  EXPECT_EQ(xrevrange_after("k", EventId{7, 2}, 11),
            (Command{"XREVRANGE", "k", "+", "(7-2", "COUNT", "11"}));
  EXPECT_EQ(xrange_exact("k", EventId{7, 2}), (Command{"XRANGE", "k", "7-2", "7-2"}));
  EXPECT_EQ(xrevrange_last("k"), (Command{"XREVRANGE", "k", "+", "-", "COUNT", "1"}));
}

TEST(RedisProtocol, XaddReplyIsTheEntryId) {
  EventId id;
  ASSERT_TRUE(parse_xadd(parse("$15\r\n1700000000000-3\r\n").get(), id));
  EXPECT_EQ(id, (EventId{1700000000000, 3}));
  EXPECT_FALSE(parse_xadd(parse("-ERR wrong\r\n").get(), id));
  EXPECT_EQ(error_text(parse("-ERR wrong\r\n").get()), "ERR wrong");
  EXPECT_FALSE(parse_xadd(parse("$-1\r\n").get(), id));
  EXPECT_FALSE(parse_xadd(parse(":12\r\n").get(), id));
}

TEST(RedisProtocol, XreadReplyInStreamAndEntryOrder) {
  const std::string resp =
      "*2\r\n"
      "*2\r\n$3\r\np:a\r\n*2\r\n"
      "*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\nd\r\n$3\r\none\r\n"
      "*2\r\n$3\r\n1-1\r\n*6\r\n$1\r\ne\r\n$4\r\ntick\r\n$1\r\nx\r\n$1\r\ny\r\n$1\r\nd\r\n$0\r\n\r\n"
      "*2\r\n$3\r\np:b\r\n*1\r\n"
      "*2\r\n$3\r\n2-0\r\n*2\r\n$1\r\nd\r\n$5\r\na\r\nb!\r\n";
  std::vector<KeyedEntry> out;
  ASSERT_TRUE(parse_xread(parse(resp).get(), out));
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].key, "p:a");
  EXPECT_EQ(out[0].entry.id, (EventId{1, 0}));
  EXPECT_EQ(out[0].entry.data, "one");
  EXPECT_EQ(out[0].entry.event, "");
  EXPECT_EQ(out[1].entry.event, "tick");  // unknown fields ("x") are ignored
  EXPECT_EQ(out[1].entry.data, "");
  EXPECT_EQ(out[2].key, "p:b");
  EXPECT_EQ(out[2].entry.data, "a\r\nb!");
}

TEST(RedisProtocol, XreadTimeoutIsNilAndMalformedRepliesAreRefused) {
  std::vector<KeyedEntry> out;
  EXPECT_TRUE(parse_xread(parse("*-1\r\n").get(), out));  // BLOCK timed out
  EXPECT_TRUE(out.empty());
  EXPECT_FALSE(parse_xread(parse("-WRONGTYPE Operation\r\n").get(), out));
  EXPECT_FALSE(parse_xread(parse("*1\r\n*1\r\n$1\r\nk\r\n").get(), out));  // no entry array
  EXPECT_FALSE(parse_xread(parse("*1\r\n*2\r\n$1\r\nk\r\n*1\r\n*2\r\n$5\r\nnotid\r\n*0\r\n").get(),
                           out));
  EXPECT_FALSE(parse_xread(parse("*1\r\n*2\r\n$1\r\nk\r\n*1\r\n*2\r\n$3\r\n1-0\r\n*1\r\n$1\r\nd\r\n")
                               .get(),
                           out));  // odd field list
}

TEST(RedisProtocol, RangeRepliesKeepTheirOrder) {
  std::vector<StreamEntry> entries;
  ASSERT_TRUE(parse_entries(
      parse("*2\r\n*2\r\n$3\r\n9-0\r\n*2\r\n$1\r\nd\r\n$1\r\nb\r\n*2\r\n$3\r\n8-5\r\n*2\r\n$1\r\nd\r\n$1\r\na\r\n")
          .get(),
      entries));
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].id, (EventId{9, 0}));
  EXPECT_EQ(entries[1].data, "a");
  entries.clear();
  EXPECT_TRUE(parse_entries(parse("*0\r\n").get(), entries));
  EXPECT_TRUE(entries.empty());
}

}  // namespace
}  // namespace ringcast::redis
