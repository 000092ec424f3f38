#pragma once
// How one process spreads its connections: rings of at most `ring_files` direct descriptors
// (a ring's fixed-file table may not exceed RLIMIT_NOFILE), rings dealt round-robin to
// threads, streams in contiguous blocks per ring. Publishers: when streams and publishers share
// the process (run, storm), by default on one more thread of their own that holds no stream
// (--publisher-thread: an answer is read when it arrives, not after a stream thread's pass
// over a broadcast's deliveries); otherwise (--no-publisher-thread, or publish mode, where
// there is no stream) spread over the rings. Stream g subscribes to topic g % topics;
// publisher p owns the topics t with t % publishers == p, so each topic's k is issued in
// order over one connection.
#include <cstdint>
#include <string>
#include <vector>

#include "tools/load/options.h"

namespace ringcast::load {

struct RingPlan {
  std::uint32_t thread = 0;
  std::uint64_t first_stream = 0;  // global index of the ring's first stream
  std::uint32_t streams = 0;
  std::vector<std::uint32_t> publishers;  // global publisher indices
};

struct Plan {
  std::uint32_t threads = 1;  // every worker thread, the publisher thread included
  // The last thread (index threads - 1) holds every publisher and no stream; its rings come
  // after the stream rings.
  bool publisher_thread = false;
  std::uint32_t ring_files = 0;
  std::uint32_t publishers = 0;  // 0 in subscribe mode
  std::uint64_t streams = 0;     // 0 in publish mode
  std::vector<RingPlan> rings;
  std::vector<std::string> topic_names;
  std::vector<std::uint32_t> topic_hashes;
  // Streams expect k = 1 first (they subscribed before publishing began); otherwise the first
  // k a stream sees is its baseline.
  bool from_zero = true;
  // --h2: streams per connection (a ring's streams are whole connections' blocks, so
  // connection j of a ring holds its streams [j*S, (j+1)*S)); 0 over HTTP/1.1.
  std::uint32_t streams_per_conn = 0;
  // storm: the streams --drop takes (over HTTP/2 whole connections go, so the count is
  // their streams'), spread evenly over the process (see droppee()).
  std::uint64_t drop_streams = 0;
  std::uint64_t drop_units = 0;  // streams, or --h2 connections, to drop
  // Events per topic tracked one by one (fan-out times, acknowledged ids); 0 = not tracked.
  std::uint64_t table_events = 0;

  std::uint64_t conns() const { return streams + publishers; }
  // --h2: a ring's connections.
  std::uint32_t h2_conns(const RingPlan& rp) const {
    return streams_per_conn == 0 ? 0 : (rp.streams + streams_per_conn - 1) / streams_per_conn;
  }
  // storm: whether stream g is dropped. K of N units (streams, or --h2 connections of S
  // streams: a browser loses all of a connection's streams at once) spread evenly: unit u
  // goes when floor(u*K/N) steps.
  bool droppee(std::uint64_t g) const {
    if (drop_units == 0) return false;
    const std::uint64_t per = streams_per_conn == 0 ? 1 : streams_per_conn;
    const std::uint64_t u = g / per, units = (streams + per - 1) / per;
    return (u + 1) * drop_units / units > u * drop_units / units;
  }
  std::uint32_t stream_threads() const { return threads - (publisher_thread ? 1 : 0); }
  std::uint32_t topic_of_stream(std::uint64_t g) const {
    return std::uint32_t(g % topic_names.size());
  }
};

// Returns an empty string, or why the options cannot be laid out.
std::string make_plan(const Options& opt, Plan& out);

}  // namespace ringcast::load
