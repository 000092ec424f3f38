// The bounds of a resume replayed from a Redis stream (redis/replay.h), without sockets:
// pages are fed to the window as the bridge would after XREVRANGE, newest first.
#include "redis/replay.h"

#include <gtest/gtest.h>

#include <string>

#include "http/sse_encoder.h"

namespace ringcast::redis {
namespace {

ReadEntry entry(std::uint64_t ms, std::size_t data_bytes, Reject reject = Reject::none) {
  ReadEntry e;
  e.entry.id = EventId{ms, 0};
  e.entry.data.assign(reject == Reject::none ? data_bytes : 0, 'x');
  e.reject = reject;
  e.has_id = true;
  return e;
}

// Entries ms = newest, newest - 1, ... (count of them), each of `data_bytes`.
std::vector<ReadEntry> page(std::uint64_t newest, std::uint32_t count, std::size_t data_bytes) {
  std::vector<ReadEntry> out;
  for (std::uint32_t i = 0; i < count && newest - i > 0; ++i) out.push_back(entry(newest - i, data_bytes));
  return out;
}

std::size_t wire(std::uint64_t ms, std::size_t data_bytes) {
  const std::string id = std::to_string(ms) + "-0";
  return http::encoded_size(id, "", std::string(data_bytes, 'x'));
}

TEST(RedisReplay, BudgetIsHistoryBytesPerTopicUnderAPerStreamCeiling) {
  EXPECT_EQ(replay_budget_bytes(1 << 20, 1), 1u << 20);
  EXPECT_EQ(replay_budget_bytes(1 << 20, 8), 1u << 20);
  EXPECT_EQ(replay_budget_bytes(16u << 20, 1), kReplayBytesPerStreamMax);
  EXPECT_EQ(replay_budget_bytes(16u << 20, 8), kReplayBytesPerStreamMax / 8);
  EXPECT_EQ(replay_budget_bytes(0xffffffffu, 3), kReplayBytesPerStreamMax / 3);
}

// The resume that used to pin ~60 MiB per topic: a long stream of 60 KB entries after 0-1.
TEST(RedisReplay, KeepsTheNewestThatFitTheBytesAndSaysTruncated) {
  const std::uint64_t budget = 1 << 20;
  ReplayWindow w(EventId{0, 1}, 1024, budget, 65536);
  EXPECT_EQ(w.page_end(), nullptr);  // the first page starts at the newest entry ("+")
  std::uint32_t asked = w.page_count();
  EXPECT_EQ(asked, 16u);  // 1 MiB of 64 KiB events per page
  std::vector<ReadEntry> p = page(2000, asked, 60000);
  ASSERT_TRUE(w.feed(p, asked));
  ASSERT_NE(w.page_end(), nullptr);
  EXPECT_EQ(*w.page_end(), (EventId{1985, 0}));  // the next page goes below the oldest seen
  asked = w.page_count();
  p = page(1984, asked, 60000);
  EXPECT_FALSE(w.feed(p, asked));
  EXPECT_TRUE(w.truncated());
  EXPECT_LE(w.bytes(), budget);
  const std::size_t fit = budget / wire(2000, 60000);
  const std::vector<StreamEntry> kept = w.take_entries();
  ASSERT_EQ(kept.size(), fit);
  EXPECT_EQ(kept.front().id, (EventId{2000 - fit + 1, 0}));  // oldest first ...
  EXPECT_EQ(kept.back().id, (EventId{2000, 0}));             // ... up to the newest
}

TEST(RedisReplay, ReachingTheResumeIdIsNotTruncated) {
  ReplayWindow w(EventId{100, 0}, 1024, 1 << 20, 1024);
  const std::uint32_t asked = w.page_count();
  EXPECT_EQ(asked, kReplayPageEntriesMax);
  std::vector<ReadEntry> p = page(110, 10, 100);
  EXPECT_FALSE(w.feed(p, asked));  // fewer than asked: nothing older is left
  EXPECT_FALSE(w.truncated());
  EXPECT_EQ(w.take_entries().size(), 10u);
}

// At most --history entries, and the page asks for one more to learn whether any are left.
TEST(RedisReplay, HistoryEntriesAtMost) {
  ReplayWindow exact(EventId{0, 1}, 3, 1 << 20, 1024);
  ASSERT_EQ(exact.page_count(), 4u);
  std::vector<ReadEntry> p = page(10, 3, 10);
  EXPECT_FALSE(exact.feed(p, 4));
  EXPECT_FALSE(exact.truncated());
  ReplayWindow more(EventId{0, 1}, 3, 1 << 20, 1024);
  p = page(10, 4, 10);
  EXPECT_FALSE(more.feed(p, 4));
  EXPECT_TRUE(more.truncated());
  const std::vector<StreamEntry> kept = more.take_entries();
  ASSERT_EQ(kept.size(), 3u);
  EXPECT_EQ(kept.front().id, (EventId{8, 0}));
}

TEST(RedisReplay, PagesAreBoundedWhateverTheHistory) {
  ReplayWindow small_events(EventId{}, 1u << 20, 16u << 20, 1);
  EXPECT_EQ(small_events.page_count(), kReplayPageEntriesMax);
  ReplayWindow big_events(EventId{}, 1u << 20, 1 << 20, 16u << 20);
  EXPECT_EQ(big_events.page_count(), kReplayPageEntriesMin);
}

// Rejected entries are skipped (the bridge counts them) but not free: they count toward the
// --history + 1 entries a replay may examine, so a stream full of them ends in a gap.
TEST(RedisReplay, RejectedEntriesAreSkippedButBoundTheScan) {
  ReplayWindow mixed(EventId{0, 1}, 4, 1 << 20, 1024);
  std::vector<ReadEntry> p = {entry(9, 5), entry(8, 0, Reject::event_type), entry(7, 5)};
  EXPECT_FALSE(mixed.feed(p, mixed.page_count()));
  EXPECT_FALSE(mixed.truncated());
  EXPECT_EQ(mixed.take_entries().size(), 2u);

  ReplayWindow bad(EventId{0, 1}, 4, 1 << 20, 1024);
  const std::uint32_t asked = bad.page_count();
  ASSERT_EQ(asked, 5u);
  p.clear();
  for (std::uint64_t ms = 20; ms > 15; --ms) p.push_back(entry(ms, 0, Reject::utf8));
  EXPECT_FALSE(bad.feed(p, asked));
  EXPECT_TRUE(bad.truncated());
  EXPECT_TRUE(bad.take_entries().empty());
}

// Only a broken or hostile server pages out of order or without ids: the replay ends there.
TEST(RedisReplay, EntriesOutOfOrderEndTheReplay) {
  ReplayWindow rising(EventId{0, 1}, 100, 1 << 20, 1024);
  std::vector<ReadEntry> p = {entry(10, 1), entry(12, 1), entry(9, 1)};
  EXPECT_FALSE(rising.feed(p, rising.page_count()));
  EXPECT_TRUE(rising.truncated());
  EXPECT_EQ(rising.take_entries().size(), 1u);

  ReplayWindow at_resume(EventId{5, 0}, 100, 1 << 20, 1024);
  p = {entry(6, 1), entry(5, 1)};
  EXPECT_FALSE(at_resume.feed(p, at_resume.page_count()));
  EXPECT_TRUE(at_resume.truncated());

  ReplayWindow idless(EventId{0, 1}, 100, 1 << 20, 1024);
  p = {entry(6, 1), ReadEntry{}};
  p.back().reject = Reject::id;
  EXPECT_FALSE(idless.feed(p, idless.page_count()));
  EXPECT_TRUE(idless.truncated());
  EXPECT_EQ(idless.take_entries().size(), 1u);
}

// A window whose pages keep coming back full examines at most --history + 1 entries.
TEST(RedisReplay, TheScanEnds) {
  ReplayWindow w(EventId{0, 1}, 1000, 1u << 30, 1024);
  std::uint64_t newest = 1u << 20;
  std::uint32_t pages = 0;
  for (bool more = true; more; ++pages) {
    const std::uint32_t asked = w.page_count();
    std::vector<ReadEntry> p;
    for (std::uint32_t i = 0; i < asked; ++i) p.push_back(entry(newest--, 0, Reject::utf8));
    more = w.feed(p, asked);
    ASSERT_LT(pages, 100u);
  }
  EXPECT_TRUE(w.truncated());
  EXPECT_EQ((1u << 20) - newest, 1001u);
}

}  // namespace
}  // namespace ringcast::redis
