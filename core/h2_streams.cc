// An HTTP/2 connection's stream table (core/h2_conn.h): flat and sorted, no heap node per stream.
#include <algorithm>

#include "base/assert.h"
#include "core/h2_conn.h"

namespace ringcast {

void H2Stream::stage(const iovec* v, std::size_t n, std::size_t skip) {
  RC_ASSERT(n <= UINT16_MAX && (skip == 0 || (n > 0 && skip < v[0].iov_len)));
  delete[] more;
  more = nullptr;
  iovec* to = inline_iov;
  if (n > std::size(inline_iov)) to = more = new iovec[n];
  std::copy(v, v + n, to);
  if (skip > 0) {
    to[0].iov_base = static_cast<char*>(to[0].iov_base) + skip;
    to[0].iov_len -= skip;
  }
  iov_count = static_cast<std::uint16_t>(n);
  iov_at = 0;
  iov_off = 0;
}

void H2Stream::clear_staged() {
  delete[] more;
  more = nullptr;
  iov_count = iov_at = 0;
  iov_off = head = staged = pulled = sent = 0;
}

namespace {
template <class Entry, class Key>
auto lower(std::vector<Entry>& v, Key key, Key Entry::*field) {
  return std::lower_bound(v.begin(), v.end(), key,
                          [field](const Entry& e, Key k) { return e.*field < k; });
}

// A vector that shrank well below its capacity gives the memory back (connections whose
// streams come and go do not keep their peak).
template <class T>
void maybe_shrink(std::vector<T>& v) {
  if (v.capacity() > 2 * v.size() + 8) v.shrink_to_fit();
}
}  // namespace

H2Streams::~H2Streams() {
  for (const ById& e : by_id_) {
    slab_[e.slot].clear_staged();
    slab_.free(e.slot);
  }
}

H2Stream* H2Streams::find(std::int32_t id) {
  auto it = lower(by_id_, id, &ById::id);
  return it != by_id_.end() && it->id == id ? &slab_[it->slot] : nullptr;
}

std::int32_t H2Streams::id_of(std::uint32_t record) const {
  auto& v = const_cast<std::vector<ByRecord>&>(by_record_);
  auto it = lower(v, record, &ByRecord::record);
  RC_ASSERT(it != v.end() && it->record == record);
  return slab_[it->slot].id;
}

H2Stream& H2Streams::add(std::int32_t id, std::uint32_t record) {
  const std::uint32_t slot = slab_.alloc();
  RC_ASSERT(slot != nil);  // as many slots as connection records, and the stream holds one
  H2Stream& st = slab_[slot];
  st.id = id;
  st.conn = record;
  auto at = lower(by_record_, record, &ByRecord::record);
  RC_ASSERT(at == by_record_.end() || at->record != record);
  by_record_.insert(at, {record, slot});
  auto it = lower(by_id_, id, &ById::id);
  RC_ASSERT(it == by_id_.end() || it->id != id);
  by_id_.insert(it, {id, slot});
  return st;
}

void H2Streams::erase(std::int32_t id) {
  auto it = lower(by_id_, id, &ById::id);
  RC_ASSERT(it != by_id_.end() && it->id == id);
  const std::uint32_t slot = it->slot;
  auto at = lower(by_record_, slab_[slot].conn, &ByRecord::record);
  RC_ASSERT(at != by_record_.end() && at->slot == slot);
  by_record_.erase(at);
  by_id_.erase(it);
  slab_[slot].clear_staged();
  slab_.free(slot);
  maybe_shrink(by_id_);
  maybe_shrink(by_record_);
}

std::vector<std::uint32_t> H2Streams::records() const {
  std::vector<std::uint32_t> out;
  out.reserve(by_record_.size());
  for (const ByRecord& e : by_record_) out.push_back(e.record);
  return out;
}

}  // namespace ringcast
