#pragma once
// What a resume replayed from a Redis stream may hold, with no IO: the bridge fetches the
// newest entries after the resume id page by page (XREVRANGE, newest first) and feeds each
// page here; this keeps entries while they fit and says when to stop. Whatever does not fit
// becomes the gap event (reason "expired"), exactly as an event evicted from the local history.
//
// Bounds (docs/SECURITY.md, "Redis mode"):
//   per topic   at most --history entries and --history-bytes SSE wire bytes (the local
//               history's own limits, measured the same way: the encoded event);
//   per stream  at most kReplayBytesPerStreamMax over all its topics (split evenly);
//   per fetch   at most kReplayPageEntriesMax entries per XREVRANGE page, and at most
//               --history + 1 entries examined per topic, rejected ones included.
#include <cstdint>
#include <vector>

#include "core/mailbox.h"
#include "redis/protocol.h"

namespace ringcast::redis {

// A resume's replay is copied into the stream's output: this is what one stream may pin.
inline constexpr std::uint64_t kReplayBytesPerStreamMax = 16u << 20;
// Pages are sized so one holds about one topic's budget of valid entries, within these.
inline constexpr std::uint32_t kReplayPageEntriesMin = 16;
inline constexpr std::uint32_t kReplayPageEntriesMax = 256;

// The wire bytes one topic's replay may hold when a stream replays `topics` topics.
std::uint64_t replay_budget_bytes(std::uint32_t history_bytes, std::size_t topics);

class ReplayWindow {
 public:
  ReplayWindow(EventId after, std::uint32_t entries_max, std::uint64_t bytes_max,
               std::uint32_t max_event_bytes);

  // The next XREVRANGE page: COUNT, and its exclusive upper end (null: "+", the first page).
  // The count is one more than could still be kept, so a full window learns whether
  // anything older is left.
  std::uint32_t page_count() const;
  const EventId* page_end() const { return scanned_ == 0 ? nullptr : &end_; }

  // Takes one page, newest first, fetched with page_count(); rejected entries are skipped
  // (the caller counts them). Returns true if another page is wanted.
  bool feed(std::vector<ReadEntry>& page, std::uint32_t asked);

  bool truncated() const { return truncated_; }
  std::uint64_t bytes() const { return bytes_; }
  // The kept entries, oldest first (leaves the window empty).
  std::vector<StreamEntry> take_entries();

 private:
  bool stop_truncated();

  EventId after_;
  std::uint32_t entries_max_;
  std::uint64_t bytes_max_;
  std::uint32_t page_max_;
  std::uint32_t scanned_ = 0;  // entries examined, kept or not
  EventId end_;                // the oldest id examined so far
  std::uint64_t bytes_ = 0;
  bool truncated_ = false;
  std::vector<StreamEntry> kept_;  // newest first
};

}  // namespace ringcast::redis
