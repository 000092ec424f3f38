// The latency histogram against exact quantiles of known distributions: whatever the shape,
// every quantile it reports is within half a bucket (1/64 of the value, about 1.6%) of the
// sample at that rank, its memory does not grow with the samples, and merging is exact.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "tools/load/histogram.h"

namespace ringcast::load {
namespace {

// The q-quantile as Histogram defines it: the sample of rank ceil(q * n) (1-based).
std::uint64_t exact_quantile(std::vector<std::uint64_t> sorted, double q) {
  std::sort(sorted.begin(), sorted.end());
  std::size_t rank = std::size_t(std::ceil(q * double(sorted.size())));
  rank = std::clamp<std::size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

void expect_quantiles_close(const std::vector<std::uint64_t>& samples) {
  Histogram h;
  for (std::uint64_t v : samples) h.record(v);
  ASSERT_EQ(h.count(), samples.size());
  EXPECT_EQ(h.max(), *std::max_element(samples.begin(), samples.end()));
  for (double q : {0.01, 0.25, 0.5, 0.9, 0.99, 0.999, 1.0}) {
    const double exact = double(exact_quantile(samples, q));
    const double got = double(h.quantile(q));
    // Half a bucket of width low/32, and at least 1 below 64 where buckets are exact.
    EXPECT_LE(std::fabs(got - exact), std::max(1.0, exact / 64 + 1)) << "q " << q << " exact " << exact;
  }
}

// Nanosecond samples drawn from `dist` with a fixed seed (the same every run).
template <class Dist>
std::vector<std::uint64_t> draw(Dist dist, std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::uint64_t> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) out.push_back(std::uint64_t(std::max(0.0, double(dist(rng)))));
  return out;
}

TEST(Histogram, EmptyIsZero) {
  Histogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.quantile(0.5), 0u);
  EXPECT_EQ(h.max(), 0u);
}

TEST(Histogram, SmallValuesAreExact) {
  Histogram h;
  for (std::uint64_t v = 1; v <= 60; ++v) h.record(v);
  EXPECT_EQ(h.quantile(0.5), 30u);
  EXPECT_EQ(h.quantile(0.9), 54u);
  EXPECT_EQ(h.quantile(1.0), 60u);
}

TEST(Histogram, ConstantValue) {
  Histogram h;
  for (int i = 0; i < 1000; ++i) h.record(5'000'000);  // 5 ms
  EXPECT_EQ(h.max(), 5'000'000u);
  for (double q : {0.001, 0.5, 0.99, 1.0}) {
    EXPECT_NEAR(double(h.quantile(q)), 5e6, 5e6 / 64);
    EXPECT_LE(h.quantile(q), h.max());  // a bucket's middle never reports above the max seen
  }
}

TEST(Histogram, UniformMilliseconds) {
  expect_quantiles_close(draw(std::uniform_real_distribution<double>(1e6, 10e6), 200000, 1));
}

TEST(Histogram, ExponentialTail) {
  expect_quantiles_close(draw(std::exponential_distribution<double>(1 / 2e6), 200000, 2));
}

TEST(Histogram, LogNormalAcrossDecades) {
  // Median ~1 ms, p99 ~100 ms: the spread of an ack latency that sometimes waits a fan-out.
  expect_quantiles_close(draw(std::lognormal_distribution<double>(std::log(1e6), 2.0), 200000, 3));
}

TEST(Histogram, BimodalPicksTheRightMode) {
  // 990 fast answers (~1 ms) and 10 slow ones (~50 ms): p99 is the last fast one, p99.9 and
  // max are slow.
  std::vector<std::uint64_t> samples;
  for (int i = 0; i < 990; ++i) samples.push_back(1'000'000 + std::uint64_t(i) * 100);
  for (int i = 0; i < 10; ++i) samples.push_back(50'000'000 + std::uint64_t(i) * 1000);
  expect_quantiles_close(samples);
  Histogram h;
  for (std::uint64_t v : samples) h.record(v);
  EXPECT_LT(h.quantile(0.99), 1'200'000u);
  EXPECT_GT(h.quantile(0.999), 49'000'000u);
}

TEST(Histogram, MergeEqualsOneHistogramOfAll) {
  const auto a = draw(std::exponential_distribution<double>(1 / 3e6), 50000, 4);
  const auto b = draw(std::uniform_real_distribution<double>(0, 40e6), 50000, 5);
  Histogram ha, hb, all, merged;
  for (std::uint64_t v : a) ha.record(v), all.record(v);
  for (std::uint64_t v : b) hb.record(v), all.record(v);
  merged.merge(ha);
  merged.merge(hb);
  EXPECT_EQ(merged.count(), all.count());
  EXPECT_EQ(merged.max(), all.max());
  for (double q : {0.5, 0.9, 0.99, 0.999}) EXPECT_EQ(merged.quantile(q), all.quantile(q)) << q;
}

TEST(Histogram, MemoryDoesNotGrowWithSamples) {
  // Fixed buckets: every uint64_t has one, so no sample, however large, reallocates.
  static_assert(sizeof(Histogram) <= (Histogram::kBuckets + 2) * sizeof(std::uint64_t));
  Histogram h;
  for (std::uint64_t v : {0ull, 1ull, 1ull << 40, ~0ull}) h.record(v);
  EXPECT_EQ(h.count(), 4u);
  EXPECT_EQ(h.max(), ~0ull);
  EXPECT_GE(h.quantile(1.0), ~0ull / 64 * 63);
}

}  // namespace
}  // namespace ringcast::load
