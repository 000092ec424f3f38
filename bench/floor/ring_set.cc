#include "bench/floor/ring_set.h"

#include "base/assert.h"

namespace ringcast::floorbench {

std::string RingSet::init(std::uint32_t batch, const Split& split) {
  RC_ASSERT(rings_.empty() && split.parts > 0);
  split_ = split;
  for (std::uint32_t ring = 0; ring < split.parts; ++ring) {
    rings_.push_back(std::make_unique<SendRing>());
    if (std::string err = rings_.back()->init(batch, split.size_of(ring)); !err.empty())
      return "ring " + std::to_string(ring) + ": " + err;
  }
  return {};
}

std::string RingSet::install(std::uint32_t stream, int fd) {
  RC_ASSERT(stream < split_.total);
  return rings_[split_.part_of(stream)]->install(stream % split_.per_part, fd);
}

RoundResult RingSet::send_regular(const std::vector<int>& fds, const char* event,
                                  std::size_t event_bytes, Shortfall* shortfall,
                                  std::string* error) {
  RC_ASSERT(!rings_.empty());
  RoundResult result;
  const std::uint64_t cpu_start = thread_cpu_ns();
  const std::uint64_t start = monotonic_ns();
  *error = rings_[0]->send(fds.data(), std::uint32_t(fds.size()), 0, event, event_bytes,
                           &result.counts, shortfall);
  result.wall_ns = monotonic_ns() - start;
  result.cpu_ns = thread_cpu_ns() - cpu_start;
  return result;
}

RoundResult RingSet::send_fixed(const char* event, std::size_t event_bytes, Shortfall* shortfall,
                                std::string* error) {
  RoundResult result;
  const std::uint64_t cpu_start = thread_cpu_ns();
  const std::uint64_t start = monotonic_ns();
  for (std::uint32_t ring = 0; ring < split_.parts; ++ring) {
    *error = rings_[ring]->send(nullptr, split_.size_of(ring), ring * split_.per_part, event,
                                event_bytes, &result.counts, shortfall);
    if (!error->empty()) return result;
  }
  result.wall_ns = monotonic_ns() - start;
  result.cpu_ns = thread_cpu_ns() - cpu_start;
  return result;
}

std::string RingSet::describe() const {
  RC_ASSERT(!rings_.empty());
  std::string text = rings_[0]->describe();
  text += "; fixed files in " + std::to_string(split_.parts) + (split_.parts == 1 ? " ring" : " rings");
  if (split_.parts > 1) text += " of " + std::to_string(split_.per_part);
  return text;
}

}  // namespace ringcast::floorbench
