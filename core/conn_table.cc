#include "core/conn_table.h"

#include "base/assert.h"
#include "net/io.h"

namespace ringcast {

namespace {
// Generation bits in a token: 23, so tokens stay below net::kTokenBits (see net/io.h).
constexpr std::uint32_t kGenMask = (1u << (net::kTokenBits - 32)) - 1;
}  // namespace

void ConnTable::free(std::uint32_t ci) {
  const Conn& c = slab_[ci];
  RC_ASSERT(!(c.flags & conn_flag::on_ready_list));
  RC_ASSERT(c.timer_prev == nil && c.timer_next == nil && timer_head_ != ci);
  slab_.free(ci);
}

std::uint64_t ConnTable::token(std::uint32_t ci) const {
  return (std::uint64_t(slab_[ci].gen & kGenMask) << 32) | ci;
}

std::uint32_t ConnTable::conn_of(std::uint64_t token) const {
  const auto ci = static_cast<std::uint32_t>(token);
  if (ci == nil || ci >= slab_.capacity()) return nil;
  return (slab_[ci].gen & kGenMask) == (token >> 32) ? ci : nil;
}

void ConnTable::touch(std::uint32_t ci, std::uint32_t now_ms) {
  untouch(ci);
  Conn& c = slab_[ci];
  c.activity_ms = now_ms;
  c.timer_prev = timer_tail_;
  c.timer_next = nil;
  if (timer_tail_ != nil) slab_[timer_tail_].timer_next = ci;
  else timer_head_ = ci;
  timer_tail_ = ci;
}

void ConnTable::untouch(std::uint32_t ci) {
  Conn& c = slab_[ci];
  if (c.timer_prev == nil && timer_head_ != ci) return;  // not on the list
  if (c.timer_prev != nil) slab_[c.timer_prev].timer_next = c.timer_next;
  else timer_head_ = c.timer_next;
  if (c.timer_next != nil) slab_[c.timer_next].timer_prev = c.timer_prev;
  else timer_tail_ = c.timer_prev;
  c.timer_prev = c.timer_next = nil;
}

void ConnTable::ready_front(std::uint32_t ci) {
  Conn& c = slab_[ci];
  if (c.flags & conn_flag::on_ready_list) return;
  c.flags |= conn_flag::on_ready_list;
  c.ready_next = ready_head_;
  ready_head_ = ci;
  if (ready_tail_ == nil) ready_tail_ = ci;
}

void ConnTable::ready_back(std::uint32_t ci) {
  Conn& c = slab_[ci];
  if (c.flags & conn_flag::on_ready_list) return;
  c.flags |= conn_flag::on_ready_list;
  c.ready_next = nil;
  if (ready_tail_ != nil) slab_[ready_tail_].ready_next = ci;
  else ready_head_ = ci;
  ready_tail_ = ci;
}

std::uint32_t ConnTable::take_ready() {
  const std::uint32_t ci = ready_head_;
  if (ci == nil) return nil;
  Conn& c = slab_[ci];
  ready_head_ = c.ready_next;
  if (ready_head_ == nil) ready_tail_ = nil;
  c.ready_next = nil;
  c.flags &= ~conn_flag::on_ready_list;
  return ci;
}

}  // namespace ringcast
