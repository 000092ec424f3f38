#include "tools/load/histogram.h"

#include <cmath>

namespace ringcast::load {

int Histogram::bucket_of(std::uint64_t value) {
  if (value < std::uint64_t(kLinear)) return int(value);
  const int exponent = 63 - __builtin_clzll(value);  // >= kSubBits + 1
  const int shift = exponent - kSubBits;
  const int mantissa = int(value >> shift);  // in [32, 64)
  return kLinear + (exponent - kSubBits - 1) * (1 << kSubBits) + (mantissa - (1 << kSubBits));
}

std::uint64_t Histogram::bucket_low(int bucket) {
  if (bucket < kLinear) return std::uint64_t(bucket);
  const int rel = bucket - kLinear;
  const int exponent = rel / (1 << kSubBits) + kSubBits + 1;
  const std::uint64_t mantissa = std::uint64_t(rel % (1 << kSubBits) + (1 << kSubBits));
  return mantissa << (exponent - kSubBits);
}

std::uint64_t Histogram::bucket_width(int bucket) {
  if (bucket < kLinear) return 1;
  const int exponent = (bucket - kLinear) / (1 << kSubBits) + kSubBits + 1;
  return std::uint64_t{1} << (exponent - kSubBits);
}

void Histogram::record(std::uint64_t value) {
  bump(buckets_[std::size_t(bucket_of(value))], 1);
  bump(count_, 1);
  if (value > max_.load(std::memory_order_relaxed)) max_.store(value, std::memory_order_relaxed);
}

void Histogram::merge(const Histogram& other) {
  std::uint64_t total = 0;
  for (int b = 0; b < kBuckets; ++b) {
    const std::uint64_t n = other.buckets_[std::size_t(b)].load(std::memory_order_relaxed);
    if (n == 0) continue;
    bump(buckets_[std::size_t(b)], n);
    total += n;
  }
  // The sum of the buckets read, not other.count(): the two may differ by a racing record.
  bump(count_, total);
  const std::uint64_t m = other.max();
  if (m > max()) max_.store(m, std::memory_order_relaxed);
}

std::uint64_t Histogram::quantile(double q) const {
  const std::uint64_t total = count();
  if (total == 0) return 0;
  std::uint64_t rank = std::uint64_t(std::ceil(q * double(total)));
  if (rank == 0) rank = 1;
  if (rank > total) rank = total;
  std::uint64_t seen = 0;
  for (int b = 0; b < kBuckets; ++b) {
    seen += buckets_[std::size_t(b)].load(std::memory_order_relaxed);
    if (seen < rank) continue;
    const std::uint64_t mid = bucket_low(b) + bucket_width(b) / 2;
    return mid < max() ? mid : max();
  }
  return max();
}

}  // namespace ringcast::load
