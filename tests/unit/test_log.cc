// Structured log lines (logfmt) and the host-limits check, without IO.
#include <gtest/gtest.h>

#include "base/log.h"
#include "server/host_limits.h"

namespace ringcast {
namespace {

TEST(Log, LineIsLogfmtWithUtcMilliseconds) {
  EXPECT_EQ(format_log_line(LogLevel::warn, "shard_stall", "shard=1 pass_ms=700", 1700000000123),
            "ts=2023-11-14T22:13:20.123Z level=warn event=shard_stall shard=1 pass_ms=700");
  EXPECT_EQ(format_log_line(LogLevel::info, "stopped", "", 0),
            "ts=1970-01-01T00:00:00.000Z level=info event=stopped");
}

TEST(Log, QuotedKeepsAValueOneValue) {
  EXPECT_EQ(quoted("ECONNRESET"), "ECONNRESET");
  EXPECT_EQ(quoted("Connection reset by peer"), "\"Connection reset by peer\"");
  EXPECT_EQ(quoted("a=\"b\"\\\n\x01"), "\"a=\\\"b\\\"\\\\\\n?\"");
  EXPECT_EQ(quoted(""), "\"\"");
}

TEST(Log, Levels) {
  LogLevel l;
  EXPECT_TRUE(parse_log_level("debug", l));
  EXPECT_EQ(l, LogLevel::debug);
  EXPECT_FALSE(parse_log_level("verbose", l));
  set_log_level(LogLevel::warn);
  EXPECT_TRUE(log_enabled(LogLevel::error));
  EXPECT_TRUE(log_enabled(LogLevel::warn));
  EXPECT_FALSE(log_enabled(LogLevel::info));
  set_log_level(LogLevel::info);
}

HostLimits roomy_host() {
  HostLimits h;
  h.nofile = 1 << 20;
  h.memlock = ~std::uint64_t{0};
  h.file_max = 10000000;
  h.somaxconn = 4096;
  h.port_low = 1024;
  h.port_high = 65535;
  h.tcp_mem_pages[0] = 1000000;
  h.tcp_mem_pages[1] = 2000000;  // 8 GB at 4 KiB pages: 2M streams with 4 KiB each
  h.tcp_mem_pages[2] = 3000000;
  h.mem_total_bytes = 64ull << 30;
  return h;
}

CapacityPlan plan(std::uint64_t streams) {
  CapacityPlan p;
  p.shards = 2;
  p.files_per_ring = 20000;
  p.rings_per_shard = 3;
  p.max_streams = streams;
  return p;
}

TEST(HostLimits, ReportsWhatThePlanNeeds) {
  const HostCheck c = check_host_limits(roomy_host(), plan(50000));
  EXPECT_NE(c.fields.find("streams_per_ring=20000 rings_per_shard=3 rings_needed=6 "
                          "streams_capacity=120000 max_streams=50000"),
            std::string::npos)
      << c.fields;
  EXPECT_NE(c.fields.find("bytes_per_stream=5000 memory_for_max_streams=250000000"), std::string::npos);
  EXPECT_TRUE(c.warnings.empty()) << c.warnings[0];
}

TEST(HostLimits, WarnsWhereALimitBinds) {
  HostLimits h = roomy_host();
  h.file_max = 30000;      // fewer files than streams
  h.somaxconn = 128;       // backlog cut
  h.mem_total_bytes = 100000000;  // 100 MB: 20,000 streams at 5,000 B
  const HostCheck c = check_host_limits(h, plan(50000));
  ASSERT_EQ(c.warnings.size(), 3u);
  EXPECT_EQ(c.warnings[0].rfind("limit=fs.file-max allows=30000 max_streams=50000", 0), 0u);
  EXPECT_EQ(c.warnings[1].rfind("limit=memory allows=20000 ", 0), 0u);
  EXPECT_EQ(c.warnings[2].rfind("limit=net.core.somaxconn allows=128 ", 0), 0u);
}

TEST(HostLimits, EpollIsBoundByTheFdTable) {
  HostLimits h = roomy_host();
  h.nofile = 20000;
  CapacityPlan p = plan(50000);
  p.uring = false;
  const HostCheck c = check_host_limits(h, p);
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_EQ(c.warnings[0].rfind("limit=RLIMIT_NOFILE allows=20000 ", 0), 0u);
}

}  // namespace
}  // namespace ringcast
