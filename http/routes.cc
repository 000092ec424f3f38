#include "http/routes.h"

#include <algorithm>

#include "base/assert.h"
#include "http/names.h"
#include "http/query.h"

namespace ringcast::http {

namespace {

bool fail(ReadTarget& out, int status, std::string_view detail) {
  out.error_status = status;
  out.error_detail = detail;
  return false;
}

// Decodes and checks one topic, then adds it unless the target named it already.
bool add_topic(ReadTarget& out, std::string_view raw) {
  std::string decoded;
  if (!percent_decode(raw, decoded)) return fail(out, 400, "malformed percent-encoding in topic");
  if (!valid_topic(decoded))
    return fail(out, 400, "topic names are 1-128 characters of A-Z a-z 0-9 . _ ~ - (not . or ..)");
  if (std::find(out.topics.begin(), out.topics.end(), decoded) == out.topics.end())
    out.topics.push_back(std::move(decoded));
  return true;
}

}  // namespace

// No path matches two routes, so the order of kRoutes never decides which one serves it. A
// prefix route's path ends in '/' ("/sse/" must not claim "/ssex").
static_assert([] {
  for (const Route& a : kRoutes) {
    if (a.path.empty() || a.path.front() != '/' || (a.prefix && a.path.back() != '/')) return false;
    for (const Route& b : kRoutes) {
      if (&a == &b) continue;
      if (!a.prefix && !b.prefix && a.path == b.path) return false;
      if (b.prefix && a.path.starts_with(b.path)) return false;  // a's paths would be b's too
    }
  }
  return true;
}());

const Route* match_route(std::string_view path) {
  for (const Route& r : kRoutes) {
    if (r.prefix ? path.substr(0, r.path.size()) == r.path : path == r.path) return &r;
  }
  return nullptr;
}

std::string_view access_name(Access access) {
  switch (access) {
    case Access::open: return "open";
    case Access::read_topics: return "read_topics";
    case Access::publish_topic: return "publish_topic";
    case Access::admin: return "admin";
    case Access::list_topics: return "list_topics";
  }
  return "unknown";
}

std::string describe_routes() {
  std::string text;
  for (const Route& r : kRoutes) {
    text.append(r.method).append(" ").append(r.example).append(" ");
    text.append(access_name(r.access)).append("\n");
  }
  return text;
}

bool parse_read_target(const Route& route, const Request& req, std::size_t topics_max,
                       ReadTarget& out) {
  RC_ASSERT(route.access == Access::read_topics);
  RC_ASSERT(route.prefix || route.id == RouteId::stream_query);
  // The route was matched on this path (match_route): the topic starts right after it.
  RC_ASSERT(route.prefix ? req.path.starts_with(route.path) : req.path == route.path);
  out.topics.clear();
  out.query_last_event_id.clear();
  out.error_status = 0;
  const std::string_view in_path = route.prefix ? req.path.substr(route.path.size()) : "";
  if (!in_path.empty() && !add_topic(out, in_path)) return false;
  QueryIter it(req.query);
  std::string_view key, value;
  while (it.next(key, value)) {
    if (key == "lastEventId") {
      if (!percent_decode(value, out.query_last_event_id))
        return fail(out, 400, "malformed percent-encoding in lastEventId");
    } else if (key == "topic" && (route.id == RouteId::stream || route.id == RouteId::stream_query)) {
      if (!add_topic(out, value)) return false;
    }
  }
  if (out.topics.empty()) {
    return fail(out, 400, route.id == RouteId::poll         ? "name a topic: /poll/{topic}"
                          : route.id == RouteId::topic_info ? "name a topic: /topics/{topic}"
                                                            : "name a topic: /sse/{topic} or /sse?topic=a");
  }
  if (out.topics.size() > topics_max)
    return fail(out, 400, "too many topics for one stream (--max-topics-per-stream)");
  // One topic in the path, none from the query: a poll or an info request names exactly one.
  RC_ASSERT((route.id != RouteId::poll && route.id != RouteId::topic_info) || out.topics.size() == 1);
  return true;
}

}  // namespace ringcast::http
