// Requests: parsing, routing, subscribe, publish, plain responses.
#include <algorithm>
#include <cstring>

#include "core/assert.h"
#include "core/log.h"
#include "core/shard.h"
#include "http/live_page.h"
#include "http/names.h"
#include "http/query.h"
#include "http/response.h"
#include "http/utf8.h"

namespace ringcast {

namespace {

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// Splits "/sse/news" into "news" for prefix "/sse/"; false if the path is not under it.
bool path_param(std::string_view path, std::string_view prefix, std::string_view& param) {
  if (!starts_with(path, prefix)) return false;
  param = path.substr(prefix.size());
  return true;
}

}  // namespace

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
  std::string_view topic;
  if (req.method == "POST" && req.path.substr(0, 5) == "/pub/") {
    std::string decoded;
    if (!http::percent_decode(req.path.substr(5), decoded)) return c.pending_acks == 0;
    const std::uint32_t owner = owner_of(decoded, cluster_.shards);
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
  if ((req.chunked || req.content_length > config_.max_event_bytes) && acks_owed)
    return Handled::deferred;
  if (req.chunked) {
    consumed = bytes.size();
    respond_error(ci, 411, "send the body with Content-Length, not chunked");
    return Handled::done;
  }
  if (req.content_length > config_.max_event_bytes) {
    consumed = bytes.size();
    respond_error(ci, 413, "body larger than --max-event-bytes");
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
  std::string_view topic;
  const bool get = req.method == "GET";
  if (req.path == "/sse" || path_param(req.path, "/sse/", topic)) {
    if (!get) return respond_error(ci, 405, "use GET to subscribe", "Allow: GET\r\n");
    return handle_subscribe(ci, req);
  }
  if (path_param(req.path, "/poll/", topic)) {
    if (!get) return respond_error(ci, 405, "use GET to poll", "Allow: GET\r\n");
    return handle_poll(ci, req);
  }
  if (path_param(req.path, "/pub/", topic)) {
    if (req.method != "POST") return respond_error(ci, 405, "use POST to publish", "Allow: POST\r\n");
    return handle_publish(ci, req, topic, body);
  }
  if (req.path == "/healthz") {
    if (!get) return respond_error(ci, 405, "use GET", "Allow: GET\r\n");
    return respond(ci, 200, "text/plain", draining_ ? "draining\n" : "ok\n");
  }
  if (req.path == "/metrics") {
    if (!get) return respond_error(ci, 405, "use GET", "Allow: GET\r\n");
    refresh_gauges();
    return respond(ci, 200, "text/plain; version=0.0.4", render_metrics(all_metrics_));
  }
  if (req.path == "/") {
    if (!get) return respond_error(ci, 405, "use GET", "Allow: GET\r\n");
    return respond(ci, 200, "text/html; charset=utf-8", http::live_page_html());
  }
  if (req.path == "/admin/drop" && config_.enable_admin) {
    if (req.method != "POST") return respond_error(ci, 405, "use POST", "Allow: POST\r\n");
    return handle_admin_drop(ci, req);
  }
  respond_error(ci, 404, "no such endpoint");
}

void Shard::handle_subscribe(std::uint32_t ci, const http::Request& req) {
  std::vector<std::string> names;
  std::string decoded, query_last_id;
  if (req.path.size() > 5) {  // "/sse/{topic}"
    if (!http::percent_decode(req.path.substr(5), decoded))
      return respond_error(ci, 400, "malformed percent-encoding in topic");
    names.push_back(decoded);
  }
  http::QueryIter it(req.query);
  std::string_view key, value;
  while (it.next(key, value)) {
    if (key == "lastEventId") {
      if (!http::percent_decode(value, query_last_id))
        return respond_error(ci, 400, "malformed percent-encoding in lastEventId");
      continue;
    }
    if (key != "topic") continue;
    if (!http::percent_decode(value, decoded))
      return respond_error(ci, 400, "malformed percent-encoding in topic");
    if (std::find(names.begin(), names.end(), decoded) == names.end()) names.push_back(decoded);
  }
  if (names.empty()) return respond_error(ci, 400, "name a topic: /sse/{topic} or /sse?topic=a");
  if (names.size() > config_.max_topics_per_stream)
    return respond_error(ci, 400, "too many topics for one stream (--max-topics-per-stream)");
  for (const std::string& name : names) {
    if (!http::valid_topic(name))
      return respond_error(ci, 400, "topic names are 1-128 characters of A-Z a-z 0-9 . _ ~ -");
  }
  if (draining_) return respond_error(ci, 503, "server is shutting down", "Retry-After: 1\r\n");
  if (cluster_.streams_open.fetch_add(1, std::memory_order_relaxed) >= config_.max_streams) {
    cluster_.streams_open.fetch_sub(1, std::memory_order_relaxed);
    metrics_.rejected_streams.add();
    return respond_error(ci, 503, "stream limit reached (--max-streams)", "Retry-After: 5\r\n");
  }
  std::vector<std::uint32_t> topics;
  for (const std::string& name : names) {
    std::uint32_t t = topic_index(name, true);
    if (t == nil) {
      cluster_.streams_open.fetch_sub(1, std::memory_order_relaxed);
      return respond_error(ci, 503, "topic limit reached (--max-topics)", "Retry-After: 5\r\n");
    }
    topics.push_back(t);
  }
  Conn& c = conns_[ci];
  c.flags |= conn_flag::counted_stream;
  c.state = ConnState::streaming;
  metrics_.streams.add();
  for (std::uint32_t t : topics) subscribe(ci, t);
  // An EventSource reconnect sends the header; a first connection may use the query.
  std::string_view last_id = req.has_last_event_id ? req.last_event_id : query_last_id;
  if (!last_id.empty()) {
    std::string gaps;
    resume(ci, last_id, gaps);
    if (!gaps.empty()) {
      c.out = new std::string(std::move(gaps));
      c.out_off = 0;
    }
  }
  const std::string& prelude = stream_preludes_[rng_() % stream_preludes_.size()];
  c.ctl = prelude.data();
  c.ctl_len = static_cast<std::uint16_t>(prelude.size());
  timer_touch(ci);
  mark_ready(ci);
  // A receive armed on the stream notices a departed client at once (EOF); without it the
  // stream is found dead only when a send to it fails (the next event or heartbeat).
  if (config_.stream_recv) arm_recv(ci);
}

void Shard::handle_publish(std::uint32_t ci, const http::Request& req, std::string_view raw_topic,
                           std::string_view body) {
  std::string topic, event;
  if (!http::percent_decode(raw_topic, topic) || !http::valid_topic(topic))
    return reject_publish(ci, 400, "topic names are 1-128 characters of A-Z a-z 0-9 . _ ~ -");
  if (topic[0] == '_') return reject_publish(ci, 403, "topics starting with '_' are the server's");
  http::QueryIter it(req.query);
  std::string_view key, value;
  while (it.next(key, value)) {
    if (key != "event") continue;
    if (!http::percent_decode(value, event) || !http::valid_event_type(event))
      return reject_publish(ci, 400, "event types are 1-64 printable ASCII characters, no ':'");
  }
  if (!http::valid_utf8(body)) return reject_publish(ci, 400, "the body must be UTF-8");
  const std::uint32_t owner = owner_of(topic, cluster_.shards);
  if (owner == index_) {
    std::uint32_t t = topic_index(topic, true);
    if (t == nil) return finish_publish(ci, 503, topic, {});
    return finish_publish(ci, 202, topic, publish_local(t, event, body));
  }
  // The owner assigns the id; it answers with the id and we reply then.
  auto* m = new PublishMessage();
  m->origin_shard = index_;
  m->conn_token = token(ci);
  m->topic = std::move(topic);
  m->event = std::move(event);
  m->data.assign(body);
  Conn& c = conns_[ci];
  RC_ASSERT(c.pending_acks == 0 || c.publish_owner == owner);  // may_pipeline saw to it
  c.publish_owner = static_cast<std::uint8_t>(owner);
  ++c.pending_acks;
  c.state = ConnState::publishing;
  post(owner, m);
}

// A publish refused while earlier pipelined publishes still await the owner's acks: its error
// must not overtake their answers, so it travels through the owner too and comes back in order.
void Shard::reject_publish(std::uint32_t ci, int status, const char* detail) {
  Conn& c = conns_[ci];
  if (c.pending_acks == 0) return respond_error(ci, status, detail);
  auto* m = new PublishMessage();
  m->origin_shard = index_;
  m->conn_token = token(ci);
  m->reject_status = status;
  m->reject_detail = detail;
  ++c.pending_acks;
  c.flags |= conn_flag::close_after_send;  // nothing after the refusal is read
  post(c.publish_owner, m);
}

void Shard::on_publish_message(PublishMessage* m) {
  auto* ack = new PublishAckMessage();
  ack->conn_token = m->conn_token;
  if (m->reject_status != 0) {  // only echoing a refusal back, in order
    ack->status = m->reject_status;
    ack->detail = m->reject_detail;
    post(m->origin_shard, ack);
    return;
  }
  std::uint32_t t = topic_index(m->topic, true);
  if (t == nil) {
    ack->status = 503;
  } else {
    ack->id = publish_local(t, m->event, m->data);
  }
  ack->topic = std::move(m->topic);
  post(m->origin_shard, ack);
}

void Shard::on_publish_ack(PublishAckMessage* m) {
  std::uint32_t ci = conn_of(m->conn_token);
  if (ci == nil || conns_[ci].state != ConnState::publishing) return;  // publisher left
  RC_ASSERT(conns_[ci].pending_acks > 0);
  --conns_[ci].pending_acks;
  if (m->detail != nullptr) return respond_error(ci, m->status, m->detail);
  finish_publish(ci, m->status, m->topic, m->id);
}

void Shard::finish_publish(std::uint32_t ci, int status, std::string_view topic, EventId id) {
  if (status != 202) {
    return respond_error(ci, 503, "topic limit reached (--max-topics)", "Retry-After: 5\r\n");
  }
  char id_text[42];
  std::size_t id_len = format_event_id(id, id_text);
  std::string body;
  body.reserve(topic.size() + id_len + 24);
  body += "{\"topic\":\"";
  body += topic;  // topic characters never need JSON escaping
  body += "\",\"id\":\"";
  body.append(id_text, id_len);
  body += "\"}\n";
  respond(ci, 202, "application/json", body);
}

// Where the next response goes: `out`, unless a send of `out` is in flight (the kernel reads
// it; appending could move it), in which case `out_next`, sent once `out` is done.
std::string& Shard::response_buffer(std::uint32_t ci) {
  Conn& c = conns_[ci];
  const bool sending = c.flags & conn_flag::send_inflight;
  std::string*& target = (c.out != nullptr && sending) ? c.out_next : c.out;
  if (target == nullptr) {
    target = new std::string();
    if (&target == &c.out) c.out_off = 0;
  }
  return *target;
}

void Shard::respond(std::uint32_t ci, int status, std::string_view content_type,
                    std::string_view body, std::string_view extra_headers) {
  Conn& c = conns_[ci];
  const bool close = !(c.flags & conn_flag::keep_alive);
  http::append_response(response_buffer(ci), status, content_type, body, close, extra_headers);
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
  http::append_error(response_buffer(ci), status, detail, extra_headers);
  if (c.pending_acks == 0) c.state = ConnState::responding;
  timer_touch(ci);
  mark_ready(ci);
}

}  // namespace ringcast
