// Last-Event-ID resume and gap events (see docs/PROTOCOL.md).
#include "base/assert.h"
#include "core/shard.h"

namespace ringcast {

namespace {

// A client-supplied id echoed in a gap event: printable ASCII only, JSON-safe, bounded.
void append_echo(std::string& out, std::string_view text) {
  constexpr std::size_t kMax = 64;
  for (std::size_t i = 0; i < text.size() && i < kMax; ++i) {
    const char ch = text[i];
    const bool safe = ch >= 0x20 && ch <= 0x7e && ch != '"' && ch != '\\';
    out += safe ? ch : '?';
  }
}

}  // namespace

void Shard::append_gap(std::string& out, const Topic& topic, std::string_view last_id,
                       std::uint64_t first_seq, std::string_view reason,
                       const EventId* first_id) {
  out += "event: gap\ndata: {\"topic\":\"";
  out += topic.name;
  out += "\",\"lastEventId\":\"";
  append_echo(out, last_id);
  out += "\",\"firstId\":\"";
  if (first_id != nullptr) {  // the first event replayed from a Redis stream
    char id_text[42];
    out.append(id_text, format_event_id(*first_id, id_text));
  } else if (first_seq < topic.history.end()) {
    char id_text[42];
    out.append(id_text, format_event_id(topic.history.at(first_seq)->id, id_text));
  }
  out += "\",\"reason\":\"";
  out += reason;
  out += "\"}\n\n";
  metrics_.gap_events.add();
}

// Places each of the new stream's cursors after `last_id` and writes a gap event for every
// topic that cannot resume exactly. Called before anything was sent on the stream.
void Shard::resume(std::uint32_t ci, std::string_view last_id, std::string& gaps) {
  metrics_.resumes.add();
  EventId id;
  const bool parsed = parse_event_id(last_id, id);
  // Ids are unique in the process, so at most one of the stream's topics holds this one.
  bool named = false;
  for (std::uint32_t si = conns_[ci].first_sub; parsed && si != nil; si = subs_[si].conn_next)
    named |= topics_[subs_[si].topic].history.find(id) != 0;
  for (std::uint32_t si = conns_[ci].first_sub; si != nil; si = subs_[si].conn_next) {
    Sub& s = subs_[si];
    RC_ASSERT(s.offset == 0 && s.seq == s.inflight_end);
    const Topic& topic = topics_[s.topic];
    const ResumePoint at = resume_point(topic, parsed, id, named);
    s.seq = s.inflight_end = at.seq;
    if (!at.reason.empty()) append_gap(gaps, topic, last_id, s.seq, at.reason);
  }
}

// Where a cursor on `topic` resumes after the client's last id (streams and polls alike).
// `named`: another topic of the same request holds the id.
Shard::ResumePoint Shard::resume_point(const Topic& topic, bool parsed, EventId id,
                                       bool named) const {
  const History& h = topic.history;
  if (!parsed) return {h.begin(), "malformed"};
  if (std::uint64_t at = h.find(id); at != 0) return {at + 1, {}};  // exact: after its event
  if (named) {
    // Another topic of this stream holds the id: this one resumes after it in id order.
    return {h.first_after(id), h.last_evicted() > id ? "expired" : ""};
  }
  return {h.begin(), id.ms < cluster_.boot_unix_ms ? "earlier_run"
                     : id <= h.last_evicted()      ? "expired"
                                                   : "unknown"};
}

}  // namespace ringcast
