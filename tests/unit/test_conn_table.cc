// The connection table (core/conn_table.h): tokens that go stale with a slot's reuse, the
// activity list kept oldest first, the ready list with answers ahead of events.
#include "core/conn_table.h"

#include <gtest/gtest.h>

#include <vector>

namespace ringcast {
namespace {

std::uint32_t open(ConnTable& t, std::uint32_t gen) {
  const std::uint32_t ci = t.alloc();
  t[ci] = Conn{};
  t[ci].gen = gen;
  t[ci].timer_prev = t[ci].timer_next = t[ci].ready_next = nil;
  return ci;
}

std::vector<std::uint32_t> by_activity(const ConnTable& t) {
  std::vector<std::uint32_t> out;
  for (std::uint32_t ci = t.oldest(); ci != nil; ci = t[ci].timer_next) out.push_back(ci);
  return out;
}

TEST(ConnTable, ATokenGoesStaleWhenTheSlotIsReused) {
  ConnTable t(8);
  const std::uint32_t a = open(t, 7);
  const std::uint64_t token = t.token(a);
  EXPECT_EQ(t.conn_of(token), a);
  t.free(a);
  const std::uint32_t b = open(t, 8);  // the same slot, a new generation
  EXPECT_EQ(b, a);
  EXPECT_EQ(t.conn_of(token), nil);
  EXPECT_EQ(t.conn_of(t.token(b)), b);
  EXPECT_EQ(t.conn_of(std::uint64_t(nil)), nil);  // a token naming no slot
  EXPECT_EQ(t.conn_of(1000), nil);                // past the capacity
}

TEST(ConnTable, TheActivityListIsOldestFirst) {
  ConnTable t(8);
  const std::uint32_t a = open(t, 1), b = open(t, 2), c = open(t, 3);
  t.touch(a, 10);
  t.touch(b, 20);
  t.touch(c, 30);
  EXPECT_EQ(by_activity(t), (std::vector<std::uint32_t>{a, b, c}));
  t.touch(a, 40);  // to the back, stamped
  EXPECT_EQ(by_activity(t), (std::vector<std::uint32_t>{b, c, a}));
  EXPECT_EQ(t[a].activity_ms, 40u);
  t.untouch(c);
  t.untouch(c);  // not on the list: nothing happens
  EXPECT_EQ(by_activity(t), (std::vector<std::uint32_t>{b, a}));
  t.untouch(b);
  t.untouch(a);
  EXPECT_EQ(t.oldest(), nil);
}

TEST(ConnTable, AnswersGoAheadOfEventsAndARecordIsListedOnce) {
  ConnTable t(8);
  const std::uint32_t a = open(t, 1), b = open(t, 2), c = open(t, 3);
  t.ready_back(a);
  t.ready_back(b);
  t.ready_front(c);
  t.ready_back(a);  // already listed: stays where it is
  std::vector<std::uint32_t> order;
  while (t.any_ready()) order.push_back(t.take_ready());
  EXPECT_EQ(order, (std::vector<std::uint32_t>{c, a, b}));
  EXPECT_FALSE(t[a].flags & conn_flag::on_ready_list);
  EXPECT_EQ(t.take_ready(), nil);
}

}  // namespace
}  // namespace ringcast
