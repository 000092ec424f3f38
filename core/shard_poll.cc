// The long-poll fallback, for clients behind proxies that mangle text/event-stream:
//   GET /poll/{topic}?lastEventId=ID   (or a Last-Event-ID header)
// answers at once with the events after ID, or holds the request until the topic has one or
// --poll-timeout-ms passes, then answers JSON (http/poll_json.h) and keeps the connection.
//
// A held poll is a connection with one subscription, like a one-topic stream: deliver() wakes
// it the same way, and start_send() hands it to poll_woken() instead of sending. It is never
// a stream: it counts toward the shard's connections, not --max-streams, and holds no pins.
#include <algorithm>
#include <array>

#include "base/assert.h"
#include "core/shard.h"
#include "http/names.h"
#include "http/poll_json.h"
#include "http/routes.h"

namespace ringcast {

namespace {

// One answer carries at most this much; the client polls again from its lastEventId.
constexpr std::uint32_t kPollEventsMax = 256;
constexpr std::size_t kPollBodyBytesMax = 1u << 20;  // (at least one event, whatever its size)

// Gap reasons a held poll remembers in conn_flag2::poll_gap_mask (0: none).
constexpr std::array<std::string_view, 5> kGapReasons = {"", "malformed", "expired",
                                                         "earlier_run", "unknown"};

std::uint8_t gap_bits(std::string_view reason) {
  const auto it = std::find(kGapReasons.begin(), kGapReasons.end(), reason);
  RC_ASSERT(it != kGapReasons.end());
  return static_cast<std::uint8_t>((it - kGapReasons.begin()) << conn_flag2::poll_gap_shift);
}

}  // namespace

void Shard::handle_poll(std::uint32_t ci, const http::Request& req, const http::ReadTarget& target) {
  RC_ASSERT(target.topics.size() == 1);
  const std::string& name = target.topics[0];
  if (draining_) return respond_error(ci, 503, "server is shutting down", "Retry-After: 1\r\n");
  const std::uint32_t t = topic_index(name, true);
  if (t == nil) return respond_error(ci, 503, "topic limit reached (--max-topics)", "Retry-After: 5\r\n");
  Conn& c = conns_[ci];
  c.state = ConnState::polling;
  c.more_flags &= ~conn_flag2::poll_gap_mask;
  subscribe(ci, t);  // at the end of the history: only events from now on ...
  const std::string_view last_id = req.has_last_event_id ? req.last_event_id : target.query_last_event_id;
  if (!last_id.empty()) {  // ... unless the client says where it stopped
    EventId id;
    const bool parsed = parse_event_id(last_id, id);
    const ResumePoint at = resume_point(topics_[t], parsed, id, false);
    Sub& s = subs_[c.first_sub];
    s.seq = s.inflight_end = at.seq;
    c.more_flags |= gap_bits(at.reason);
  }
  metrics_.polls.add();
  timer_touch(ci);
  if (subs_[c.first_sub].seq < topics_[t].history.end()) return answer_poll(ci);
  // Held: a receive notices a client that gives up (EOF) and keeps what it pipelines.
  if (!(c.flags & conn_flag::recv_inflight)) arm_recv(ci);
}

// deliver() (or the drain) woke the poll: answer if its topic has something for it.
void Shard::poll_woken(std::uint32_t ci) {
  const Conn& c = conns_[ci];
  const Sub& s = subs_[c.first_sub];
  if (draining_ || s.seq < topics_[s.topic].history.end()) answer_poll(ci);
}

// Answers the held poll with the events after its cursor (none on a timeout) and turns the
// connection back into a plain keep-alive one.
void Shard::answer_poll(std::uint32_t ci) {
  Conn& c = conns_[ci];
  RC_ASSERT(c.state == ConnState::polling && c.first_sub != nil);
  const Sub& s = subs_[c.first_sub];
  RC_ASSERT(subs_[c.first_sub].conn_next == nil);  // one topic per poll
  const History& h = topics_[s.topic].history;
  std::string_view gap = kGapReasons[(c.more_flags & conn_flag2::poll_gap_mask) >> conn_flag2::poll_gap_shift];
  std::uint64_t seq = s.seq;
  if (seq < h.begin()) {  // a burst evicted events while the poll waited for its answer
    seq = h.begin();
    gap = "expired";
  }
  std::string body = "{\"events\":[";
  std::string_view last;
  char id_text[42];
  std::size_t id_len = 0;
  for (std::uint32_t n = 0; seq < h.end() && n < kPollEventsMax; ++seq, ++n) {
    if (n > 0 && body.size() >= kPollBodyBytesMax) break;
    const Chunk* chunk = h.at(seq);
    if (n > 0) body += ',';
    const bool decoded = http::append_poll_event(body, {chunk->bytes(), chunk->size});
    RC_ASSERT(decoded);  // the bytes are the encoder's own output
    id_len = format_event_id(chunk->id, id_text);
  }
  if (id_len == 0 && seq > h.begin()) id_len = format_event_id(h.at(seq - 1)->id, id_text);
  last = std::string_view(id_text, id_len);
  body += "],\"lastEventId\":";
  http::append_json_string(body, last);  // the id to poll from next ("" if the topic has none)
  if (!gap.empty()) {
    body += ",\"gap\":";
    http::append_json_string(body, gap);
  }
  body += "}\n";
  c.more_flags &= ~conn_flag2::poll_gap_mask;
  unsubscribe_all(ci);
  free_subs(ci);
  respond(ci, 200, "application/json", body);  // Cache-Control: no-store, like every answer
}

// Bytes that arrive while a poll is held or answered: the client's next (pipelined) request,
// handled after the answer. Bounded like a request head and body.
void Shard::stash_input(std::uint32_t ci, std::string_view bytes) {
  Conn& c = conns_[ci];
  if (c.in == nullptr) c.in = new std::string();
  c.in->append(bytes);
  if (c.in->size() > std::size_t(config_.header_bytes_max) + config_.max_event_bytes) return begin_close(ci);
  arm_recv(ci);
}

}  // namespace ringcast
