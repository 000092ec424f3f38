#pragma once
// What one publisher sends next, and what its answers mean. It owns some topics and numbers
// each topic's events k = 1, 2, 3, ...; up to `depth` requests are in flight on its one
// keep-alive connection (HTTP/1.1 pipelining), and their answers come back in request order,
// so each topic's k reach the server, and are acknowledged, in order.
//
// A refusal (non-2xx) or a lost connection breaks that order for the requests behind it, which
// are already on the wire. So after a refusal nothing new is issued until every request in
// flight has been answered; then each topic resumes at its first k not acknowledged (the
// refused one, sent again). If a later k of that topic was accepted past the refused one, the
// topic has a hole no resend can fill in order: it is counted, and the topic continues after
// its highest accepted k. A lost connection leaves its requests unanswered: each topic resumes
// at its first k not acknowledged (a duplicate if the server had taken it).
//
// With depth 1 this is exactly "retry the refused event". No IO, no clock: the caller stamps.
//
// Requests and events: a request carries up to `batch` events (--batch: one NDJSON body), and
// `depth` bounds requests in flight, not events. One answer covers a whole request (the server
// takes or refuses a batch as a whole), so the caller calls answer() once per event of the
// oldest request (oldest_request_events()); the event-level rules above are unchanged.
#include <cstdint>
#include <vector>

namespace ringcast::load {

struct PublishRequest {
  std::uint32_t pos = 0;    // owned-topic position
  std::uint64_t k = 0;
  std::uint64_t stamp = 0;  // the caller's (its send time)
};

class PublishSequence {
 public:
  PublishSequence() = default;
  // `topics` owned topics; `events` per topic (0 = no end); `depth` >= 1 requests in flight,
  // each of at most `batch` >= 1 events.
  PublishSequence(std::uint32_t topics, std::uint64_t events, std::uint32_t depth, std::uint32_t batch = 1);

  // Issues one request of up to `max` (<= batch) events, round-robin over the topics with
  // events left, into out[0..n), and puts it in flight. Returns n; 0 when none may go now:
  // `depth` requests in flight, stalled after a refusal, or every event issued.
  std::uint32_t issue_request(std::uint64_t stamp, PublishRequest* out, std::uint32_t max);
  // A request of one event.
  bool issue(std::uint64_t stamp, PublishRequest& out) { return issue_request(stamp, &out, 1) == 1; }
  // The answer to the oldest event in flight (there must be one). `holes`: events of its topic
  // skipped for good by this acceptance (0 unless an earlier refusal left a gap). The oldest
  // request leaves flight with the answer to its last event.
  PublishRequest answer(bool accepted, std::uint64_t& holes);
  // The connection is gone: every event in flight goes unanswered. Returns how many.
  std::uint32_t abandon();

  std::uint32_t in_flight() const { return len_; }  // events
  std::uint32_t requests_in_flight() const { return req_len_; }
  // Events of the oldest request in flight not answered yet (0 when none is in flight).
  std::uint32_t oldest_request_events() const {
    return req_len_ == 0 ? 0 : requests_[req_head_] - oldest_answered_;
  }
  bool stalled() const { return stalled_; }
  // Every topic has every event acknowledged (never, when events is 0).
  bool done() const { return events_ != 0 && topics_done_ == acked_k_.size(); }
  std::uint64_t acked(std::uint32_t pos) const { return acked_k_[pos]; }
  std::uint64_t acked_total() const { return acked_total_; }

 private:
  void rewind();
  bool issue_one(std::uint64_t stamp, PublishRequest& out);

  std::vector<std::uint64_t> next_k_;   // per topic: the next k to issue
  std::vector<std::uint64_t> acked_k_;  // per topic: the highest k acknowledged
  std::vector<PublishRequest> flight_;  // ring of depth x batch: events in flight, oldest at head_
  std::vector<std::uint32_t> requests_;  // ring of `depth`: events per request in flight
  std::uint64_t events_ = 0;
  std::uint64_t acked_total_ = 0;
  std::uint32_t head_ = 0, len_ = 0;
  std::uint32_t req_head_ = 0, req_len_ = 0;
  std::uint32_t oldest_answered_ = 0;  // events of the oldest request answered so far
  std::uint32_t cursor_ = 0;
  std::uint32_t topics_done_ = 0;
  bool stalled_ = false;
};

}  // namespace ringcast::load
