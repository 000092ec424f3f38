// The topic table: names to slots, created on demand and freed again. A topic is freed
// (reclaimed) once nothing refers to it: no subscriber or held poll, nothing in its history
// (nor pinned by a send in flight), no Redis watch, and not a topic the server itself uses.
// Requests refused by access control never get here, so they create nothing.
#include <algorithm>

#include "base/assert.h"
#include "base/clock.h"
#include "core/shard.h"

namespace ringcast {

std::uint32_t Shard::topic_index(std::string_view name, bool create) {
  if (const std::uint32_t index = topics_.find(name); index != nil || !create) return index;
  // The limit holds for every creation: a request's and a chunk's from the owner alike
  // (deliver() copes with a full table).
  if (live_topics() >= config_.max_topics) return nil;
  return topics_.create(name, {config_.history, config_.history_bytes});
}

bool Shard::reclaimable(std::uint32_t index) const {
  const Topic& t = topics_[index];
  return !t.name.empty() && t.subscribers == 0 && t.first_sub == nil && t.history.empty() &&
         t.history.physical_begin() == t.history.end() && t.watch == Watch::off &&
         index != stats_topic_ && t.behind_shards.none() && !t.behind &&
         (t.held == nullptr || !t.held->listed);
}

// Once per tick: expires old events (--history-ttl-ms) and frees the topics nothing refers to
// any more. O(topics); each expire() stops at the first young event.
void Shard::sweep_topics() {
  const std::uint64_t now = io_.unix_ms();
  const std::uint64_t cutoff =
      config_.history_ttl_ms == 0 ? 0 : now - std::min<std::uint64_t>(now, config_.history_ttl_ms);
  for (std::uint32_t i = 0; i < topics_.size(); ++i) {
    Topic& t = topics_[i];
    if (t.name.empty()) continue;  // a free slot
    if (cutoff != 0) t.history.expire(cutoff);
    if (!reclaimable(i)) continue;
    topics_.free(i, {config_.history, config_.history_bytes});
    metrics_.topics_reclaimed.add();
  }
}

}  // namespace ringcast
