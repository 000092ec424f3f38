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

void Shard::on_request_bytes(std::uint32_t ci, std::string_view bytes) {
  Conn& c = conns_[ci];
  if (c.in != nullptr) {
    c.in->append(bytes);
    bytes = *c.in;
  }
  std::size_t consumed = 0;
  const bool complete = handle_buffered(ci, bytes, consumed);
  Conn& after = conns_[ci];  // same record; re-read for clarity after state changes
  if (!complete) {
    // Keep what has arrived (a request split across reads) and read on.
    if (after.in == nullptr) after.in = new std::string(bytes);
    if (after.state == ConnState::reading) arm_recv(ci);
    return;
  }
  // Anything after the request (a pipelined next request) waits in `in` until the response
  // has been written.
  std::string_view rest = bytes.substr(consumed);
  if (rest.empty()) {
    delete after.in;
    after.in = nullptr;
  } else if (after.in == nullptr) {
    after.in = new std::string(rest);
  } else {
    after.in->erase(0, consumed);
  }
}

// Parses one request from `bytes`. Returns false if more bytes are needed; otherwise the
// request has been answered or handed on, and `consumed` says how many bytes it used.
bool Shard::handle_buffered(std::uint32_t ci, std::string_view bytes, std::size_t& consumed) {
  http::Request req;
  http::ParseResult parsed = http::parse_request(bytes, parse_limits_, req);
  if (parsed.status == http::ParseStatus::incomplete) return false;
  if (parsed.status == http::ParseStatus::error) {
    consumed = bytes.size();
    respond_error(ci, parsed.error_status, parsed.error_reason);
    return true;
  }
  if (req.chunked) {
    consumed = bytes.size();
    respond_error(ci, 411, "send the body with Content-Length, not chunked");
    return true;
  }
  if (req.content_length > config_.max_event_bytes) {
    consumed = bytes.size();
    respond_error(ci, 413, "body larger than --max-event-bytes");
    return true;
  }
  const std::size_t total = req.head_bytes + req.content_length;
  Conn& c = conns_[ci];
  if (bytes.size() < total) {
    if (req.expect_continue && !(c.more_flags & conn_flag2::continue_sent) && c.ctl_len == 0) {
      static constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
      c.more_flags |= conn_flag2::continue_sent;
      c.ctl = kContinue;
      c.ctl_len = sizeof kContinue - 1;
      mark_ready(ci);
    }
    return false;
  }
  c.more_flags &= ~conn_flag2::continue_sent;
  consumed = total;
  if (!req.keep_alive) conns_[ci].flags &= ~conn_flag::keep_alive;
  route(ci, req, bytes.substr(req.head_bytes, req.content_length));
  return true;
}

void Shard::route(std::uint32_t ci, const http::Request& req, std::string_view body) {
  std::string_view topic;
  const bool get = req.method == "GET";
  if (req.path == "/sse" || path_param(req.path, "/sse/", topic)) {
    if (!get) return respond_error(ci, 405, "use GET to subscribe", "Allow: GET\r\n");
    return handle_subscribe(ci, req);
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
  arm_recv(ci);  // listen for EOF
}

void Shard::handle_publish(std::uint32_t ci, const http::Request& req, std::string_view raw_topic,
                           std::string_view body) {
  std::string topic, event;
  if (!http::percent_decode(raw_topic, topic) || !http::valid_topic(topic))
    return respond_error(ci, 400, "topic names are 1-128 characters of A-Z a-z 0-9 . _ ~ -");
  if (topic[0] == '_') return respond_error(ci, 403, "topics starting with '_' are the server's");
  http::QueryIter it(req.query);
  std::string_view key, value;
  while (it.next(key, value)) {
    if (key != "event") continue;
    if (!http::percent_decode(value, event) || !http::valid_event_type(event))
      return respond_error(ci, 400, "event types are 1-64 printable ASCII characters, no ':'");
  }
  if (!http::valid_utf8(body)) return respond_error(ci, 400, "the body must be UTF-8");
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
  conns_[ci].state = ConnState::publishing;
  post(owner, m);
}

void Shard::on_publish_message(PublishMessage* m) {
  auto* ack = new PublishAckMessage();
  ack->conn_token = m->conn_token;
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

void Shard::respond(std::uint32_t ci, int status, std::string_view content_type,
                    std::string_view body, std::string_view extra_headers) {
  Conn& c = conns_[ci];
  RC_ASSERT(c.out == nullptr);
  const bool close = !(c.flags & conn_flag::keep_alive);
  c.out = new std::string();
  http::append_response(*c.out, status, content_type, body, close, extra_headers);
  c.out_off = 0;
  if (close) c.flags |= conn_flag::close_after_send;
  c.state = ConnState::responding;
  timer_touch(ci);
  mark_ready(ci);
}

void Shard::respond_error(std::uint32_t ci, int status, std::string_view detail,
                          std::string_view extra_headers) {
  Conn& c = conns_[ci];
  if (status >= 400 && status < 500) metrics_.bad_requests.add();
  RC_ASSERT(c.out == nullptr);
  c.flags &= ~conn_flag::keep_alive;
  c.flags |= conn_flag::close_after_send;
  c.out = new std::string();
  http::append_error(*c.out, status, detail, extra_headers);
  c.out_off = 0;
  c.state = ConnState::responding;
  timer_touch(ci);
  mark_ready(ci);
}

}  // namespace ringcast
