#include "core/history.h"

#include <utility>

#include "core/assert.h"

namespace ringcast {

History::History(History&& other) noexcept
    : ring_(std::move(other.ring_)),
      phys_begin_(other.phys_begin_),
      begin_(other.begin_),
      end_(other.end_),
      capacity_(other.capacity_) {
  other.phys_begin_ = other.begin_ = other.end_ = 1;
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
  RC_ASSERT(chunk->seq == end_);
  if (end_ - phys_begin_ == ring_.size()) grow();
  entry(end_) = Entry{chunk, 0};
  ++end_;
  if (end_ - begin_ > capacity_) begin_ = end_ - capacity_;
  release_unpinned();
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
  RC_ASSERT(from >= phys_begin_ && to <= end_);
  for (std::uint64_t seq = from; seq < to; ++seq) ++entry(seq).pins;
}

void History::unpin(std::uint64_t from, std::uint64_t to) {
  RC_ASSERT(from >= phys_begin_ && to <= end_);
  for (std::uint64_t seq = from; seq < to; ++seq) {
    RC_ASSERT(entry(seq).pins > 0);
    --entry(seq).pins;
  }
  release_unpinned();
}

}  // namespace ringcast
