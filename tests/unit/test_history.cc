// History: the bounded, pinnable window of chunk references each shard keeps per topic.
#include "core/history.h"

#include <gtest/gtest.h>

#include "core/chunk.h"

namespace ringcast {
namespace {

Chunk* chunk(std::uint64_t seq, std::uint32_t refs = 1) {
  return make_chunk("t", EventId{1000, seq}, "", "x", refs);
}

TEST(History, StartsEmptyAtSequenceOne) {
  History h({4});
  EXPECT_TRUE(h.empty());
  EXPECT_EQ(h.begin(), 1u);
  EXPECT_EQ(h.end(), 1u);
}

TEST(History, KeepsAtMostCapacityEvents) {
  History h({3});
  for (std::uint64_t s = 1; s <= 10; ++s) h.push(chunk(s));
  EXPECT_EQ(h.end(), 11u);
  EXPECT_EQ(h.begin(), 8u);
  EXPECT_EQ(h.physical_begin(), 8u);  // nothing pinned: evicted entries were released
  EXPECT_EQ(h.at(8)->id.n, 8u);
  EXPECT_EQ(h.at(10)->id.n, 10u);
}

TEST(History, PinnedEntriesOutliveTheWindowUntilUnpinned) {
  History h({2});
  h.push(chunk(1));
  h.push(chunk(2));
  h.pin(1, 3);  // a send in flight reads events 1 and 2
  for (std::uint64_t s = 3; s <= 20; ++s) h.push(chunk(s));  // forces growth past the pins
  EXPECT_EQ(h.begin(), 19u);
  EXPECT_EQ(h.physical_begin(), 1u);  // still readable by the send in flight
  EXPECT_EQ(h.at(1)->id.n, 1u);
  EXPECT_EQ(h.at(2)->id.n, 2u);
  EXPECT_EQ(h.at(20)->id.n, 20u);
  h.unpin(1, 3);
  EXPECT_EQ(h.physical_begin(), 19u);
}

TEST(History, ReleasesItsReferenceOnEviction) {
  // A chunk shared by two holders survives one history evicting it.
  Chunk* shared = chunk(1, 2);
  {
    History h({1});
    h.push(shared);
    h.push(chunk(2));  // evicts seq 1: drops one reference
    EXPECT_EQ(shared->refs.load(), 1u);
  }
  release(shared);
}

TEST(History, DestructorReleasesEverythingHeld) {
  Chunk* shared = chunk(1, 2);
  {
    History h({8});
    h.push(shared);
  }
  EXPECT_EQ(shared->refs.load(), 1u);
  release(shared);
}

// Sequences belong to one shard's copy: two copies of a topic number the same chunks from
// wherever each started (a shard that freed and re-created the topic starts at 1 again).
TEST(History, SequencesAreTheCopysOwn) {
  History a({4}), b({4});
  Chunk* shared = chunk(7, 2);
  a.push(chunk(1));
  a.push(shared);
  b.push(shared);
  EXPECT_EQ(a.at(2), shared);
  EXPECT_EQ(b.at(1), shared);
  EXPECT_EQ(a.end(), 3u);
  EXPECT_EQ(b.end(), 2u);
}

TEST(History, ByteLimitEvictsOldestButKeepsTheNewest) {
  Chunk* probe = chunk(1);
  const std::uint32_t size = probe->size;
  release(probe);
  History h({100, 3ull * size});
  for (std::uint64_t s = 1; s <= 5; ++s) h.push(chunk(s));
  EXPECT_EQ(h.begin(), 3u);
  EXPECT_EQ(h.bytes(), 3ull * size);
  History tiny({100, 1});
  tiny.push(chunk(1));
  tiny.push(chunk(2));
  EXPECT_EQ(tiny.begin(), 2u);  // one event over the limit is still kept
  EXPECT_EQ(tiny.end(), 3u);
}

TEST(History, ExpireDropsEventsOlderThanTheCutoff) {
  History h({100});
  for (std::uint64_t s = 1; s <= 4; ++s) h.push(make_chunk("t", EventId{1000 + s, 0}, "", "x", 1));
  h.expire(1003);
  EXPECT_EQ(h.begin(), 3u);
  EXPECT_EQ(h.last_evicted(), (EventId{1002, 0}));
  h.expire(99999);
  EXPECT_TRUE(h.empty());
}

TEST(History, FindsEventsById) {
  History h({3});
  for (std::uint64_t s = 1; s <= 6; ++s) h.push(make_chunk("t", EventId{500, s * 2}, "", "x", 1));
  // Window holds seq 4..6 with ids 500-8, 500-10, 500-12.
  EXPECT_EQ(h.find(EventId{500, 8}), 4u);
  EXPECT_EQ(h.find(EventId{500, 12}), 6u);
  EXPECT_EQ(h.find(EventId{500, 9}), 0u);   // between two ids
  EXPECT_EQ(h.find(EventId{500, 6}), 0u);   // evicted
  EXPECT_EQ(h.first_after(EventId{500, 9}), 5u);
  EXPECT_EQ(h.first_after(EventId{500, 1}), 4u);
  EXPECT_EQ(h.first_after(EventId{500, 12}), 7u);
  EXPECT_EQ(h.last_evicted(), (EventId{500, 6}));
}

}  // namespace
}  // namespace ringcast
