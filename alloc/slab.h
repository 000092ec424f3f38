#pragma once
// Fixed-size records addressed by 32-bit index, allocated in blocks on demand so an idle
// server stays small, never moved (indices and pointers stay valid), recycled via a free list.
#include <cstdint>
#include <memory>
#include <new>
#include <type_traits>
#include <vector>

#include "base/assert.h"

namespace ringcast {

inline constexpr std::uint32_t nil = 0xffffffffu;

template <typename T, std::uint32_t BlockShift = 12>
class Slab {
  static_assert(std::is_trivially_destructible_v<T>, "slab records hold no owning members");
  static constexpr std::uint32_t kBlock = 1u << BlockShift;
  static constexpr std::uint32_t kMask = kBlock - 1;

 public:
  explicit Slab(std::uint32_t capacity) : capacity_(capacity) {}
  Slab(const Slab&) = delete;
  Slab& operator=(const Slab&) = delete;

  // Returns a value-initialised record's index, or nil when `capacity` records are live.
  std::uint32_t alloc() {
    std::uint32_t index;
    if (free_head_ != nil) {
      index = free_head_;
      free_head_ = next_free(index);
    } else {
      if (high_water_ == capacity_) return nil;
      if ((high_water_ & kMask) == 0) blocks_.emplace_back(new Cell[kBlock]);
      index = high_water_++;
    }
    new (&cell(index).record) T{};
    ++live_;
    return index;
  }

  void free(std::uint32_t index) {
    RC_ASSERT(index < high_water_);
    RC_ASSERT(live_ > 0);
    next_free(index) = free_head_;
    free_head_ = index;
    --live_;
  }

  T& operator[](std::uint32_t index) {
    RC_ASSERT(index < high_water_);
    return cell(index).record;
  }
  const T& operator[](std::uint32_t index) const {
    RC_ASSERT(index < high_water_);
    return const_cast<Slab*>(this)->cell(index).record;
  }

  std::uint32_t live() const { return live_; }
  std::uint32_t capacity() const { return capacity_; }
  // Bytes of record storage reserved so far (blocks are never returned to the allocator).
  std::size_t reserved_bytes() const { return blocks_.size() * kBlock * sizeof(Cell); }

 private:
  union Cell {
    T record;
    std::uint32_t next_free;
    Cell() : next_free(nil) {}
  };
  Cell& cell(std::uint32_t index) { return blocks_[index >> BlockShift][index & kMask]; }
  std::uint32_t& next_free(std::uint32_t index) { return cell(index).next_free; }

  std::vector<std::unique_ptr<Cell[]>> blocks_;
  std::uint32_t capacity_;
  std::uint32_t high_water_ = 0;
  std::uint32_t free_head_ = nil;
  std::uint32_t live_ = 0;
};

}  // namespace ringcast
