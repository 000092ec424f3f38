#pragma once
// A topic on one shard (its history, its subscribers, its Redis watch and publish flow
// control state), and the shard's table of them: names to slots, created on demand, freed
// when nothing refers to them any more (the shard decides that: core/shard_topics.cc), slots
// reused. Owns the topics and the name index; its shard's thread alone uses it.
#include <bitset>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "alloc/slab.h"  // nil
#include "core/config.h"  // kMaxShardCount
#include "core/history.h"
#include "core/mailbox.h"

namespace ringcast {

// Redis mode: whether this shard has told the bridge it watches a topic (core/shard_redis.cc).
enum class Watch : std::uint8_t { off, pending, on };

// Publishes an owner shard holds for a topic while its streams are behind (core/shard_flow.cc).
struct HeldPublishes {
  HeldPublishes() = default;
  HeldPublishes(const HeldPublishes&) = delete;
  ~HeldPublishes() {
    for (PublishMessage* m : queue) delete m;
  }
  std::deque<PublishMessage*> queue;
  std::uint32_t since_ms = 0;  // shard clock when the oldest waiting one arrived (or last moved)
  bool listed = false;         // on the shard's held_topics_
};

struct Topic {
  std::string name;
  History history;
  std::uint32_t first_sub = nil;
  std::uint32_t subscribers = 0;
  // Redis mode. The history is a gapless run of the stream only from `contiguous_seq` on: a
  // topic the node stopped watching missed entries meanwhile, so a resume from before that
  // point is served from the stream instead.
  Watch watch = Watch::off;
  std::uint32_t watch_gen = 0;
  std::uint64_t contiguous_seq = 1;
  EventId last_id;  // owner shard: the newest id published (stream ids only ever grow)
  bool occupancy_dirty = false;  // `subscribers` changed since the last report (shard_occupancy.cc)
  // Publish flow control (core/shard_flow.cc). Every shard: `at_risk` of its streams have not
  // sent past `risk_mark`, the middle of a history that is evicting, and still read from it
  // (from `risk_from`, its start then): recounted on each delivered event, decremented as
  // streams pass the mark. `behind` is what the owner was last told. Owner shard: which shards are behind, whether a wait ran out, and the
  // publishes waiting.
  std::uint64_t risk_from = 0;
  std::uint64_t risk_mark = 0;
  std::uint32_t at_risk = 0;
  bool behind = false;
  bool overrun = false;
  std::bitset<kMaxShardCount> behind_shards;
  std::unique_ptr<HeldPublishes> held;
};

// The topics of one shard. A slot with an empty name is free and listed for reuse.
class TopicTable {
 public:
  Topic& operator[](std::uint32_t index) { return topics_[index]; }
  const Topic& operator[](std::uint32_t index) const { return topics_[index]; }
  std::uint32_t size() const { return std::uint32_t(topics_.size()); }  // slots, free ones too
  std::uint32_t live() const { return std::uint32_t(topics_.size() - free_.size()); }

  std::uint32_t find(std::string_view name) const;  // nil if absent; builds no string
  // A new topic in a free slot (or a new one); the name must be absent.
  std::uint32_t create(std::string_view name, History::Limits limits);
  // Frees the slot; its topic is replaced by an empty one with these limits.
  void free(std::uint32_t index, History::Limits limits);

 private:
  std::vector<Topic> topics_;
  std::vector<std::uint32_t> free_;
  // Transparent hashing: lookups by string_view (every delivered chunk, every publish) do not
  // build a std::string.
  struct NameHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view name) const { return std::hash<std::string_view>{}(name); }
  };
  std::unordered_map<std::string, std::uint32_t, NameHash, std::equal_to<>> by_name_;
};

}  // namespace ringcast
