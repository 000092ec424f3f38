// History: the bounded, pinnable window of chunk references each shard keeps per topic.
#include "core/history.h"

#include <gtest/gtest.h>

#include "core/chunk.h"

namespace ringcast {
namespace {

Chunk* chunk(std::uint64_t seq, std::uint32_t refs = 1) {
  return make_chunk("t", seq, EventId{1000, seq}, "", "x", refs);
}

TEST(History, StartsEmptyAtSequenceOne) {
  History h(4);
  EXPECT_TRUE(h.empty());
  EXPECT_EQ(h.begin(), 1u);
  EXPECT_EQ(h.end(), 1u);
}

TEST(History, KeepsAtMostCapacityEvents) {
  History h(3);
  for (std::uint64_t s = 1; s <= 10; ++s) h.push(chunk(s));
  EXPECT_EQ(h.end(), 11u);
  EXPECT_EQ(h.begin(), 8u);
  EXPECT_EQ(h.physical_begin(), 8u);  // nothing pinned: evicted entries were released
  EXPECT_EQ(h.at(8)->seq, 8u);
  EXPECT_EQ(h.at(10)->seq, 10u);
}

TEST(History, PinnedEntriesOutliveTheWindowUntilUnpinned) {
  History h(2);
  h.push(chunk(1));
  h.push(chunk(2));
  h.pin(1, 3);  // a send in flight reads events 1 and 2
  for (std::uint64_t s = 3; s <= 20; ++s) h.push(chunk(s));  // forces growth past the pins
  EXPECT_EQ(h.begin(), 19u);
  EXPECT_EQ(h.physical_begin(), 1u);  // still readable by the send in flight
  EXPECT_EQ(h.at(1)->seq, 1u);
  EXPECT_EQ(h.at(2)->seq, 2u);
  EXPECT_EQ(h.at(20)->seq, 20u);
  h.unpin(1, 3);
  EXPECT_EQ(h.physical_begin(), 19u);
}

TEST(History, ReleasesItsReferenceOnEviction) {
  // A chunk shared by two holders survives one history evicting it.
  Chunk* shared = chunk(1, 2);
  {
    History h(1);
    h.push(shared);
    h.push(chunk(2));  // evicts seq 1: drops one reference
    EXPECT_EQ(shared->refs.load(), 1u);
  }
  release(shared);
}

TEST(History, DestructorReleasesEverythingHeld) {
  Chunk* shared = chunk(1, 2);
  {
    History h(8);
    h.push(shared);
  }
  EXPECT_EQ(shared->refs.load(), 1u);
  release(shared);
}

TEST(History, PushRequiresTheNextSequence) {
  History h(4);
  h.push(chunk(1));
  Chunk* wrong = chunk(3);
  EXPECT_DEATH(h.push(wrong), "seq == end_");
  release(wrong);
}

}  // namespace
}  // namespace ringcast
