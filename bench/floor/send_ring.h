#pragma once
// One io_uring that writes an event to many streams in batches, with a sparse fixed-file table
// that streams are installed into one by one as they are accepted (direct descriptors, as
// ringcast's shards hold them). bench/floor/ring_set.h spreads the streams over several.
#include <liburing.h>

#include <cstdint>
#include <string>

#include "bench/floor/senders.h"

namespace ringcast::floorbench {

class SendRing {
 public:
  SendRing() = default;
  SendRing(const SendRing&) = delete;
  SendRing& operator=(const SendRing&) = delete;
  ~SendRing();

  // Creates the ring (SQ = batch entries) and a fixed-file table of `table_slots` empty slots.
  std::string init(std::uint32_t batch, std::uint32_t table_slots);
  // Puts `fd` in table slot `slot`. The table holds its own reference to the socket, so the
  // caller may close `fd` afterwards and the stream lives on as a direct descriptor.
  std::string install(std::uint32_t slot, int fd);
  // IORING_OP_SEND of `event` to `count` targets, `batch` SQEs per io_uring_submit, every CQE of
  // a batch reaped before the next is prepared. Target i is fds[i], or table slot i when `fds` is
  // null; its stream number (for the shortfall) is first_stream + i. Untimed: the caller times
  // the round. Returns an empty string or why a submit or a wait failed.
  std::string send(const int* fds, std::uint32_t count, std::uint32_t first_stream,
                   const char* event, std::size_t event_bytes, SendCounts* counts,
                   Shortfall* shortfall);
  std::string describe() const;

 private:
  void reap(SendCounts* counts, Shortfall* shortfall, std::size_t event_bytes,
            std::uint32_t* completed);

  io_uring ring_{};
  bool ready_ = false;
  unsigned setup_flags_ = 0;
  unsigned features_ = 0;
  std::uint32_t batch_ = 0;
  std::uint32_t sq_entries_ = 0;
  std::uint32_t table_slots_ = 0;
};

}  // namespace ringcast::floorbench
