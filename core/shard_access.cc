// Access over a stream's whole life: the one decision every read route passes through before
// anything is created, and the end of a stream whose token expires.
#include "base/assert.h"
#include "base/clock.h"
#include "base/log.h"
#include "core/shard.h"
#include "http/names.h"

namespace ringcast {

// The one access decision for every route that reads events (streams of one or several
// topics, long polls, and any later front): the target's topics are parsed and checked here,
// before a handler runs and before anything (a topic, a subscription) is created.
void Shard::route_read(std::uint32_t ci, const http::Request& req, const http::Route& r) {
  http::ReadTarget target;
  if (!http::parse_read_target(r, req, config_.max_topics_per_stream, target))
    return respond_error(ci, target.error_status, target.error_detail);
  if (cluster_.access != nullptr) {
    // "_occupancy.T" is read with the rights to read T (http::access_subject).
    std::vector<std::string> subjects;
    subjects.reserve(target.topics.size());
    for (const std::string& t : target.topics) subjects.emplace_back(http::access_subject(t));
    const http::AuthOutcome auth =
        cluster_.access->check_subscribe(req, subjects, std::int64_t(io_.unix_ms() / 1000));
    if (auth.status != 0) return refuse_auth(ci, req, auth);
    if (auth.expires_s != 0) target.expires_s = auth.expires_s;
  }
  if (r.id == http::RouteId::poll) return handle_poll(ci, req, target);
  if (r.id == http::RouteId::topic_info) return handle_topic_info(ci, target.topics[0]);
  handle_subscribe(ci, req, target);
}

// A stream opened with a token lives until the token's exp plus the leeway.
void Shard::watch_token_expiry(std::uint32_t ci, std::int64_t expires_s) {
  token_expiry_.add(expires_s, token(ci), conns_.live(),
                    [this](std::uint64_t t) { return conn_of(t) != nil; });
}

// Called from tick(), before heartbeats are queued: ends every stream whose token expired.
// A stream busy with a send is looked at again on the next ticks, for up to kExpiryGraceS,
// so it can still get the notice at an event boundary; after that it is closed.
void Shard::end_expired_streams() {
  constexpr std::int64_t kExpiryGraceS = 5;
  const std::int64_t now_s = std::int64_t(io_.unix_ms() / 1000);
  expiry_retry_.clear();
  token_expiry_.pop_due(now_s, [&](std::int64_t deadline_s, std::uint64_t t) {
    const std::uint32_t ci = conn_of(t);
    if (ci == nil) return;  // closed meanwhile
    const ConnState state = conns_[ci].state;
    const bool late = now_s - deadline_s > kExpiryGraceS;
    if (state == ConnState::streaming && (end_stream_token_expired(ci, late) || late)) return;
    // Not ended yet: busy, or (Redis mode) still opening.
    if (state == ConnState::streaming || state == ConnState::opening) expiry_retry_.push_back({deadline_s, t});
  });
  for (const auto& [deadline_s, t] : expiry_retry_) {
    token_expiry_.add(deadline_s, t, conns_.live(), [this](std::uint64_t x) { return conn_of(x) != nil; });
  }
}

// The client gets "event: token_expired" and then EOF, like a drain; its EventSource
// reconnects with the same (expired) token and is refused 401, which ends it for good; a client
// that refreshes its token reconnects and resumes from its Last-Event-ID. A stream with a send
// in flight (or not yet started) cannot take the notice at an event boundary now: false, unless
// `force`, which closes it.
bool Shard::end_stream_token_expired(std::uint32_t ci, bool force) {
  static constexpr char kNotice[] =
      "event: token_expired\ndata: {\"reason\":\"token_expired\"}\n\n";
  Conn& c = conns_[ci];
  bool mid_event = false;
  for (std::uint32_t si = c.first_sub; si != nil; si = subs_[si].conn_next)
    mid_event |= subs_[si].offset > 0;
  const bool quiet = !(c.flags & conn_flag::send_inflight) && c.ctl_len == 0 && c.out == nullptr &&
                     (c.more_flags & conn_flag2::stream_begun) && !mid_event;
  if (!quiet && !force) return false;
  metrics_.token_expired_streams.add();
  log_event(LogLevel::debug, "stream_token_expired", "shard=%u conn=%u closed=%d", index_, ci, int(!quiet));
  if (!quiet) {
    begin_close(ci);
    return true;
  }
  unsubscribe_all(ci);  // nothing published from now on reaches it
  free_subs(ci);
  c.more_flags |= conn_flag2::drain_notice_sent;  // on_idle then shuts the write side
  c.ctl = kNotice;
  c.ctl_len = sizeof kNotice - 1;
  mark_ready(ci);
  return true;
}

}  // namespace ringcast
