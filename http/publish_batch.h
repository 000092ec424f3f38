#pragma once
// Batch publishing: one `POST /pub` carries many events as NDJSON, one JSON object per line:
//   {"topic":"news","data":"text"}            event type optional: "event":"type"
// Validation is all-or-nothing and names the first bad line; the rules are a single
// publish's (topic names, no '_' topics, event types, UTF-8 data up to --max-event-bytes).
// Pure: bytes in, events or an error out. Tested in tests/unit/test_publish_batch.cc, fuzzed
// by tests/fuzz/fuzz_publish_batch.cc.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/event_id.h"

namespace ringcast::http {

struct BatchEvent {
  std::string topic;
  std::string event;  // empty: no event type
  std::string data;
};

struct BatchLimits {
  std::size_t events_max = 1000;        // --max-batch-events
  std::size_t event_bytes_max = 65536;  // --max-event-bytes, per event's data
};

// Parses `body` into `out` (cleared first). False with `error` = "line N: reason" (a 400).
bool parse_publish_batch(std::string_view body, const BatchLimits& limits,
                         std::vector<BatchEvent>& out, std::string& error);

// The 202 answer: {"events":[{"topic":"a","id":"<id>"},...]}\n, ids in request order.
void append_batch_answer(std::string& out, const std::vector<BatchEvent>& events,
                         const std::vector<EventId>& ids);

}  // namespace ringcast::http
