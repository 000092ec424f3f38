#include "core/history.h"

#include <utility>

#include "base/assert.h"

namespace ringcast {

History::History(History&& other) noexcept
    : ring_(std::move(other.ring_)),
      phys_begin_(other.phys_begin_),
      begin_(other.begin_),
      end_(other.end_),
      bytes_(other.bytes_),
      last_evicted_(other.last_evicted_),
      limits_(other.limits_) {
  other.phys_begin_ = other.begin_ = other.end_ = 1;
  other.bytes_ = 0;
}

History& History::operator=(History&& other) noexcept {
  if (this != &other) {
    this->~History();
    new (this) History(std::move(other));
  }
  return *this;
}

History::~History() {
  for (std::uint64_t seq = phys_begin_; seq < end_; ++seq) release(entry(seq).chunk);
}

void History::grow() {
  std::size_t size = ring_.empty() ? 8 : ring_.size() * 2;
  std::vector<Entry> bigger(size);
  for (std::uint64_t seq = phys_begin_; seq < end_; ++seq) bigger[seq & (size - 1)] = entry(seq);
  ring_.swap(bigger);
}

void History::push(Chunk* chunk) {
  RC_ASSERT(chunk != nullptr);
  if (end_ - phys_begin_ == ring_.size()) grow();
  entry(end_) = Entry{chunk, 0};
  ++end_;
  bytes_ += chunk->size;
  while (end_ - begin_ > limits_.count || (bytes_ > limits_.bytes && end_ - begin_ > 1)) evict_one();
  release_unpinned();
}

void History::evict_one() {
  RC_ASSERT(begin_ < end_);
  const Chunk* oldest = entry(begin_).chunk;
  bytes_ -= oldest->size;
  last_evicted_ = oldest->id;
  ++begin_;
}

void History::expire(std::uint64_t oldest_ms) {
  while (begin_ < end_ && entry(begin_).chunk->id.ms < oldest_ms) evict_one();
  release_unpinned();
}

std::uint64_t History::first_after(EventId id) const {
  // Ids grow with the sequence, so the window is sorted by id: binary search.
  std::uint64_t lo = begin_, hi = end_;
  while (lo < hi) {
    const std::uint64_t mid = lo + (hi - lo) / 2;
    if (entry(mid).chunk->id <= id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

std::uint64_t History::find(EventId id) const {
  const std::uint64_t after = first_after(id);
  if (after == begin_) return 0;
  return entry(after - 1).chunk->id == id ? after - 1 : 0;
}

void History::release_unpinned() {
  while (phys_begin_ < begin_ && entry(phys_begin_).pins == 0) {
    release(entry(phys_begin_).chunk);
    entry(phys_begin_).chunk = nullptr;
    ++phys_begin_;
  }
}

const Chunk* History::at(std::uint64_t seq) const {
  RC_ASSERT(seq >= phys_begin_ && seq < end_);
  return entry(seq).chunk;
}

void History::pin(std::uint64_t from, std::uint64_t to) {
  if (from == to) return;
  RC_ASSERT(from >= phys_begin_ && to <= end_);
  for (std::uint64_t seq = from; seq < to; ++seq) ++entry(seq).pins;
}

void History::unpin(std::uint64_t from, std::uint64_t to) {
  if (from == to) return;
  RC_ASSERT(from >= phys_begin_ && to <= end_);
  for (std::uint64_t seq = from; seq < to; ++seq) {
    RC_ASSERT(entry(seq).pins > 0);
    --entry(seq).pins;
  }
  release_unpinned();
}

}  // namespace ringcast
