#include "tools/load/event_check.h"

namespace ringcast::load {

namespace {
constexpr std::uint64_t kWindow = 64;
}

Delivery track_seq(TopicTrack& t, std::uint64_t k, bool from_zero, CheckTally& tally) {
  if (t.last_k == 0 && !from_zero) {
    t.last_k = k;
    t.seen = 1;
    ++tally.delivered;
    return Delivery::fresh;
  }
  if (k > t.last_k) {
    const std::uint64_t step = k - t.last_k;
    tally.lost += step - 1;
    t.seen = step >= kWindow ? 1 : (t.seen << step) | 1;
    t.last_k = k;
    ++tally.delivered;
    return Delivery::fresh;
  }
  const std::uint64_t back = t.last_k - k;
  if (back >= kWindow) {
    ++tally.duplicates;
    return Delivery::duplicate;
  }
  const std::uint64_t bit = std::uint64_t{1} << back;
  if (t.seen & bit) {
    ++tally.duplicates;
    return Delivery::duplicate;
  }
  // It was counted lost when a later k jumped over it; it has arrived after all.
  t.seen |= bit;
  if (tally.lost > 0) --tally.lost;
  ++tally.reordered;
  ++tally.delivered;
  return Delivery::late;
}

void track_id(TopicTrack& t, EventId id, CheckTally& tally) {
  if (!t.last_id.none() && !(id > t.last_id)) ++tally.id_regressions;
  t.last_id = id;
}

}  // namespace ringcast::load
