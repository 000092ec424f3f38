#pragma once
// Streams whose token expires: a min-heap of (deadline, connection token), so a shard ends
// each such stream when its token's exp (plus the leeway) passes, without a field in every
// connection record or a walk over the streams that have no token.
//
// Entries of connections closed meanwhile are skipped when they surface (the connection
// token's generation no longer matches). So that churn under long-lived tokens cannot grow
// the heap without bound, add() compacts it once it holds more than twice the live
// connections: each entry is then at most one live stream's, plus that slack.
#include <algorithm>
#include <cstdint>
#include <vector>

namespace ringcast {

class TokenExpiry {
 public:
  // `alive(token)`: whether the connection the token names is still the same one.
  template <class Alive>
  void add(std::int64_t deadline_s, std::uint64_t token, std::size_t live_connections, Alive&& alive) {
    if (heap_.size() >= 2 * live_connections + kSlack) {
      std::erase_if(heap_, [&](const Entry& e) { return !alive(e.token); });
      std::make_heap(heap_.begin(), heap_.end(), Later{});
    }
    heap_.push_back({deadline_s, token});
    std::push_heap(heap_.begin(), heap_.end(), Later{});
  }

  // Calls `due(deadline_s, token)` for every entry whose deadline is before `now_s`,
  // removing it. `due` must not add entries (it would see them again at once).
  template <class Due>
  void pop_due(std::int64_t now_s, Due&& due) {
    while (!heap_.empty() && heap_.front().deadline_s < now_s) {
      std::pop_heap(heap_.begin(), heap_.end(), Later{});
      const Entry e = heap_.back();
      heap_.pop_back();
      due(e.deadline_s, e.token);
    }
  }

  std::size_t size() const { return heap_.size(); }

 private:
  static constexpr std::size_t kSlack = 64;
  struct Entry {
    std::int64_t deadline_s;
    std::uint64_t token;
  };
  struct Later {  // std heaps are max-heaps: "less" is "later", so the soonest is on top
    bool operator()(const Entry& a, const Entry& b) const { return a.deadline_s > b.deadline_s; }
  };
  std::vector<Entry> heap_;
};

}  // namespace ringcast
