// /metrics rendering: the process gauges follow the shards' series in text format 0.0.4.
#include <gtest/gtest.h>

#include "core/metrics.h"

namespace ringcast {
namespace {

TEST(Metrics, ResidentBytesIsAProcessGauge) {
  ShardMetrics a, b;
  a.streams.set(3);
  b.streams.set(4);
  const std::string text = render_metrics({&a, &b}, ProcessMetrics{123456789});
  EXPECT_NE(text.find("ringcast_streams{shard=\"0\"} 3\nringcast_streams{shard=\"1\"} 4\n"),
            std::string::npos);
  EXPECT_NE(text.find("# TYPE ringcast_resident_bytes gauge\nringcast_resident_bytes 123456789\n"),
            std::string::npos);
  // One unlabelled series, whatever the number of shards; the largest value still fits.
  const std::string big = render_metrics({&a}, ProcessMetrics{~0ull});
  EXPECT_NE(big.find("ringcast_resident_bytes 18446744073709551615\n"), std::string::npos);
  EXPECT_EQ(text.find("ringcast_resident_bytes{"), std::string::npos);
}

}  // namespace
}  // namespace ringcast
