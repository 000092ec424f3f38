#include "tools/load/publish_sequence.h"

#include <cstdlib>

namespace ringcast::load {

PublishSequence::PublishSequence(std::uint32_t topics, std::uint64_t events, std::uint32_t depth,
                                 std::uint32_t batch)
    : next_k_(topics, 1),
      acked_k_(topics, 0),
      flight_(std::size_t(depth == 0 ? 1 : depth) * (batch == 0 ? 1 : batch)),
      requests_(depth == 0 ? 1 : depth),
      events_(events) {}

std::uint32_t PublishSequence::issue_request(std::uint64_t stamp, PublishRequest* out, std::uint32_t max) {
  if (stalled_ || req_len_ == requests_.size()) return 0;
  // The caller's bound is the batch the flight ring was sized for.
  if (std::size_t(max) > flight_.size() / requests_.size()) std::abort();
  std::uint32_t n = 0;
  while (n < max && issue_one(stamp, out[n])) ++n;
  if (n == 0) return 0;
  requests_[(req_head_ + req_len_) % requests_.size()] = n;
  ++req_len_;
  return n;
}

bool PublishSequence::issue_one(std::uint64_t stamp, PublishRequest& out) {
  if (len_ == flight_.size() || next_k_.empty()) return false;
  const auto n = std::uint32_t(next_k_.size());
  for (std::uint32_t step = 0; step < n; ++step) {
    const std::uint32_t pos = (cursor_ + step) % n;
    if (events_ != 0 && next_k_[pos] > events_) continue;
    out = PublishRequest{pos, next_k_[pos]++, stamp};
    flight_[(head_ + len_) % flight_.size()] = out;
    ++len_;
    cursor_ = (pos + 1) % n;
    return true;
  }
  return false;
}

PublishRequest PublishSequence::answer(bool accepted, std::uint64_t& holes) {
  // An answer with nothing in flight is the caller's to reject before asking.
  if (len_ == 0 || req_len_ == 0) std::abort();
  const PublishRequest req = flight_[head_];
  head_ = (head_ + 1) % std::uint32_t(flight_.size());
  --len_;
  if (++oldest_answered_ == requests_[req_head_]) {
    req_head_ = (req_head_ + 1) % std::uint32_t(requests_.size());
    --req_len_;
    oldest_answered_ = 0;
  }
  holes = 0;
  if (accepted) {
    std::uint64_t& acked = acked_k_[req.pos];
    // Requests of one topic are answered in order, and a resend starts above the acked k.
    if (req.k <= acked) std::abort();
    holes = req.k - acked - 1;
    acked = req.k;
    ++acked_total_;
    if (events_ != 0 && acked == events_) ++topics_done_;
  } else {
    stalled_ = true;
  }
  if (stalled_ && len_ == 0) rewind();
  return req;
}

std::uint32_t PublishSequence::abandon() {
  const std::uint32_t unanswered = len_;
  len_ = 0;
  req_len_ = 0;
  oldest_answered_ = 0;
  if (unanswered > 0 || stalled_) rewind();
  return unanswered;
}

// Nothing is in flight: each topic continues after its highest acknowledged k.
void PublishSequence::rewind() {
  for (std::size_t pos = 0; pos < next_k_.size(); ++pos) next_k_[pos] = acked_k_[pos] + 1;
  stalled_ = false;
}

}  // namespace ringcast::load
