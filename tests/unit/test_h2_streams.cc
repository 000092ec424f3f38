// An HTTP/2 connection's stream table (core/h2_conn.h) against a plain map, under random opens
// and closes, and the staging of a send's iovecs (inline or on the heap, head skipped).
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "core/h2_conn.h"

namespace ringcast {
namespace {

TEST(H2Streams, MatchesAMapUnderRandomOpensAndCloses) {
  Slab<H2Stream> slab(4096);
  std::mt19937 rng(11);
  std::map<std::int32_t, std::uint32_t> model;  // id -> record
  {
    H2Streams table(slab);
    std::int32_t next_id = 1;
    std::uint32_t next_record = 0;
    for (int step = 0; step < 20000; ++step) {
      if (model.size() < 300 && (model.empty() || rng() % 3 != 0)) {
        const std::uint32_t record = (next_record += 1 + rng() % 7);
        H2Stream& st = table.add(next_id, record);
        EXPECT_EQ(st.id, next_id);
        EXPECT_EQ(st.conn, record);
        model[next_id] = record;
        next_id += 2;
      } else {
        auto it = std::next(model.begin(), rng() % model.size());
        table.erase(it->first);
        model.erase(it);
      }
      if (step % 97 == 0) {
        ASSERT_EQ(table.size(), model.size());
        for (const auto& [id, record] : model) {
          ASSERT_NE(table.find(id), nullptr);
          EXPECT_EQ(table.find(id)->conn, record);
          EXPECT_EQ(table.id_of(record), id);
          EXPECT_EQ(&table.at_record(record), table.find(id));
        }
        EXPECT_EQ(table.find(next_id), nullptr);
        EXPECT_EQ(table.records().size(), model.size());
      }
    }
    EXPECT_EQ(slab.live(), model.size());
  }
  EXPECT_EQ(slab.live(), 0u);  // the table gave every record back
}

TEST(H2Streams, StagingKeepsIovecsInlineOrOnTheHeap) {
  Slab<H2Stream> slab(16);
  H2Streams table(slab);
  H2Stream& st = table.add(1, 7);
  char a[] = "HTTP/1.1 200 OK\r\n\r\nretry: 1000\n\n";
  char b[] = "data: x\n\n";
  iovec two[] = {{a, sizeof a - 1}, {b, sizeof b - 1}};
  st.stage(two, 2, 19);  // the head ("HTTP/1.1 200 OK\r\n\r\n") went out as HEADERS
  EXPECT_EQ(st.more, nullptr);
  EXPECT_EQ(st.iov_count, 2u);
  EXPECT_EQ(std::string(static_cast<char*>(st.iov()[0].iov_base), st.iov()[0].iov_len), "retry: 1000\n\n");
  iovec many[5] = {{b, 9}, {b, 9}, {b, 9}, {b, 9}, {b, 9}};
  st.stage(many, 5, 0);
  ASSERT_NE(st.more, nullptr);
  EXPECT_EQ(st.iov_count, 5u);
  EXPECT_EQ(st.iov()[4].iov_base, b);
  st.clear_staged();
  EXPECT_EQ(st.more, nullptr);
  EXPECT_EQ(st.iov_count, 0u);
}

}  // namespace
}  // namespace ringcast
