#pragma once
// A log-bucketed histogram of nanosecond values: exact below 64, then 32 buckets per power of
// two (each bucket within 1/32 of its values, reported at its middle: about 1.6% error),
// covering every uint64_t in 1,920 fixed buckets. Recording is two shifts and an add.
//
// One thread records; any thread may read at any time (the progress line reads while workers
// record): buckets are relaxed atomics, so a reader sees a slightly stale but valid picture.
#include <array>
#include <atomic>
#include <cstdint>

namespace ringcast::load {

class Histogram {
 public:
  static constexpr int kSubBits = 5;
  static constexpr int kLinear = 2 << kSubBits;  // values below this have their own bucket
  static constexpr int kBuckets = kLinear + (64 - kSubBits - 1) * (1 << kSubBits);

  void record(std::uint64_t value);
  // Adds `other`'s counts (a snapshot of it, if it is being written).
  void merge(const Histogram& other);

  std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  std::uint64_t max() const { return max_.load(std::memory_order_relaxed); }
  // The value at quantile q (0 < q <= 1), 0 when empty.
  std::uint64_t quantile(double q) const;

  static int bucket_of(std::uint64_t value);
  static std::uint64_t bucket_low(int bucket);
  static std::uint64_t bucket_width(int bucket);

 private:
  static void bump(std::atomic<std::uint64_t>& a, std::uint64_t by) {
    a.store(a.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
  }

  std::array<std::atomic<std::uint64_t>, kBuckets> buckets_{};
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> max_{0};
};

}  // namespace ringcast::load
