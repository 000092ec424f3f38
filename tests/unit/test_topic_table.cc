// The topic table (core/topic_table.h): names to slots, freed slots reused, lookups by view.
#include "core/topic_table.h"

#include <gtest/gtest.h>

namespace ringcast {
namespace {

constexpr History::Limits kLimits{16, 1u << 20};

TEST(TopicTable, NamesFindTheirSlotsAndFreedSlotsAreReused) {
  TopicTable t;
  EXPECT_EQ(t.find("scores"), nil);
  const std::uint32_t a = t.create("scores", kLimits);
  const std::uint32_t b = t.create("news", kLimits);
  EXPECT_NE(a, b);
  EXPECT_EQ(t.find("scores"), a);
  EXPECT_EQ(t.find(std::string_view("news.x", 4)), b);  // a view, not a string
  EXPECT_EQ(t[a].name, "scores");
  EXPECT_EQ(t.live(), 2u);
  t.free(a, kLimits);
  EXPECT_EQ(t.find("scores"), nil);
  EXPECT_TRUE(t[a].name.empty());
  EXPECT_EQ(t.live(), 1u);
  EXPECT_EQ(t.size(), 2u);
  const std::uint32_t c = t.create("weather", kLimits);
  EXPECT_EQ(c, a);  // the freed slot
  EXPECT_EQ(t.find("weather"), a);
  EXPECT_EQ(t.size(), 2u);
  EXPECT_TRUE(t[c].history.empty());
}

}  // namespace
}  // namespace ringcast
