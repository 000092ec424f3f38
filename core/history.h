#pragma once
// One shard's copy of a topic's recent events: chunk references indexed by sequence number.
//
// The logical window [begin, end) is what subscribers may still read; it is bounded by count,
// by bytes (always keeping the newest event) and, through expire(), by age.
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
  struct Limits {
    std::uint32_t count = 1024;
    std::uint64_t bytes = ~std::uint64_t{0};
  };
  explicit History(Limits limits) : limits_(limits) {}
  History(History&&) noexcept;
  History& operator=(History&&) noexcept;
  History(const History&) = delete;
  ~History();

  // Appends a chunk as sequence end(). Takes over one reference.
  // Advances begin() past the oldest entries while the count or byte limit is exceeded.
  void push(Chunk* chunk);
  // Evicts every event published before `oldest_ms` (wall clock, from the event id).
  void expire(std::uint64_t oldest_ms);

  // Sequence of the event with exactly this id, or 0 if the window does not hold it.
  std::uint64_t find(EventId id) const;
  // First sequence in the window whose id is greater than `id` (end() if none).
  std::uint64_t first_after(EventId id) const;
  // The id of the newest event evicted so far ({0,0} if none): tells whether a resume point
  // older than the window lost events.
  EventId last_evicted() const { return last_evicted_; }
  std::uint64_t bytes() const { return bytes_; }

  std::uint64_t begin() const { return begin_; }  // oldest readable seq
  std::uint64_t end() const { return end_; }      // next seq to arrive
  bool empty() const { return begin_ == end_; }

  // The chunk at `seq`; seq must be in [physical_begin, end).
  const Chunk* at(std::uint64_t seq) const;

  // Pins [from, to) while a send reads them; unpin releases what fell behind begin().
  void pin(std::uint64_t from, std::uint64_t to);
  void unpin(std::uint64_t from, std::uint64_t to);

  std::uint64_t physical_begin() const { return phys_begin_; }
  const Limits& limits() const { return limits_; }

 private:
  struct Entry {
    Chunk* chunk;
    std::uint32_t pins;
  };
  Entry& entry(std::uint64_t seq) { return ring_[seq & (ring_.size() - 1)]; }
  const Entry& entry(std::uint64_t seq) const { return ring_[seq & (ring_.size() - 1)]; }
  void grow();
  void evict_one();
  void release_unpinned();

  std::vector<Entry> ring_;  // power-of-two size, grows on demand
  // Sequences are this copy's own (1, 2, 3, ... as chunks arrive): shards may free and
  // re-create a topic independently (core/shard_topics.cc), so no number is shared between them.
  std::uint64_t phys_begin_ = 1;
  std::uint64_t begin_ = 1;
  std::uint64_t end_ = 1;
  std::uint64_t bytes_ = 0;  // wire bytes in the logical window
  EventId last_evicted_;
  Limits limits_;
};

}  // namespace ringcast
