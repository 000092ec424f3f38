#pragma once
// A stream's last event id kept as bytes (--ids opaque): what it resends as Last-Event-ID when
// the server's ids are not ringcast's "<ms>-<n>" (nchan's "1795453536:0"). It follows the
// EventSource rules: an "id" field fills a pending buffer, which becomes the last id only when
// an event is dispatched, and persists until the next "id" field. No IO.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace ringcast::load {

class OpaqueId {
 public:
  static constexpr std::size_t kMax = 64;

  // An "id" field began.
  void begin() {
    pending_len_ = 0;
    pending_unusable_ = false;
  }
  // A piece of its value. Longer than kMax, or holding NUL (which EventSource ignores), the
  // id is unusable: commit() keeps the previous one.
  void append(std::string_view bytes) {
    if (pending_unusable_) return;
    if (bytes.size() > kMax - pending_len_ || std::memchr(bytes.data(), 0, bytes.size()) != nullptr) {
      pending_unusable_ = true;
      return;
    }
    std::memcpy(pending_ + pending_len_, bytes.data(), bytes.size());
    pending_len_ = std::uint8_t(pending_len_ + bytes.size());
  }
  // An event was dispatched. Returns false when its id was unusable (and not kept).
  bool commit() {
    if (pending_unusable_) return false;
    std::memcpy(last_, pending_, pending_len_);
    last_len_ = pending_len_;
    return true;
  }
  // A new connection: its first event without an "id" field keeps the last id.
  void restart() {
    std::memcpy(pending_, last_, last_len_);
    pending_len_ = last_len_;
    pending_unusable_ = false;
  }
  std::string_view last() const { return {last_, last_len_}; }

 private:
  char pending_[kMax];
  char last_[kMax];
  std::uint8_t pending_len_ = 0;
  std::uint8_t last_len_ = 0;
  bool pending_unusable_ = false;
};

}  // namespace ringcast::load
