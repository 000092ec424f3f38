#pragma once
// Snapshots of the kernel's memory and socket counters, taken before and after the streams are
// established, and the difference attributed to them. Both ends of every stream live on this
// box, so growth / N is per socket *pair*; half of it estimates one server-side socket.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ringcast::floorbench {

struct SlabCache {
  std::uint64_t active_objects = 0;
  std::uint64_t object_bytes = 0;  // objsize
};

struct MemorySnapshot {
  std::uint64_t slab_bytes = 0;        // /proc/meminfo Slab
  std::uint64_t sunreclaim_bytes = 0;  // /proc/meminfo SUnreclaim
  std::uint64_t sockets_used = 0;      // /proc/net/sockstat "sockets: used"
  std::uint64_t tcp_inuse = 0;
  std::uint64_t tcp_alloc = 0;
  std::uint64_t tcp_mem_pages = 0;     // pages charged to TCP socket buffers
  std::uint64_t rss_bytes = 0;         // this process, /proc/self/status VmRSS
  std::map<std::string, SlabCache> slab_caches;  // empty when /proc/slabinfo is unreadable
};

// Reads every source it can; a missing source leaves its fields zero.
MemorySnapshot take_memory_snapshot();

struct CacheGrowth {
  std::string name;
  std::int64_t objects = 0;
  std::int64_t bytes = 0;  // objects × objsize
  // SLUB merges caches of like size and flags, and /proc/slabinfo shows a merged group under
  // one name: "eventpoll_epi" may really be tcp_bind_bucket objects. The other names, if any.
  std::string merged_with;
};

struct MemoryGrowth {
  std::uint32_t pairs = 0;
  std::int64_t slab_bytes = 0;
  std::int64_t sunreclaim_bytes = 0;
  std::int64_t sockets_used = 0;
  std::int64_t tcp_inuse = 0;
  std::int64_t tcp_alloc = 0;
  std::int64_t tcp_mem_pages = 0;
  std::int64_t rss_bytes = 0;
  bool have_slabinfo = false;
  std::vector<CacheGrowth> caches;  // growing caches, largest first
};

MemoryGrowth memory_growth(const MemorySnapshot& before, const MemorySnapshot& after,
                           std::uint32_t pairs);

}  // namespace ringcast::floorbench
