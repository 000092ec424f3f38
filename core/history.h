#pragma once
// One shard's copy of a topic's recent events: chunk references indexed by sequence number.
//
// The logical window [begin, end) is what subscribers may still read; it is bounded by count.
// Entries behind `begin` are physically kept while a send in flight still points into them
// (pins > 0): the kernel reads those bytes until the send completes. They are released as soon
// as their pins drop to zero, so the physical window exceeds the logical one only by what
// in-flight sends of already-condemned streams still hold.
#include <cstdint>
#include <vector>

#include "core/chunk.h"

namespace ringcast {

class History {
 public:
  explicit History(std::uint32_t capacity) : capacity_(capacity) {}
  History(History&&) noexcept;
  History& operator=(History&&) noexcept;
  History(const History&) = delete;
  ~History();

  // Appends the next chunk (chunk->seq must be end()). Takes over one reference. Advances begin() past the oldest entries once more than `capacity` are held.
  void push(Chunk* chunk);

  std::uint64_t begin() const { return begin_; }  // oldest readable seq
  std::uint64_t end() const { return end_; }      // next seq to arrive
  bool empty() const { return begin_ == end_; }

  // The chunk at `seq`; seq must be in [physical_begin, end).
  const Chunk* at(std::uint64_t seq) const;

  // Pins [from, to) while a send reads them; unpin releases what fell behind begin().
  void pin(std::uint64_t from, std::uint64_t to);
  void unpin(std::uint64_t from, std::uint64_t to);

  std::uint64_t physical_begin() const { return phys_begin_; }
  std::uint32_t capacity() const { return capacity_; }

 private:
  struct Entry {
    Chunk* chunk;
    std::uint32_t pins;
  };
  Entry& entry(std::uint64_t seq) { return ring_[seq & (ring_.size() - 1)]; }
  const Entry& entry(std::uint64_t seq) const { return ring_[seq & (ring_.size() - 1)]; }
  void grow();
  void release_unpinned();

  std::vector<Entry> ring_;  // power-of-two size, grows on demand
  // Every shard receives every chunk of a topic in order, starting at seq 1, so each shard's
  // copy holds the same sequence numbers.
  std::uint64_t phys_begin_ = 1;
  std::uint64_t begin_ = 1;
  std::uint64_t end_ = 1;
  std::uint32_t capacity_;
};

}  // namespace ringcast
