#pragma once
// One connection's record (or, over HTTP/2, one stream's: its fd is kH2StreamFd | the
// connection's record), its states and flags. Fixed size, no owning members: an idle stream
// owns no heap memory (`in` and `out` are only set while a request is being read or a
// response written). The records live in a ConnTable (core/conn_table.h).
#include <cstdint>
#include <string>

namespace ringcast {

enum class ConnState : std::uint8_t {
  reading,     // waiting for (the rest of) a request head or body
  publishing,  // waiting for the owner shard to acknowledge a publish
  opening,     // a stream waiting for the Redis bridge (watch in effect, missed entries)
  responding,  // writing a plain response
  streaming,   // an SSE stream
  polling,     // a long poll held until its topic has an event or --poll-timeout-ms passes
  lingering,   // write side shut after an error response; draining input until EOF
  closing,     // cancel/close under way; the record is freed when the close completes
  h2,          // an HTTP/2 connection: its requests are stream records (core/shard_h2.cc)
};

// Conn::fd of an HTTP/2 stream's record: this bit, and the index of its connection's record.
inline constexpr std::uint32_t kH2StreamFd = 1u << 31;

namespace conn_flag {
inline constexpr std::uint8_t send_inflight = 1 << 0;
inline constexpr std::uint8_t recv_inflight = 1 << 1;
inline constexpr std::uint8_t on_ready_list = 1 << 2;
inline constexpr std::uint8_t keep_alive = 1 << 3;
inline constexpr std::uint8_t close_after_send = 1 << 4;
inline constexpr std::uint8_t proto_known = 1 << 5;  // HTTP/1.1 or HTTP/2 decided (--h2)
inline constexpr std::uint8_t close_sent = 1 << 6;
inline constexpr std::uint8_t counted_stream = 1 << 7;
}  // namespace conn_flag
namespace conn_flag2 {
inline constexpr std::uint8_t continue_sent = 1 << 0;  // "100 Continue" went out for this request
inline constexpr std::uint8_t drain_notice_sent = 1 << 1;  // the final "retry:" went out
inline constexpr std::uint8_t stream_begun = 1 << 4;  // the stream's first send completed
inline constexpr std::uint8_t shutdown_inflight = 1 << 2;  // IORING_OP_SHUTDOWN not yet completed
inline constexpr std::uint8_t cancel_inflight = 1 << 3;    // IORING_OP_ASYNC_CANCEL not yet completed
// A held poll whose resume point was not exact: bits 5-7 hold the gap reason (shard_poll.cc).
inline constexpr int poll_gap_shift = 5;
inline constexpr std::uint8_t poll_gap_mask = 7 << poll_gap_shift;
// Every operation naming the descriptor must complete before it is closed: the kernel resolves
// a direct descriptor when the operation is issued, and a shutdown is always issued later from
// an io-wq worker. Closed earlier, the slot could already belong to a new connection.
inline constexpr std::uint8_t fd_ops = shutdown_inflight | cancel_inflight;
}  // namespace conn_flag2

// One connection. Fixed size, no owning members: an idle stream owns no heap memory
// (`in` and `out` are only set while a request is being read or a response written).
struct Conn {
  std::uint32_t fd;               // direct descriptor index
  std::uint32_t gen;              // bumped on every reuse of the slot (stale-completion guard)
  ConnState state;
  std::uint8_t flags;
  std::uint16_t ctl_len;          // static control bytes still to send (stream head, ping)
  std::uint8_t more_flags;        // conn_flag2::*
  std::uint8_t publish_owner;     // shard that owes this connection its publish acks
  std::uint16_t pending_acks;     // pipelined publishes forwarded to publish_owner, unanswered
  const char* ctl;                // where those bytes are (static storage, never freed)
  std::uint32_t first_sub;        // this stream's subscriptions (Sub slab indices)
  std::uint32_t ready_next;       // shard ready list
  std::uint32_t timer_prev;       // shard activity list (oldest first): heartbeats,
  std::uint32_t timer_next;       //   stalls, request and linger timeouts
  std::uint32_t activity_ms;      // shard clock at the last send issue / state change
  std::uint32_t send_started_ms;  // shard clock when the send in flight was issued
  std::uint32_t out_off;          // bytes of *out already sent
  std::uint16_t cors;             // CORS headers of this connection's answers (CorsPolicy slot)
  // Publish flow control (shard_flow.cc): when this stream's last episode of holding publishers
  // began, in 64 ms units of the shard clock (0: never).
  std::uint16_t risk_since;
  std::string* in;                // partial request bytes (rare: a request split across reads)
  std::string* out;               // plain response(s) being written
  std::string* out_next;          // responses queued while `out` is in flight (pipelining)
};
static_assert(sizeof(Conn) <= 128, "a connection record must stay small (density target)");

}  // namespace ringcast
