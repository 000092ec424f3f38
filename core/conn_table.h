#pragma once
// A shard's connection table: the Conn records (a slab addressed by 32-bit index), the tokens
// that name them in IO completions and messages, and the two lists threaded through them:
//  - the activity list, oldest first: what the shard's timers walk (heartbeats, stalls,
//    request and linger timeouts), each record placed at the back when it is touched;
//  - the ready list: records with something to send; answers and control go to the front,
//    events to the back, and the shard takes from the front (core/shard_send.cc flush_ready).
// Owns the records and the list heads; touches only the records' list links, `gen`,
// `activity_ms` and conn_flag::on_ready_list. Its shard's thread alone uses it.
#include <cstdint>

#include "alloc/slab.h"
#include "core/conn.h"

namespace ringcast {

class ConnTable {
 public:
  explicit ConnTable(std::uint32_t capacity) : slab_(capacity) {}

  Conn& operator[](std::uint32_t ci) { return slab_[ci]; }
  const Conn& operator[](std::uint32_t ci) const { return slab_[ci]; }
  std::uint32_t alloc() { return slab_.alloc(); }
  void free(std::uint32_t ci);  // off both lists first (asserted)
  std::uint32_t live() const { return slab_.live(); }
  std::uint32_t capacity() const { return slab_.capacity(); }
  std::size_t reserved_bytes() const { return slab_.reserved_bytes(); }

  // A completion's or a message's name for record `ci`: its index and generation, so that a
  // reused slot does not take an old connection's completions.
  std::uint64_t token(std::uint32_t ci) const;
  std::uint32_t conn_of(std::uint64_t token) const;  // nil if stale

  // The activity list.
  void touch(std::uint32_t ci, std::uint32_t now_ms);  // to the back, stamped now
  void untouch(std::uint32_t ci);                      // off the list (no-op if not on it)
  std::uint32_t oldest() const { return timer_head_; }

  // The ready list.
  void ready_front(std::uint32_t ci);  // ahead of queued fan-out (responses, control)
  void ready_back(std::uint32_t ci);   // behind it (events)
  std::uint32_t take_ready();          // the front, off the list; nil if empty
  bool any_ready() const { return ready_head_ != nil; }

 private:
  Slab<Conn> slab_;
  std::uint32_t timer_head_ = nil;
  std::uint32_t timer_tail_ = nil;
  std::uint32_t ready_head_ = nil;
  std::uint32_t ready_tail_ = nil;
};

}  // namespace ringcast
