#pragma once
// The gathered output of one HTTP/2 connection: session-owned bytes (control frames, the
// 9-byte DATA frame headers) interleaved with references to the caller's DATA payload slices,
// in wire order, turned into one iovec list per send. Partial sends leave the unsent rest at the
// front. No IO; H2Session fills it from nghttp2's send callbacks.
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ringcast::http {

struct H2OutputLimits {
  // Session-owned bytes of one output (control frames, DATA frame headers). A larger HEADERS
  // frame still goes out, in pieces across sends.
  std::uint32_t buffer_bytes_max = 32 * 1024;
  // All bytes of one gathered send (session bytes and referenced slices).
  std::uint32_t send_bytes_max = 256 * 1024;
  // iovecs of one send (the kernel's UIO_MAXIOV is 1024).
  std::uint32_t iovecs_max = 512;
  // Slices one DATA frame may reference (a frame is at most 16 KiB of payload).
  std::uint32_t slices_per_frame_max = 16;
};

// Slices a handler hands out for one DATA frame. Bounded; add() says false when full.
class H2Slices {
 public:
  struct Slice {
    const std::uint8_t* data;
    std::size_t len;
  };
  void set_capacity(std::size_t capacity) { capacity_ = capacity; }
  bool add(const void* data, std::size_t len);
  void clear() {
    slices_.clear();
    bytes_ = 0;
  }
  std::size_t bytes() const { return bytes_; }
  std::size_t size() const { return slices_.size(); }
  const Slice* begin() const { return slices_.data(); }
  const Slice* end() const { return slices_.data() + slices_.size(); }

 private:
  std::vector<Slice> slices_;
  std::size_t capacity_ = 16;
  std::size_t bytes_ = 0;
};

class H2Output {
 public:
  explicit H2Output(const H2OutputLimits& limits) : limits_(limits) {}

  // Copies up to `len` session bytes; returns how many fit (0: this output is full).
  std::size_t copy(const std::uint8_t* data, std::size_t len);
  // The session bytes copy() would take now (all of them, or 0).
  std::size_t copy_room() const;
  // Room for one more DATA frame: payload bytes and slices. False: none (the output is full).
  // The first frame of an empty output always has room.
  bool data_room(std::size_t& bytes, std::size_t& slices) const;
  // Appends a DATA frame: its header (copied) and the slices (referenced).
  void add_data(std::int32_t stream_id, const std::uint8_t* frame_header, const H2Slices& slices);

  // The unsent output as iovecs (cleared first); returns its bytes.
  std::size_t gather(std::vector<iovec>& out) const;
  // `bytes` were sent: drops them from the front. Calls on_data(stream_id, n) for each slice
  // part that left, in order. Frees the buffers when everything left.
  template <class OnData>
  void consume(std::size_t bytes, OnData&& on_data);

  bool empty() const { return pending_ == 0; }
  std::size_t pending_bytes() const { return pending_; }

 private:
  struct Segment {
    const std::uint8_t* ext;  // null: bytes live in buf_ at `off`
    std::uint32_t off;
    std::uint32_t len;
    std::int32_t stream_id;   // of a DATA payload slice; 0 otherwise
  };
  void append_own(const std::uint8_t* data, std::size_t len);
  void release();

  H2OutputLimits limits_;
  std::vector<std::uint8_t> buf_;
  std::vector<Segment> segs_;
  std::size_t head_ = 0;       // first segment not fully sent
  std::size_t head_sent_ = 0;  // bytes of it already sent
  std::size_t pending_ = 0;    // unsent bytes
};

template <class OnData>
void H2Output::consume(std::size_t bytes, OnData&& on_data) {
  while (bytes > 0 && head_ < segs_.size()) {
    const Segment& seg = segs_[head_];
    std::size_t left = seg.len - head_sent_;
    std::size_t take = bytes < left ? bytes : left;
    if (seg.stream_id != 0) on_data(seg.stream_id, take);
    bytes -= take;
    pending_ -= take;
    head_sent_ += take;
    if (head_sent_ == seg.len) {
      ++head_;
      head_sent_ = 0;
    }
  }
  if (pending_ == 0) release();
}

}  // namespace ringcast::http
