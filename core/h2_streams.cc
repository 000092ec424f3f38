// An HTTP/2 connection's stream table (core/h2_conn.h): flat and sorted, no heap node per stream.
#include <algorithm>

#include "base/assert.h"
#include "core/h2_conn.h"

namespace ringcast {

void H2Stream::stage(const iovec* v, std::size_t n, std::size_t skip) {
  RC_ASSERT(n <= UINT16_MAX && (skip == 0 || (n > 0 && skip < v[0].iov_len)));
  iovec* to = inline_iov;
  more.reset();
  if (n > std::size(inline_iov)) {
    more = std::make_unique<iovec[]>(n);
    to = more.get();
  }
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
  more.reset();
  iov_count = iov_at = 0;
  iov_off = head = staged = pulled = sent = 0;
}

namespace {
auto id_less = [](const H2Stream& s, std::int32_t id) { return s.id < id; };
auto record_less = [](const std::pair<std::uint32_t, std::int32_t>& e, std::uint32_t r) {
  return e.first < r;
};

// A vector that shrank well below its capacity gives the memory back (connections whose
// streams come and go do not keep their peak).
template <class T>
void maybe_shrink(std::vector<T>& v) {
  if (v.capacity() > 2 * v.size() + 8) v.shrink_to_fit();
}
}  // namespace

H2Stream* H2Streams::find(std::int32_t id) {
  auto it = std::lower_bound(by_id_.begin(), by_id_.end(), id, id_less);
  return it != by_id_.end() && it->id == id ? &*it : nullptr;
}

std::int32_t H2Streams::id_of(std::uint32_t record) const {
  auto it = std::lower_bound(by_record_.begin(), by_record_.end(), record, record_less);
  RC_ASSERT(it != by_record_.end() && it->first == record);
  return it->second;
}

H2Stream& H2Streams::add(std::int32_t id, std::uint32_t record) {
  auto at = std::lower_bound(by_record_.begin(), by_record_.end(), record, record_less);
  RC_ASSERT(at == by_record_.end() || at->first != record);
  by_record_.insert(at, {record, id});
  auto it = std::lower_bound(by_id_.begin(), by_id_.end(), id, id_less);
  RC_ASSERT(it == by_id_.end() || it->id != id);
  it = by_id_.emplace(it);
  it->id = id;
  it->conn = record;
  return *it;
}

void H2Streams::erase(std::int32_t id) {
  auto it = std::lower_bound(by_id_.begin(), by_id_.end(), id, id_less);
  RC_ASSERT(it != by_id_.end() && it->id == id);
  auto at = std::lower_bound(by_record_.begin(), by_record_.end(), it->conn, record_less);
  RC_ASSERT(at != by_record_.end() && at->second == id);
  by_record_.erase(at);
  by_id_.erase(it);
  maybe_shrink(by_id_);
  maybe_shrink(by_record_);
}

std::vector<std::uint32_t> H2Streams::records() const {
  std::vector<std::uint32_t> out;
  out.reserve(by_record_.size());
  for (const auto& [record, id] : by_record_) out.push_back(record);
  return out;
}

}  // namespace ringcast
