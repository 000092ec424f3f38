#pragma once
// The per-stream, per-topic delivery check: the publisher numbers each topic's events
// k = 1, 2, 3, ...; a subscriber must see them consecutively. A jump counts the skipped
// events as lost; a k seen before is a duplicate; an older k never seen before arrived out of
// order (reordered, and no longer lost). Ids must strictly increase.
//
// A 64-bit window of recently seen k tells a duplicate from a late arrival without storing
// every k; older than the window, a repeat is counted as a duplicate (a replay from history is
// by far the likeliest cause; both are failures either way).
#include <cstdint>

#include "tools/load/event_id.h"

namespace ringcast::load {

struct TopicTrack {
  std::uint64_t last_k = 0;  // highest k seen; 0 = none yet
  std::uint64_t seen = 0;    // bit i set: k = last_k - i has been seen
  EventId last_id;           // the id of the last event received (what Last-Event-ID resends)
};

struct CheckTally {
  std::uint64_t delivered = 0;   // distinct k received
  std::uint64_t lost = 0;        // k skipped and (so far) never received
  std::uint64_t duplicates = 0;
  std::uint64_t reordered = 0;
  std::uint64_t id_regressions = 0;  // an id not above the one before it
};

enum class Delivery : std::uint8_t {
  fresh,      // the next k, or a jump ahead (the skipped ones were counted lost)
  late,       // an older k that had been counted lost
  duplicate,  // seen before
};

// `from_zero`: the stream subscribed before k = 1 was published, so k = 1 is expected first.
// Otherwise the first k seen is the baseline (a stream joined a topic already in progress).
Delivery track_seq(TopicTrack& t, std::uint64_t k, bool from_zero, CheckTally& tally);

// Records the event's id; counts a regression if it is not above the previous one.
void track_id(TopicTrack& t, EventId id, CheckTally& tally);

}  // namespace ringcast::load
