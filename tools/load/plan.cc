#include "tools/load/plan.h"

#include <sys/resource.h>

#include <algorithm>

#include "tools/load/sse_parser.h"

namespace ringcast::load {

namespace {

// Slack below RLIMIT_NOFILE for the process's own regular fds (stdio, eventfds, the JSON
// file, the fallback path's transient sockets).
constexpr std::uint32_t kFdSlack = 64;
// Per-event tables cost 16 bytes per (topic, k) per thread; beyond this they are skipped.
constexpr std::uint64_t kTableEventsMax = 4'000'000;

std::uint32_t nofile_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 1u << 20;
  return rl.rlim_cur > (1u << 20) ? 1u << 20 : std::uint32_t(rl.rlim_cur);
}

}  // namespace

std::string make_plan(const Options& opt, Plan& out) {
  Plan p;
  const std::uint32_t limit = nofile_limit();
  if (limit <= kFdSlack + 64) return "RLIMIT_NOFILE is too low for a useful fixed-file table";
  p.ring_files = opt.ring_files != 0 ? opt.ring_files : limit - kFdSlack;
  if (p.ring_files > limit)
    return "--ring-files " + std::to_string(p.ring_files) + " exceeds RLIMIT_NOFILE " + std::to_string(limit);
  p.streams = opt.mode == Mode::publish ? 0 : opt.streams;
  p.publishers = opt.mode == Mode::subscribe ? 0 : opt.publishers;
  p.from_zero = opt.mode == Mode::run || opt.mode == Mode::storm;
  // A publisher thread only where there are both (run, storm): in publish mode every thread
  // holds publishers alone already.
  p.publisher_thread = opt.publisher_thread && p.streams > 0 && p.publishers > 0;
  p.threads = opt.threads + (p.publisher_thread ? 1 : 0);
  p.streams_per_conn = opt.h2 ? opt.streams_per_conn : 0;
  // --h2: the unit dealt to rings is a connection of S streams (the last one may hold fewer).
  const std::uint64_t per_unit = opt.h2 ? opt.streams_per_conn : 1;
  const std::uint64_t units = (p.streams + per_unit - 1) / per_unit;
  const std::uint64_t shared_conns = units + (p.publisher_thread ? 0 : p.publishers);
  const std::uint64_t need = (shared_conns + p.ring_files - 1) / p.ring_files;
  const std::uint64_t stream_rings = std::max<std::uint64_t>(need, opt.threads);
  const std::uint64_t pub_rings = p.publisher_thread ? (p.publishers + p.ring_files - 1) / p.ring_files : 0;
  const std::uint64_t rings = stream_rings + pub_rings;
  if (rings > 4096) return "too many rings (" + std::to_string(rings) + "); raise --ring-files";
  p.rings.resize(rings);
  std::uint64_t next = 0;
  for (std::uint64_t r = 0; r < stream_rings; ++r) {
    RingPlan& rp = p.rings[r];
    rp.thread = std::uint32_t(r % opt.threads);
    rp.first_stream = next;
    const std::uint64_t ring_units = units / stream_rings + (r < units % stream_rings ? 1 : 0);
    rp.streams = std::uint32_t(std::min(ring_units * per_unit, p.streams - next));
    next += rp.streams;
  }
  for (std::uint64_t r = stream_rings; r < rings; ++r) {
    p.rings[r].thread = opt.threads;  // the publisher thread
    p.rings[r].first_stream = p.streams;
  }
  // With a publisher thread its rings take them round-robin; otherwise every ring does.
  const std::uint64_t first_pub_ring = p.publisher_thread ? stream_rings : 0;
  for (std::uint32_t i = 0; i < p.publishers; ++i)
    p.rings[first_pub_ring + i % (rings - first_pub_ring)].publishers.push_back(i);
  for (const RingPlan& rp : p.rings) {
    // Publishers' slots follow the ring's streams (over HTTP/2 too: slots below streams are
    // the connections').
    const std::uint64_t slots = rp.publishers.empty() ? (opt.h2 ? p.h2_conns(rp) : rp.streams)
                                                      : rp.streams + rp.publishers.size();
    if (slots > p.ring_files)
      return "a ring would hold more connections than --ring-files";
  }
  if (opt.mode == Mode::storm) {
    // --h2 drops whole connections: as many as hold --drop streams, rounded up.
    p.drop_units = opt.h2 ? (opt.drop + per_unit - 1) / per_unit : opt.drop;
    for (std::uint64_t g = 0; g < p.streams; ++g) p.drop_streams += p.droppee(g);
  }
  for (std::uint32_t t = 0; t < opt.topics; ++t) {
    p.topic_names.push_back(opt.topic_prefix + std::to_string(t));
    p.topic_hashes.push_back(topic_hash(p.topic_names.back()));
  }
  if (opt.mode == Mode::run && opt.events * opt.topics <= kTableEventsMax) p.table_events = opt.events;
  out = std::move(p);
  return {};
}

}  // namespace ringcast::load
