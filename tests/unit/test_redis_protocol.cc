// Redis command building and reply handling, without sockets: commands are checked as the
// RESP bytes hiredis formats; replies are RESP bytes parsed by hiredis's own redisReader.
#include "redis/protocol.h"

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
  const EventId before{9, 0};  // a later page: below the oldest entry of the one before
  EXPECT_EQ(xrevrange_after("k", EventId{7, 2}, 11, &before),
            (Command{"XREVRANGE", "k", "(9-0", "(7-2", "COUNT", "11"}));
  // Every fetch names its COUNT: no reply can carry an unbounded number of entries.
  EXPECT_EQ(xrange_exact("k", EventId{7, 2}),
            (Command{"XRANGE", "k", "7-2", "7-2", "COUNT", "1"}));
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
  ASSERT_TRUE(parse_xread(parse(resp).get(), 1024, out));
  ASSERT_EQ(out.size(), 3u);
  for (const KeyedEntry& e : out) EXPECT_EQ(e.read.reject, Reject::none);
  EXPECT_EQ(out[0].key, "p:a");
  EXPECT_EQ(out[0].read.entry.id, (EventId{1, 0}));
  EXPECT_EQ(out[0].read.entry.data, "one");
  EXPECT_EQ(out[0].read.entry.event, "");
  EXPECT_EQ(out[1].read.entry.event, "tick");  // unknown fields ("x") are ignored
  EXPECT_EQ(out[1].read.entry.data, "");
  EXPECT_EQ(out[2].key, "p:b");
  EXPECT_EQ(out[2].read.entry.data, "a\r\nb!");  // data may hold line breaks: data: lines
}

TEST(RedisProtocol, XreadTimeoutIsNilAndMalformedRepliesAreRefused) {
  std::vector<KeyedEntry> out;
  EXPECT_TRUE(parse_xread(parse("*-1\r\n").get(), 1024, out));  // BLOCK timed out
  EXPECT_TRUE(out.empty());
  EXPECT_FALSE(parse_xread(parse("-WRONGTYPE Operation\r\n").get(), 1024, out));
  EXPECT_FALSE(parse_xread(parse("*1\r\n*1\r\n$1\r\nk\r\n").get(), 1024, out));  // no entries
  EXPECT_FALSE(parse_xread(parse("*1\r\n*2\r\n$1\r\nk\r\n$1\r\nx\r\n").get(), 1024, out));
  EXPECT_FALSE(parse_xread(parse(":1\r\n").get(), 1024, out));
  EXPECT_TRUE(out.empty());
}

// One bad entry used to fail the whole XREAD reply, every round: no topic of the node got
// anything more. Now each entry is judged alone, and the good ones around it go through.
TEST(RedisProtocol, OneBadEntryIsJudgedAloneNotTheReply) {
  const std::string resp =
      "*1\r\n*2\r\n$1\r\nk\r\n*4\r\n"
      "*2\r\n$5\r\nnotid\r\n*0\r\n"                              // no readable id
      "*2\r\n$3\r\n1-0\r\n*1\r\n$1\r\nd\r\n"                     // odd field list
      "*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\nd\r\n:5\r\n"                // not a string value
      "*2\r\n$3\r\n2-0\r\n*2\r\n$1\r\nd\r\n$2\r\nok\r\n";
  std::vector<KeyedEntry> out;
  ASSERT_TRUE(parse_xread(parse(resp).get(), 1024, out));
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].read.reject, Reject::id);
  EXPECT_FALSE(out[0].read.has_id);
  EXPECT_EQ(out[1].read.reject, Reject::malformed);
  EXPECT_TRUE(out[1].read.has_id);  // the reader moves past it
  EXPECT_EQ(out[1].read.entry.id, (EventId{1, 0}));
  EXPECT_EQ(out[2].read.reject, Reject::malformed);
  EXPECT_EQ(out[3].read.reject, Reject::none);
  EXPECT_EQ(out[3].read.entry.data, "ok");
}

std::string entry_resp(std::string_view event, std::string_view data) {
  std::string fields = "*4\r\n$1\r\ne\r\n$" + std::to_string(event.size()) + "\r\n" +
                       std::string(event) + "\r\n$1\r\nd\r\n$" + std::to_string(data.size()) +
                       "\r\n" + std::string(data) + "\r\n";
  return "*2\r\n$3\r\n5-5\r\n" + fields;
}

