#include "bench/floor/kernel_memory.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace ringcast::floorbench {

namespace {

constexpr std::size_t kSlabLinesMax = 4096;  // a kernel has a few hundred caches
constexpr std::size_t kCachesKept = 16;       // the report shows the largest growers only
constexpr const char* kSlabSysfs = "/sys/kernel/slab/";

// "Key:   1234 kB" lines of /proc/meminfo and /proc/self/status.
std::uint64_t read_kb_field(const char* path, const char* key) {
  std::ifstream in(path);
  std::string line;
  const std::size_t key_len = std::strlen(key);
  while (std::getline(in, line)) {
    if (line.compare(0, key_len, key) == 0 && line.size() > key_len && line[key_len] == ':') {
      return std::strtoull(line.c_str() + key_len + 1, nullptr, 10) * 1024;
    }
  }
  return 0;
}

// The number after `word` on the sockstat line that starts with `prefix`.
std::uint64_t sockstat_value(const std::string& text, const char* prefix, const char* word) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(prefix, 0) != 0) continue;
    std::istringstream fields(line.substr(std::strlen(prefix)));
    std::string name;
    std::uint64_t value = 0;
    while (fields >> name >> value) {
      if (name == word) return value;
    }
  }
  return 0;
}

void read_sockstat(MemorySnapshot* snapshot) {
  std::ifstream in("/proc/net/sockstat");
  std::stringstream text;
  text << in.rdbuf();
  const std::string s = text.str();
  snapshot->sockets_used = sockstat_value(s, "sockets:", "used");
  snapshot->tcp_inuse = sockstat_value(s, "TCP:", "inuse");
  snapshot->tcp_alloc = sockstat_value(s, "TCP:", "alloc");
  snapshot->tcp_mem_pages = sockstat_value(s, "TCP:", "mem");
}

// /proc/slabinfo (root only): "name active_objs num_objs objsize ...".
void read_slabinfo(MemorySnapshot* snapshot) {
  std::ifstream in("/proc/slabinfo");
  std::string line;
  for (std::size_t i = 0; i < kSlabLinesMax && std::getline(in, line); ++i) {
    if (line.empty() || line[0] == '#' || line.rfind("slabinfo", 0) == 0) continue;
    std::istringstream fields(line);
    std::string name;
    SlabCache cache;
    std::uint64_t total_objects = 0;
    if (fields >> name >> cache.active_objects >> total_objects >> cache.object_bytes) {
      snapshot->slab_caches[name] = cache;
    }
  }
}

std::string slab_link(const std::string& name) {
  char target[256];
  ssize_t n = readlink((kSlabSysfs + name).c_str(), target, sizeof target - 1);
  return n > 0 ? std::string(target, std::size_t(n)) : std::string();
}

// Cache name -> the other names merged with it, from /sys/kernel/slab's alias symlinks.
std::map<std::string, std::string> slab_merges(const std::vector<CacheGrowth>& caches) {
  std::map<std::string, std::vector<std::string>> names_by_target;
  if (DIR* dir = opendir(kSlabSysfs)) {
    for (std::size_t i = 0; i < kSlabLinesMax * 4; ++i) {
      const dirent* entry = readdir(dir);
      if (entry == nullptr) break;
      if (entry->d_type != DT_LNK) continue;
      names_by_target[slab_link(entry->d_name)].push_back(entry->d_name);
    }
    closedir(dir);
  }
  std::map<std::string, std::string> merges;
  for (const CacheGrowth& cache : caches) {
    const std::string target = slab_link(cache.name);
    if (target.empty()) continue;
    std::string others;
    for (const std::string& name : names_by_target[target]) {
      if (name == cache.name) continue;
      others += (others.empty() ? "" : ",") + name;
    }
    merges[cache.name] = others;
  }
  return merges;
}

}  // namespace

MemorySnapshot take_memory_snapshot() {
  MemorySnapshot snapshot;
  read_slabinfo(&snapshot);
  snapshot.slab_bytes = read_kb_field("/proc/meminfo", "Slab");
  snapshot.sunreclaim_bytes = read_kb_field("/proc/meminfo", "SUnreclaim");
  read_sockstat(&snapshot);
  snapshot.rss_bytes = read_kb_field("/proc/self/status", "VmRSS");
  return snapshot;
}

MemoryGrowth memory_growth(const MemorySnapshot& before, const MemorySnapshot& after,
                           std::uint32_t pairs) {
  auto delta = [](std::uint64_t a, std::uint64_t b) { return std::int64_t(b) - std::int64_t(a); };
  MemoryGrowth growth;
  growth.pairs = pairs;
  growth.slab_bytes = delta(before.slab_bytes, after.slab_bytes);
  growth.sunreclaim_bytes = delta(before.sunreclaim_bytes, after.sunreclaim_bytes);
  growth.sockets_used = delta(before.sockets_used, after.sockets_used);
  growth.tcp_inuse = delta(before.tcp_inuse, after.tcp_inuse);
  growth.tcp_alloc = delta(before.tcp_alloc, after.tcp_alloc);
  growth.tcp_mem_pages = delta(before.tcp_mem_pages, after.tcp_mem_pages);
  growth.rss_bytes = delta(before.rss_bytes, after.rss_bytes);
  growth.have_slabinfo = !after.slab_caches.empty();
  for (const auto& [name, cache] : after.slab_caches) {
    auto old = before.slab_caches.find(name);
    const std::uint64_t old_objects = old == before.slab_caches.end() ? 0 : old->second.active_objects;
    const std::int64_t objects = delta(old_objects, cache.active_objects);
    if (objects <= 0) continue;
    growth.caches.push_back({name, objects, objects * std::int64_t(cache.object_bytes)});
  }
  std::sort(growth.caches.begin(), growth.caches.end(),
            [](const CacheGrowth& a, const CacheGrowth& b) { return a.bytes > b.bytes; });
  if (growth.caches.size() > kCachesKept) growth.caches.resize(kCachesKept);
  const std::map<std::string, std::string> merges = slab_merges(growth.caches);
  for (CacheGrowth& cache : growth.caches) {
    auto found = merges.find(cache.name);
    if (found != merges.end()) cache.merged_with = found->second;
  }
  return growth;
}

}  // namespace ringcast::floorbench
