// Requests: parsing, routing, subscribe, publish, plain responses.
#include <algorithm>
#include <cstring>

#include "base/assert.h"
#include "base/clock.h"
#include "base/log.h"
#include "core/shard.h"
#include "http/live_page.h"
#include "http/names.h"
#include "http/query.h"
#include "http/routes.h"
#include "http/response.h"
#include "http/utf8.h"

namespace ringcast {

namespace {
// Pipelined requests handled in one go (their responses leave in one send).
constexpr int kPipelineMax = 64;
}  // namespace

void Shard::on_request_bytes(std::uint32_t ci, std::string_view bytes) {
  if (conns_[ci].in != nullptr) {
    conns_[ci].in->append(bytes);
    bytes = *conns_[ci].in;
  }
  std::size_t used = 0;
  bool need_more = false;
  for (int n = 0; n < kPipelineMax && used < bytes.size(); ++n) {
    const Conn& c = conns_[ci];
    const bool pipelined = c.out != nullptr || c.pending_acks > 0;
    std::size_t consumed = 0;
    const Handled h = handle_buffered(ci, bytes.substr(used), pipelined, consumed);
    if (h == Handled::incomplete) need_more = true;
    if (h != Handled::done) break;
    used += consumed;
    const Conn& after = conns_[ci];
    // A held poll is not busy: what follows it waits in `in` until it is answered.
    const bool busy = after.state == ConnState::responding || after.state == ConnState::publishing;
    if (!busy || (after.flags & conn_flag::close_after_send)) break;
  }
  // Whatever follows (a partial request, or one that must wait for the responses before it)
  // stays in `in` until the responses have been written.
  Conn& c = conns_[ci];
  const std::string_view rest = bytes.substr(used);
  if (rest.empty()) {
    delete c.in;
    c.in = nullptr;
  } else if (c.in == nullptr) {
    c.in = new std::string(rest);
  } else {
    c.in->erase(0, used);
  }
  if (need_more && c.state == ConnState::reading && !(c.flags & conn_flag::recv_inflight)) arm_recv(ci);
}

// While earlier responses are outstanding, only requests answered at once (or publishes owed
// by the same owner shard, whose acks come back in order) may go ahead; a subscribe, say,
// waits until the responses before it have been written.
bool Shard::may_pipeline(std::uint32_t ci, const http::Request& req) const {
  const Conn& c = conns_[ci];
  if (c.pending_acks > 0 && batches_.count(token(ci)) != 0) return false;  // a batch goes alone
  // Publishes held on this shard (core/shard_flow.cc) are answered before anything behind them
  // is read: a later one to a topic that is not held must not overtake them.
  if (c.pending_acks > 0 && c.publish_owner == index_ && !config_.redis()) return false;
  std::string_view topic;
  if (req.method == "POST" && req.path.substr(0, 5) == "/pub/") {
    std::string decoded;
    if (!http::percent_decode(req.path.substr(5), decoded)) return c.pending_acks == 0;
    // Redis mode: the bridge answers every publish, in order.
    const std::uint32_t owner = config_.redis() ? kBridgeShard : owner_of(decoded, cluster_.shards);
    return c.pending_acks == 0 || owner == c.publish_owner;
  }
  const bool plain = req.method == "GET" && (req.path == "/healthz" || req.path == "/metrics");
  return plain && c.pending_acks == 0;
}

// Parses one request from `bytes` and answers or hands it on; `consumed` says how many bytes
// it used. `pipelined`: responses to earlier requests are still outstanding.
Shard::Handled Shard::handle_buffered(std::uint32_t ci, std::string_view bytes, bool pipelined,
                                      std::size_t& consumed) {
  http::Request req;
  http::ParseResult parsed = http::parse_request(bytes, parse_limits_, req);
  if (parsed.status == http::ParseStatus::incomplete) return Handled::incomplete;
  // An answer given now must not overtake publishes still awaiting the owner's acks.
  const bool acks_owed = conns_[ci].pending_acks > 0;
  if (parsed.status == http::ParseStatus::error) {
    if (acks_owed) return Handled::deferred;
    consumed = bytes.size();
    respond_error(ci, parsed.error_status, parsed.error_reason);
    return Handled::done;
  }
  if (pipelined && !may_pipeline(ci, req)) return Handled::deferred;
  // A batch publish (POST /pub) may carry more than one event's bytes.
  const std::uint64_t body_max = req.path == "/pub" ? config_.max_batch_bytes : config_.max_event_bytes;
  if ((req.chunked || req.content_length > body_max) && acks_owed) return Handled::deferred;
  if (req.chunked) {
    consumed = bytes.size();
    respond_error(ci, 411, "send the body with Content-Length, not chunked");
    return Handled::done;
  }
  if (req.content_length > body_max) {
    consumed = bytes.size();
    respond_error(ci, 413, body_max == config_.max_event_bytes ? "body larger than --max-event-bytes"
                                                               : "body larger than --max-batch-bytes");
    return Handled::done;
  }
  const std::size_t total = req.head_bytes + req.content_length;
  Conn& c = conns_[ci];
  if (bytes.size() < total) {
    if (req.expect_continue && !pipelined && !(c.more_flags & conn_flag2::continue_sent) &&
        c.ctl_len == 0) {
      static constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
      c.more_flags |= conn_flag2::continue_sent;
      c.ctl = kContinue;
      c.ctl_len = sizeof kContinue - 1;
      mark_ready(ci);
    }
    return Handled::incomplete;
  }
  c.more_flags &= ~conn_flag2::continue_sent;
  consumed = total;
  if (!req.keep_alive) c.flags &= ~conn_flag::keep_alive;
  route(ci, req, bytes.substr(req.head_bytes, req.content_length));
  return Handled::done;
}

void Shard::route(std::uint32_t ci, const http::Request& req, std::string_view body) {
  const http::AccessPolicy* access = cluster_.access;
  const bool cors = access != nullptr && access->cors.enabled();
  // Every answer on this connection carries the CORS headers its Origin earned (none if it
  // is not listed: the browser then refuses the page access to the answer).
  if (cors) conns_[ci].cors = access->cors.decide(req.origin).slot;
  const http::Route* r = http::match_route(req.path);
  if (r == nullptr || (r->id == http::RouteId::admin_drop && !config_.enable_admin))
    return respond_error(ci, 404, "no such endpoint");
  const bool preflight_route = r->access == http::Access::read_topics || r->id == http::RouteId::publish;
  if (cors && req.method == "OPTIONS" && preflight_route) return handle_preflight(ci, req);
  if (req.method != r->method) return refuse_method(ci, *r);
  switch (r->access) {
    case http::Access::read_topics: return route_read(ci, req, *r);
    case http::Access::publish_topic:
      if (r->id == http::RouteId::publish_batch) return handle_publish_batch(ci, req, body);
      return handle_publish(ci, req, req.path.substr(r->path.size()), body);
    case http::Access::admin: return handle_admin_drop(ci, req);
    case http::Access::list_topics: return handle_topic_list(ci, req);
    case http::Access::open: break;
  }
  switch (r->id) {
    case http::RouteId::healthz:
      return respond(ci, 200, "text/plain", draining_ ? "draining\n" : "ok\n");
    case http::RouteId::metrics: {
      refresh_gauges();
      std::string text = render_metrics(all_metrics_, ProcessMetrics{resident_bytes(), config_.max_streams});
      if (cluster_.redis != nullptr) text += cluster_.redis->render_metrics();
      return respond(ci, 200, "text/plain; version=0.0.4", text);
    }
    case http::RouteId::live_page:
      return respond(ci, 200, "text/html; charset=utf-8", http::live_page_html());
    default: RC_ASSERT(false);  // every other route has an access class handled above
  }
}

void Shard::refuse_method(std::uint32_t ci, const http::Route& r) {
  char allow[32];
  std::snprintf(allow, sizeof allow, "Allow: %.*s\r\n", int(r.method.size()), r.method.data());
  const char* detail = r.id == http::RouteId::publish          ? "use POST to publish"
                       : r.id == http::RouteId::poll           ? "use GET to poll"
                       : r.access == http::Access::read_topics ? "use GET to subscribe"
                       : r.method == "POST"                    ? "use POST"
                                                               : "use GET";
  respond_error(ci, 405, detail, allow);
}

void Shard::handle_subscribe(std::uint32_t ci, const http::Request& req,
                             const http::ReadTarget& target) {
  if (draining_) return respond_error(ci, 503, "server is shutting down", "Retry-After: 1\r\n");
  if (cluster_.streams_open.fetch_add(1, std::memory_order_relaxed) >= config_.max_streams) {
    cluster_.streams_open.fetch_sub(1, std::memory_order_relaxed);
    metrics_.rejected_streams.add();
    return respond_error(ci, 503, "stream limit reached (--max-streams)", "Retry-After: 5\r\n");
  }
  std::uint32_t topics[64];
  RC_ASSERT(target.topics.size() <= std::size(topics));  // --max-topics-per-stream <= 64
  for (std::size_t i = 0; i < target.topics.size(); ++i) {
    topics[i] = topic_index(target.topics[i], true);
    if (topics[i] == nil) {
      cluster_.streams_open.fetch_sub(1, std::memory_order_relaxed);
      return respond_error(ci, 503, "topic limit reached (--max-topics)", "Retry-After: 5\r\n");
    }
  }
  Conn& c = conns_[ci];
  c.flags |= conn_flag::counted_stream;
  c.state = ConnState::streaming;
  metrics_.streams.add();
  for (std::size_t i = 0; i < target.topics.size(); ++i) subscribe(ci, topics[i]);
  if (target.expires_s != 0) watch_token_expiry(ci, target.expires_s);
  // An EventSource reconnect sends the header; a first connection may use the query.
  std::string_view last_id = req.has_last_event_id ? req.last_event_id : target.query_last_event_id;
  if (config_.redis() && open_via_redis(ci, last_id)) return;  // starts when the bridge answers
  if (!last_id.empty()) {
    std::string gaps;
    resume(ci, last_id, gaps);
    if (!gaps.empty()) {
      c.out = take_buffer();
      c.out->assign(gaps);
      c.out_off = 0;
    }
  }
  start_stream(ci);
}

// Sends the stream head (and whatever `out` holds: gap events, replayed entries) and then
// the stream's events.
void Shard::start_stream(std::uint32_t ci) {
  Conn& c = conns_[ci];
  c.state = ConnState::streaming;
  const std::string& prelude =
      stream_preludes_[c.cors * kPreludeVariants + rng_() % kPreludeVariants];
  c.ctl = prelude.data();
  c.ctl_len = static_cast<std::uint16_t>(prelude.size());
  timer_touch(ci);
  mark_ready(ci);
  // A receive armed on the stream notices a departed client at once (EOF); without it the
  // stream is found dead only when a send to it fails (the next event or heartbeat).
  if (config_.stream_recv && !(c.flags & conn_flag::recv_inflight)) arm_recv(ci);
}

void Shard::handle_publish(std::uint32_t ci, const http::Request& req, std::string_view raw_topic,
                           std::string_view body) {
  // Decoded into the shard's own strings, whose capacity stays: nothing allocated per publish.
  std::string& topic = publish_topic_;
  std::string& event = publish_event_;
  topic.clear();
  event.clear();
  if (!http::percent_decode(raw_topic, topic) || !http::valid_topic(topic))
    return reject_publish(ci, 400, "topic names are 1-128 characters of A-Z a-z 0-9 . _ ~ -");
  if (topic[0] == '_') return reject_publish(ci, 403, "topics starting with '_' are the server's");
  if (cluster_.access != nullptr) {
    const http::AuthOutcome auth =
        cluster_.access->check_publish(req, topic, std::int64_t(io_.unix_ms() / 1000));
    if (auth.status != 0) {
      count_refusal(req, auth);
      // The detail and header texts are static (auth/access.cc, auth/jwt*.cc).
      return reject_publish(ci, auth.status, auth.detail.data(), auth.www_authenticate.data());
    }
  }
  http::QueryIter it(req.query);
  std::string_view key, value;
  while (it.next(key, value)) {
    if (key != "event") continue;
    if (!http::percent_decode(value, event) || !http::valid_event_type(event))
      return reject_publish(ci, 400, "event types are 1-64 printable ASCII characters, no ':'");
  }
  if (!http::valid_utf8(body)) return reject_publish(ci, 400, "the body must be UTF-8");
  // Redis mode: the bridge appends it to the topic's stream and answers with the entry's id;
  // the event reaches subscribers (here too) when the bridge reads it back.
  const std::uint32_t owner = config_.redis() ? kBridgeShard : owner_of(topic, cluster_.shards);
  std::uint32_t t = nil;
  if (owner == index_) {
    t = topic_index(topic, true);
    if (t == nil) return finish_publish(ci, 503, topic, {});
    if (!flow_holds(topics_[t])) return finish_publish(ci, 202, topic, publish_local(t, event, body));
  }
  // The owner assigns the id; it answers with the id and we reply then. On this shard, the
  // topic's streams are behind: the publish waits (core/shard_flow.cc).
  PublishMessage* m = take_publish();
  m->conn_token = token(ci);
  m->topic.assign(topic);
  m->event.assign(event);
  m->data.assign(body);
  Conn& c = conns_[ci];
  RC_ASSERT(c.pending_acks == 0 || c.publish_owner == owner);  // may_pipeline saw to it
  c.publish_owner = static_cast<std::uint8_t>(owner);
  ++c.pending_acks;
  c.state = ConnState::publishing;
  if (owner == index_) return hold_publish(t, m);
  post(owner, m);
}

// A publish refused while earlier pipelined publishes still await the owner's acks: its error
// must not overtake their answers, so it travels through the owner too and comes back in order.
void Shard::reject_publish(std::uint32_t ci, int status, const char* detail, const char* headers) {
  Conn& c = conns_[ci];
  if (c.pending_acks == 0) return respond_error(ci, status, detail, headers);
  RC_ASSERT(c.publish_owner != index_ || config_.redis());  // may_pipeline: held publishes go alone
  PublishMessage* m = take_publish();
  m->conn_token = token(ci);
  m->refusal = true;
  m->status = status;
  m->detail = detail;
  m->headers = headers;
  ++c.pending_acks;
  c.flags |= conn_flag::close_after_send;  // nothing after the refusal is read
  post(c.publish_owner, m);
}

// Owner side of a publish from another shard; takes `m` over (it goes back as the answer).
void Shard::on_publish_message(PublishMessage* m) {
  if (m->refusal) {  // only echoing it back, in order
    m->answer(m->status, m->detail, m->headers);
    return send_ack(m->origin_shard, m);
  }
  const std::uint32_t t = topic_index(m->topic, true);
  if (t == nil || !flow_holds(topics_[t])) return apply_publish(m);
  hold_publish(t, m);  // the topic's streams are behind: it waits
}

// Origin side: the owner's answer, to the publishing connection; `m` is kept for reuse.
void Shard::on_publish_ack(PublishMessage* m) {
  RC_ASSERT(m->kind == MessageKind::publish_ack);
  if (!on_batch_ack(m)) {
    const std::uint32_t ci = conn_of(m->conn_token);
    if (ci != nil && conns_[ci].state == ConnState::publishing) {  // else the publisher left
      RC_ASSERT(conns_[ci].pending_acks > 0);
      --conns_[ci].pending_acks;
      if (m->detail != nullptr) respond_error(ci, m->status, m->detail, m->headers);
      else finish_publish(ci, m->status, m->topic, m->id);
    }
  }
  recycle(m);
}

void Shard::finish_publish(std::uint32_t ci, int status, std::string_view topic, EventId id) {
  if (status != 202) {
    return respond_error(ci, 503, "topic limit reached (--max-topics)", "Retry-After: 5\r\n");
  }
  // {"topic":"…","id":"…"} on the stack: topics are at most 128 characters, ids 41.
  static constexpr std::string_view kHead = "{\"topic\":\"", kMiddle = "\",\"id\":\"", kTail = "\"}\n";
  char body[kHead.size() + 255 + kMiddle.size() + 42 + kTail.size()];
  RC_ASSERT(topic.size() <= 255);
  std::size_t n = 0;
  const auto put = [&](std::string_view part) {
    std::memcpy(body + n, part.data(), part.size());
    n += part.size();
  };
  put(kHead);
  put(topic);  // topic characters never need JSON escaping
  put(kMiddle);
  n += format_event_id(id, body + n);
  put(kTail);
  respond(ci, 202, "application/json", std::string_view(body, n));
}

// Where the next response goes: `out`, unless a send of `out` is in flight (the kernel reads
// it; appending could move it), in which case `out_next`, sent once `out` is done.
std::string& Shard::response_buffer(std::uint32_t ci) {
  Conn& c = conns_[ci];
  const bool sending = c.flags & conn_flag::send_inflight;
  std::string*& target = (c.out != nullptr && sending) ? c.out_next : c.out;
  if (target == nullptr) {
    target = take_buffer();
    if (&target == &c.out) c.out_off = 0;
  }
  return *target;
}

// The connection's CORS header lines followed by `extra`, in `scratch` when both are set.
std::string_view Shard::answer_headers(std::uint32_t ci, std::string_view extra,
                                       std::string& scratch) const {
  const std::uint16_t slot = conns_[ci].cors;
  if (slot == 0) return extra;
  const std::string_view cors = cluster_.access->cors.headers(slot);
  if (extra.empty()) return cors;
  scratch.reserve(cors.size() + extra.size());
  scratch.assign(cors);
  scratch += extra;
  return scratch;
}

void Shard::respond(std::uint32_t ci, int status, std::string_view content_type,
                    std::string_view body, std::string_view extra_headers) {
  Conn& c = conns_[ci];
  const bool close = !(c.flags & conn_flag::keep_alive);
  std::string scratch;
  http::append_response(response_buffer(ci), status, content_type, body, close,
                        answer_headers(ci, extra_headers, scratch));
  if (close) c.flags |= conn_flag::close_after_send;
  // With pipelined publishes still owed by the owner shard, stay `publishing`; the responses
  // written so far go out meanwhile.
  if (c.pending_acks == 0) c.state = ConnState::responding;
  timer_touch(ci);
  mark_ready(ci);
}

void Shard::respond_error(std::uint32_t ci, int status, std::string_view detail,
                          std::string_view extra_headers) {
  Conn& c = conns_[ci];
  if (status >= 400 && status < 500) metrics_.bad_requests.add();
  c.flags &= ~conn_flag::keep_alive;
  c.flags |= conn_flag::close_after_send;
  std::string scratch;
  http::append_error(response_buffer(ci), status, detail, answer_headers(ci, extra_headers, scratch));
  if (c.pending_acks == 0) c.state = ConnState::responding;
  timer_touch(ci);
  mark_ready(ci);
}

void Shard::refuse_auth(std::uint32_t ci, const http::Request& req,
                        const http::AuthOutcome& outcome) {
  count_refusal(req, outcome);
  respond_error(ci, outcome.status, outcome.detail, outcome.www_authenticate);
}

void Shard::count_refusal(const http::Request& req, const http::AuthOutcome& outcome) {
  metrics_.auth_rejections[std::size_t(outcome.reason)].add();
  if (!log_enabled(LogLevel::debug)) return;
  // The target may carry ?access_token=: a bearer credential must never reach a log.
  const std::string target = http::redact_access_token(req.target);
  const std::string_view reason = http::auth_reason_name(outcome.reason);
  log_event(LogLevel::debug, "auth_refused", "shard=%u status=%d reason=%.*s method=%.*s target=%s",
            index_, outcome.status, int(reason.size()), reason.data(), int(req.method.size()),
            req.method.data(), quoted(target).c_str());
}

// OPTIONS on /pub/{topic} or /sse[/{topic}] with --cors-origin: a CORS preflight. A listed
// origin gets 204 with what it may send; any other origin (or none) gets 403.
void Shard::handle_preflight(std::uint32_t ci, const http::Request& req) {
  const http::CorsPolicy::Decision d = cluster_.access->cors.decide(req.origin);
  if (!d.allowed) {
    metrics_.auth_rejections[std::size_t(http::AuthReason::cors_origin)].add();
    return respond_error(ci, 403, "this origin is not in --cors-origin");
  }
  const bool publish = req.path.substr(0, 5) == "/pub/";
  const std::string headers =
      cluster_.access->cors.preflight_headers(d.slot, publish ? "POST, OPTIONS" : "GET, OPTIONS");
  Conn& c = conns_[ci];
  const bool close = !(c.flags & conn_flag::keep_alive);
  http::append_no_content(response_buffer(ci), close, headers);
  if (close) c.flags |= conn_flag::close_after_send;
  if (c.pending_acks == 0) c.state = ConnState::responding;
  timer_touch(ci);
  mark_ready(ci);
}

}  // namespace ringcast