// Held to the rules of a publish (shard_http.cc): an event type with CR or LF would write
// its own id:/data: lines into every subscriber's stream.
TEST(RedisProtocol, EntriesAreHeldToThePublishRules) {
  auto judge = [](std::string_view event, std::string_view data, std::uint32_t max = 16) {
    return read_entry(parse(entry_resp(event, data)).get(), max);
  };
  EXPECT_EQ(judge("x\nid: 9-9\ndata: injected", "hi").reject, Reject::event_type);
  EXPECT_EQ(judge("a\rb", "hi").reject, Reject::event_type);
  EXPECT_EQ(judge("has space", "hi").reject, Reject::event_type);
  EXPECT_EQ(judge("a:b", "hi").reject, Reject::event_type);
  EXPECT_EQ(judge(std::string(65, 'e'), "hi").reject, Reject::event_type);
  EXPECT_EQ(judge("tick", "\xff\xfe").reject, Reject::utf8);
  EXPECT_EQ(judge("tick", "\xed\xa0\x80").reject, Reject::utf8);  // a surrogate
  const ReadEntry big = judge("tick", std::string(17, 'a'));
  EXPECT_EQ(big.reject, Reject::too_large);
  EXPECT_TRUE(big.entry.data.empty());  // not copied
  EXPECT_TRUE(big.has_id);
  const ReadEntry fits = judge("tick", std::string(16, 'a'));
  EXPECT_EQ(fits.reject, Reject::none);
  EXPECT_EQ(fits.entry.data, std::string(16, 'a'));
  EXPECT_EQ(fits.entry.event, "tick");
  const ReadEntry plain = judge("", "one\ntwo \xc3\xa9");  // no event type: fine
  EXPECT_EQ(plain.reject, Reject::none);
  EXPECT_EQ(plain.entry.event, "");
  // A deleted entry's nil fields: an empty event, as before.
  EXPECT_EQ(read_entry(parse("*2\r\n$3\r\n1-0\r\n*-1\r\n").get(), 16).reject, Reject::none);
  EXPECT_EQ(read_entry(parse("$3\r\n1-0\r\n").get(), 16).reject, Reject::malformed);
  EXPECT_EQ(reject_name(Reject::event_type), "event_type");
  EXPECT_EQ(reject_name(Reject::too_large), "too_large");
}

// Redis ids are two 64-bit numbers; 20-digit parts are valid ids and must not be refused
// (an entry no cursor can move past is read again every round).
TEST(RedisProtocol, StreamIdsSpanSixtyFourBits) {
  EventId id;
  ASSERT_TRUE(parse_stream_id("18446744073709551615-18446744073709551615", id));
  EXPECT_EQ(id, (EventId{UINT64_MAX, UINT64_MAX}));
  char text[42];
  EXPECT_EQ(std::string_view(text, format_event_id(id, text)),
            "18446744073709551615-18446744073709551615");
  EXPECT_FALSE(parse_stream_id("18446744073709551616-0", id));
  EXPECT_FALSE(parse_stream_id("99999999999999999999-0", id));
  EXPECT_FALSE(parse_stream_id("000000000000000000001-0", id));  // 21 digits
  for (const char* bad : {"", "-", "1-", "-1", "1", "a-1", "1-0-0", "1 -0", "+1-0", "1-0\n"})
    EXPECT_FALSE(parse_stream_id(bad, id)) << bad;
  ASSERT_TRUE(parse_xadd(parse("$22\r\n18446744073709551614-0\r\n").get(), id));
  EXPECT_EQ(id, (EventId{UINT64_MAX - 1, 0}));
}

TEST(RedisProtocol, RangeRepliesKeepTheirOrder) {
  std::vector<ReadEntry> entries;
  ASSERT_TRUE(parse_entries(
      parse("*2\r\n*2\r\n$3\r\n9-0\r\n*2\r\n$1\r\nd\r\n$1\r\nb\r\n*2\r\n$3\r\n8-5\r\n*2\r\n$1\r\nd\r\n$1\r\na\r\n")
          .get(),
      1024, entries));
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].entry.id, (EventId{9, 0}));
  EXPECT_EQ(entries[1].entry.data, "a");
  entries.clear();
  EXPECT_TRUE(parse_entries(parse("*0\r\n").get(), 1024, entries));
  EXPECT_TRUE(entries.empty());
  EXPECT_FALSE(parse_entries(parse("-WRONGTYPE Operation\r\n").get(), 1024, entries));
}

}  // namespace
}  // namespace ringcast::redis
