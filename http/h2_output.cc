#include "http/h2_output.h"

#include <algorithm>
#include <cstring>

#include "base/assert.h"

namespace ringcast::http {

namespace {
constexpr std::size_t kFrameHeaderBytes = 9;
}

bool H2Slices::add(const void* data, std::size_t len) {
  if (slices_.size() >= capacity_) return false;
  if (len == 0) return true;
  RC_ASSERT(data != nullptr);
  slices_.push_back({static_cast<const std::uint8_t*>(data), len});
  bytes_ += len;
  return true;
}

void H2Output::append_own(const std::uint8_t* data, std::size_t len) {
  std::size_t off = buf_.size();
  buf_.insert(buf_.end(), data, data + len);
  // Adjacent session bytes share one iovec.
  if (!segs_.empty() && segs_.back().ext == nullptr && segs_.back().off + segs_.back().len == off &&
      segs_.size() > head_) {
    segs_.back().len += static_cast<std::uint32_t>(len);
  } else {
    segs_.push_back({nullptr, static_cast<std::uint32_t>(off), static_cast<std::uint32_t>(len), 0});
  }
  pending_ += len;
}

std::size_t H2Output::copy(const std::uint8_t* data, std::size_t len) {
  const std::size_t take = std::min(len, copy_room());
  if (take == 0) return 0;
  append_own(data, take);
  return take;
}

std::size_t H2Output::copy_room() const {
  if (segs_.size() - head_ + 1 > limits_.iovecs_max) return 0;
  std::size_t room_own = limits_.buffer_bytes_max - std::min<std::size_t>(buf_.size(), limits_.buffer_bytes_max);
  std::size_t room_send = limits_.send_bytes_max - std::min<std::size_t>(pending_, limits_.send_bytes_max);
  return std::min(room_own, room_send);
}

bool H2Output::data_room(std::size_t& bytes, std::size_t& slices) const {
  if (pending_ == 0) {
    bytes = limits_.send_bytes_max - kFrameHeaderBytes;
    slices = limits_.iovecs_max - 1;
    return true;
  }
  const std::size_t segments = segs_.size() - head_;
  if (buf_.size() + kFrameHeaderBytes > limits_.buffer_bytes_max ||
      pending_ + kFrameHeaderBytes >= limits_.send_bytes_max || segments + 2 > limits_.iovecs_max)
    return false;
  bytes = limits_.send_bytes_max - pending_ - kFrameHeaderBytes;
  slices = limits_.iovecs_max - segments - 1;
  return true;
}

void H2Output::add_data(std::int32_t stream_id, const std::uint8_t* frame_header,
                        const H2Slices& slices) {
  RC_ASSERT(stream_id > 0);
  append_own(frame_header, kFrameHeaderBytes);
  for (const H2Slices::Slice& s : slices) {
    RC_ASSERT(s.len > 0 && s.len <= UINT32_MAX);
    segs_.push_back({s.data, 0, static_cast<std::uint32_t>(s.len), stream_id});
    pending_ += s.len;
  }
}

std::size_t H2Output::gather(std::vector<iovec>& out) const {
  out.clear();
  std::size_t total = 0;
  for (std::size_t i = head_; i < segs_.size(); ++i) {
    const Segment& seg = segs_[i];
    const std::uint8_t* base = seg.ext != nullptr ? seg.ext : buf_.data() + seg.off;
    std::size_t skip = i == head_ ? head_sent_ : 0;
    out.push_back({const_cast<std::uint8_t*>(base + skip), seg.len - skip});
    total += seg.len - skip;
  }
  RC_ASSERT(total == pending_);
  return total;
}

void H2Output::release() {
  // Nothing unsent: an idle connection keeps no output buffer (issue #18's per-stream budget).
  // TODO(shard): lend a shard-wide scratch buffer instead of allocating per send.
  std::vector<std::uint8_t>().swap(buf_);
  std::vector<Segment>().swap(segs_);
  head_ = 0;
  head_sent_ = 0;
}

}  // namespace ringcast::http
