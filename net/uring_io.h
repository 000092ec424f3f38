#pragma once
// The production IO backend: io_uring on the shard's own thread (SINGLE_ISSUER), accepted
// sockets installed straight into a ring's fixed-file table (direct descriptors, outside the
// process fd table), receives into provided-buffer rings.
//
// A shard may own several rings. One ring's fixed-file table is bounded by RLIMIT_NOFILE, so
// a shard that must hold more sockets adds rings, lazily, as they fill. Accepts name their
// slot explicitly (a few are kept in flight, each on a ring with a free slot), so no table ever
// overfills, however large the burst of connections. The thread blocks on
// the primary ring, which holds a multishot poll on every other ring's fd; each pass submits
// to and reaps from all of them. A stream stays on the ring that holds its descriptor for life.
// The descriptor the shard sees encodes both: (ring << 24) | slot.
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/clock.h"
#include "net/io.h"
#include "net/uring_ring.h"

namespace ringcast::net {

struct UringOptions {
  RingOptions ring;             // for every ring (primary is set per ring)
  std::uint32_t max_rings = 1;  // rings this shard may create
  int listen_fd = -1;
  // Sends of at least this many bytes go out as IORING_OP_SEND(MSG)_ZC: the kernel pins the
  // pages instead of copying them, and the send completes to the shard only once its
  // notification says the pages are free. 0: never (see docs/perf/send_zc.md for why that is
  // the default here).
  std::uint32_t send_zc_min_bytes = 0;
  // Sends handed to the kernel per io_uring_enter while a pass queues them. TCP sends run
  // inline in the submit, so one enter of 4,096 sends holds the CPU for ~25 ms without a
  // preemption point on a PREEMPT_NONE kernel; a few hundred keep the shard's core available
  // to other threads (and to the shard's own completions) at a negligible syscall cost.
  std::uint32_t submit_batch = 512;
};

// Zero-copy send outcomes, for /metrics.
struct ZcStats {
  std::uint64_t sends = 0;   // zero-copy sends issued
  std::uint64_t copied = 0;  // of those, the kernel copied anyway (loopback, some NICs)
};

// The user_data a MSG_RING must carry to arrive as a doorbell completion (net/waker.h).
std::uint64_t doorbell_user_data();

class UringIo final : public Io {
 public:
  UringIo();
  ~UringIo() override;
  UringIo(const UringIo&) = delete;

  // Sets the primary ring up. Returns an empty string, or what failed (with the errno text).
  std::string init(const UringOptions& options);
  int ring_fd() const { return rings_.front()->fd(); }
  // Every shard's primary ring fd, indexed by shard (our own entry is unused): our waker's
  // targets.
  void set_peers(std::vector<int> ring_fds);
  // A waker for a thread that is not a shard: MSG_RING to the same rings from a ring of its
  // own (net/uring_waker.h).
  static std::unique_ptr<Waker> foreign_waker(std::vector<int> ring_fds, std::string& error);
  std::string describe() const;

  void accept() override;
  void stop_accepting() override;
  void recv(std::uint64_t token, std::uint32_t fd) override;
  void release_buffer(std::uint32_t buffer) override;
  void send(std::uint64_t token, std::uint32_t fd, std::span<const iovec> iov) override;
  void shutdown_write(std::uint64_t token, std::uint32_t fd) override;
  void cancel(std::uint64_t token, std::uint32_t fd) override;
  void close(std::uint64_t token, std::uint32_t fd) override;
  Waker& waker() override;
  std::span<const Completion> wait(int timeout_ms) override;
  std::uint64_t monotonic_ms() const override { return ringcast::monotonic_ms(); }
  std::uint64_t unix_ms() const override { return ringcast::unix_ms(); }
  std::uint32_t descriptor_capacity() const override {
    return options_.max_rings * options_.ring.files;
  }
  IoStats stats() const override;
  bool send_zc_enabled() const { return options_.send_zc_min_bytes != 0; }

 private:
  io_uring_sqe* get_sqe(std::uint32_t ring);
  void submit_all();
  void reap(std::uint32_t ring);
  bool on_accept(Completion& c);
  void arm_accepts();
  std::string add_ring();

  UringOptions options_;
  std::vector<std::unique_ptr<UringRing>> rings_;
  // Rings peers with IORING_OP_MSG_RING from our primary ring; a failed delivery comes back
  // as an Op::notify_failed completion (uring_io.cc).
  class PeerWaker;
  void ring_peer(std::uint32_t target);
  std::vector<int> peers_;
  std::unique_ptr<PeerWaker> waker_;  // set by set_peers
  bool want_accept_ = false;
  bool accept_failed_ = false;       // the kernel refused accept itself (reported once)
  std::uint32_t accepts_inflight_ = 0;

  // msghdr/iovec copies for sends prepared this pass; the kernel consumes them at submit
  // (IORING_FEAT_SUBMIT_STABLE), after which they are reused.
  std::vector<msghdr> msg_scratch_;
  std::vector<iovec> iov_scratch_;
  std::size_t msg_used_ = 0;
  std::size_t iov_used_ = 0;
  std::uint32_t sends_queued_ = 0;  // since the last submit (see UringOptions::submit_batch)
  std::uint64_t cq_overflows_ = 0;  // waits that found a ring's CQ overflowed

  std::vector<Completion> completions_;
  // Zero-copy sends whose first completion arrived: their result, until the notification.
  std::unordered_map<std::uint64_t, std::int32_t> zc_pending_;
  ZcStats zc_;
};

}  // namespace ringcast::net
