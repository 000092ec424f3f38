#pragma once
// The IO seam. Shard logic (connections, HTTP, fan-out) talks only to this interface; the
// io_uring backend (production), and later the epoll baseline and the simulator, implement it.
//
// Model: completion-based. The shard asks for operations; each finishes later as one
// Completion, delivered by wait() after the backend has reaped everything available
// ("completions are queued, then run": no handler runs while the completion queue is read).
// Operations on a connection carry the shard's 64-bit token (record index + generation)
// back in their completion.
//
// Time crosses the seam too: a shard reads both clocks from its Io, never from a global, so
// the simulation (net/sim_io.h) moves time as it moves bytes. The kernel backends read the
// system clocks (base/clock.h).
#include <sys/uio.h>

#include <cstdint>
#include <span>

#include "net/waker.h"

namespace ringcast::net {

enum class Op : std::uint8_t {
  accept,    // res: new connection's descriptor, or -errno. more: the accept stays armed
  recv,      // res: bytes (0 = peer closed), or -errno. data/buffer set when res > 0
  send,      // res: bytes written (may be short), or -errno
  shutdown,  // res: 0 or -errno; the descriptor may be closed only after this completes
  cancel,    // res: count or -errno; likewise
  close,     // res: 0 or -errno; the descriptor is gone either way
  doorbell,  // another thread has put messages in our mailbox (net/waker.h)
  notify_failed,  // a doorbell our waker rang could not be delivered; token = target shard
};

// Counters of a TLS layer (net/tls_io.h), written by its shard only.
struct TlsStats {
  std::uint64_t handshakes = 0;      // completed
  std::uint64_t resumed = 0;         // of those, resumed from a session ticket
  std::uint64_t failures = 0;        // handshakes or records that failed (alert sent)
  std::uint64_t plain_http = 0;      // of those, plain HTTP sent to the TLS port (400 sent)
  std::uint64_t sessions = 0;        // gauge: TLS connections open
  std::uint64_t offloaded = 0;       // handshakes after which ringcast's record layer took over
};

// Tokens the shard hands to an operation use the low kTokenBits bits; the bit above is a
// layer's own (net/tls_io.h tags its inner operations with it) and the backend keeps the top
// byte for the operation code.
inline constexpr int kTokenBits = 55;

struct Completion {
  Op op;
  bool more = false;          // accept: still armed
  std::uint32_t buffer = 0;   // recv: provided buffer id, to hand back with release_buffer()
  std::int32_t res = 0;
  std::uint64_t token = 0;    // the token the operation was started with
  const char* data = nullptr; // recv: the received bytes (valid until release_buffer)
};

// A backend's telemetry. Defaults are what a backend without the feature reports.
struct IoStats {
  std::uint32_t rings = 1;          // io_uring instances in use
  std::uint32_t descriptors = 0;    // descriptors currently held
  std::uint64_t zc_sends = 0;       // zero-copy sends issued (io_uring only) ...
  std::uint64_t zc_copied = 0;      // ... and how many of them the kernel copied anyway
  // Waits that found a completion queue overflowed (io_uring only; the kernel kept the extra
  // completions, IORING_FEAT_NODROP, but the CQ was sized too small for that moment).
  std::uint64_t cq_overflows = 0;
  const TlsStats* tls = nullptr;    // TLS counters if this backend speaks TLS
};

class Io {
 public:
  virtual ~Io() = default;

  // Starts accepting on the shard's listener; completions until one arrives with more=false.
  virtual void accept() = 0;
  // Stops accepting (the armed accept completes with -ECANCELED, or not at all).
  virtual void stop_accepting() = 0;

  // One receive into a buffer the backend provides. The shard must release_buffer() it.
  virtual void recv(std::uint64_t token, std::uint32_t fd) = 0;
  virtual void release_buffer(std::uint32_t buffer) = 0;

  // One send of the iovecs, in order. The iovec array itself may be reused as soon as send()
  // returns; the bytes it points at must stay valid until the completion arrives.
  virtual void send(std::uint64_t token, std::uint32_t fd, std::span<const iovec> iov) = 0;

  virtual void shutdown_write(std::uint64_t token, std::uint32_t fd) = 0;
  // Cancels every operation in flight on the descriptor; each completes (often -ECANCELED).
  virtual void cancel(std::uint64_t token, std::uint32_t fd) = 0;
  virtual void close(std::uint64_t token, std::uint32_t fd) = 0;

  // How this shard wakes the others (net/waker.h): mark each target due as its mailbox gets a
  // message, flush once per pass; each target's wait() returns a doorbell completion. Valid
  // once the backend knows its peers (before the shard runs).
  virtual Waker& waker() = 0;

  // Submits what was asked since the last call, waits up to timeout_ms for at least one
  // completion, and returns every completion available. The span is valid until the next call.
  virtual std::span<const Completion> wait(int timeout_ms) = 0;

  // Milliseconds on a monotonic clock: timeouts, intervals, the shard's tick.
  virtual std::uint64_t monotonic_ms() const = 0;
  // Milliseconds since the Unix epoch: event ids, token expiry. May step backwards.
  virtual std::uint64_t unix_ms() const = 0;

  // Descriptors this backend can hold at once (the fixed-file table size for io_uring).
  virtual std::uint32_t descriptor_capacity() const = 0;
  // What /metrics shows of the backend, read once per tick (one call, one struct).
  virtual IoStats stats() const { return {}; }
};

}  // namespace ringcast::net
