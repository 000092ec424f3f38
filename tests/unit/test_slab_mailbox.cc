// Slab records by 32-bit index, and the cross-shard mailbox.
#include <gtest/gtest.h>

#include <set>
#include <thread>
#include <vector>

#include "alloc/slab.h"
#include "core/mailbox.h"

namespace ringcast {
namespace {

struct Record {
  std::uint32_t a;
  std::uint64_t b;
};

TEST(Slab, AllocatesUpToCapacityThenRefuses) {
  Slab<Record, 2> slab(10);  // blocks of 4
  std::set<std::uint32_t> seen;
  for (int i = 0; i < 10; ++i) {
    std::uint32_t idx = slab.alloc();
    ASSERT_NE(idx, nil);
    EXPECT_TRUE(seen.insert(idx).second);
    slab[idx].a = idx;
  }
  EXPECT_EQ(slab.alloc(), nil);
  EXPECT_EQ(slab.live(), 10u);
  EXPECT_EQ(slab.reserved_bytes(), 3 * 4 * sizeof(Record));
  for (std::uint32_t idx : seen) EXPECT_EQ(slab[idx].a, idx);
}

TEST(Slab, ReusesFreedRecordsValueInitialised) {
  Slab<Record> slab(4);
  std::uint32_t a = slab.alloc();
  slab[a].b = 77;
  slab.free(a);
  EXPECT_EQ(slab.live(), 0u);
  std::uint32_t again = slab.alloc();
  EXPECT_EQ(again, a);
  EXPECT_EQ(slab[again].b, 0u);
}

TEST(Slab, GrowsLazily) {
  Slab<Record> slab(1000000);
  EXPECT_EQ(slab.reserved_bytes(), 0u);
  slab.alloc();
  EXPECT_EQ(slab.reserved_bytes(), 4096 * sizeof(Record));
}

struct Numbered final : Message {
  Numbered(int p, int n) : producer(p), number(n) { kind = MessageKind::publish_ack; }
  int producer;
  int number;
};

TEST(Mailbox, DeliversEveryMessageInPerProducerOrder) {
  Mailbox box;
  constexpr int kProducers = 3;
  constexpr int kEach = 20000;
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&box, p] {
      for (int n = 0; n < kEach; ++n) box.push(new Numbered(p, n));
    });
  }
  std::vector<int> next(kProducers, 0);
  int received = 0;
  // Bounded: producers finish in well under this many polls.
  for (long polls = 0; received < kProducers * kEach && polls < 1000000000L; ++polls) {
    Message* m = box.pop();
    if (m == nullptr) continue;
    auto* num = static_cast<Numbered*>(m);
    EXPECT_EQ(num->number, next[num->producer]);
    next[num->producer] = num->number + 1;
    ++received;
    delete m;
  }
  for (auto& t : producers) t.join();
  while (Message* m = box.pop()) {
    ++received;
    delete m;
  }
  EXPECT_EQ(received, kProducers * kEach);
}

}  // namespace
}  // namespace ringcast
