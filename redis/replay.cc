#include "redis/replay.h"

#include <algorithm>

#include "base/assert.h"
#include "http/sse_encoder.h"

namespace ringcast::redis {

std::uint64_t replay_budget_bytes(std::uint32_t history_bytes, std::size_t topics) {
  RC_ASSERT(topics > 0);
  return std::min<std::uint64_t>(history_bytes, kReplayBytesPerStreamMax / topics);
}

ReplayWindow::ReplayWindow(EventId after, std::uint32_t entries_max, std::uint64_t bytes_max,
                           std::uint32_t max_event_bytes)
    : after_(after), entries_max_(entries_max), bytes_max_(bytes_max) {
  RC_ASSERT(entries_max > 0 && max_event_bytes > 0);
  // About one budget of the largest valid events per page: a page of small events is cheap,
  // and one of big events is no bigger than what the topic may keep anyway.
  page_max_ = std::clamp<std::uint64_t>(bytes_max / max_event_bytes, kReplayPageEntriesMin,
                                        kReplayPageEntriesMax);
}

std::uint32_t ReplayWindow::page_count() const {
  RC_ASSERT(scanned_ <= entries_max_);
  return std::min(page_max_, entries_max_ + 1 - scanned_);
}

// Something older than what was kept may exist: the client gets the gap event first.
bool ReplayWindow::stop_truncated() {
  truncated_ = true;
  return false;
}

bool ReplayWindow::feed(std::vector<ReadEntry>& page, std::uint32_t asked) {
  for (ReadEntry& e : page) {
    // Redis pages strictly newest first and after the resume id. Anything else (an entry
    // without a readable id, or out of order) comes from a broken or hostile server: what
    // follows cannot be placed, so the replay ends here and says so.
    if (!e.has_id || e.entry.id <= after_ || (scanned_ > 0 && e.entry.id >= end_))
      return stop_truncated();
    end_ = e.entry.id;
    ++scanned_;
    if (e.reject != Reject::none) continue;
    char id_text[42];
    const std::string_view id(id_text, format_event_id(e.entry.id, id_text));
    const std::size_t size = http::encoded_size(id, e.entry.event, e.entry.data);
    if (kept_.size() >= entries_max_ || bytes_ + size > bytes_max_) return stop_truncated();
    bytes_ += size;
    kept_.push_back(std::move(e.entry));
  }
  if (page.size() < asked) return false;  // reached the resume id: nothing older is left
  // The scan is bounded whatever the entries are: past --history + 1 examined, older
  // entries (kept or not) cannot be looked at.
  if (scanned_ > entries_max_) return stop_truncated();
  return true;
}

std::vector<StreamEntry> ReplayWindow::take_entries() {
  std::vector<StreamEntry> out = std::move(kept_);
  kept_.clear();
  std::reverse(out.begin(), out.end());
  return out;
}

}  // namespace ringcast::redis
