// The storm's sustained churn (--churn R): instead of dropping the --drop K streams once, the
// worker drops its share of them continuously, R per second over the process, each
// reconnecting at once with Last-Event-ID, until the main thread ends the churn. A reconnect
// storm at a known rate, with every event still checked on every stream.
#include <algorithm>

#include "tools/load/clock.h"
#include "tools/load/worker.h"

namespace ringcast::load {

namespace {
// Credit accrues with time; a pass that comes late (a busy loop, a descheduled thread) may
// catch up at most this much, so a stall never turns into one large burst.
constexpr double kCreditWindowNs = 50.0 * double(kNsPerMs);
}  // namespace

void Worker::churn_streams(std::uint64_t now) {
  if (shared_.churn_over.load(std::memory_order_acquire) || churn_per_ns_ <= 0) return;
  if (churn_last_ns_ == 0) {
    churn_last_ns_ = now;
    stats.drop_ns = now;  // the report's storm clock starts at the first churn pass
    return;
  }
  const double cap = std::max(1.0, churn_per_ns_ * kCreditWindowNs);
  churn_credit_ = std::min(cap, churn_credit_ + churn_per_ns_ * double(now - churn_last_ns_));
  churn_last_ns_ = now;
  while (churn_credit_ >= 1.0 && churn_one(now)) churn_credit_ -= 1.0;
  // Nobody could be dropped (all reconnecting): the rate is what the server allows, and the
  // credit does not pile up behind it.
  if (churn_credit_ >= 1.0) churn_credit_ = std::min(churn_credit_, 1.0);
}

// Drops the next designated stream that is streaming, round-robin over this worker's rings.
// Scans each stream at most once per call. Returns false when none was found.
bool Worker::churn_one(std::uint64_t now) {
  std::uint64_t budget = stream_count_;
  while (budget > 0) {
    RingHost& h = *hosts_[churn_host_];
    if (churn_slot_ >= h.streams.size()) {
      churn_slot_ = 0;
      churn_host_ = (churn_host_ + 1) % hosts_.size();  // (a ring may hold only publishers)
      continue;
    }
    const std::uint32_t slot = churn_slot_++;
    --budget;
    const Stream& s = h.streams[slot];
    if ((s.flags & stream_flag::droppee) && s.state == StreamState::streaming && has_last_id(h, slot)) {
      drop_stream(h, slot, now);
      return true;
    }
  }
  return false;
}

}  // namespace ringcast::load
