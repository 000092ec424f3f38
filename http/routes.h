#pragma once
// Every endpoint of the server in one table, and the pure functions a front (HTTP/1.1 today,
// any later protocol tomorrow) dispatches with. Each route has an access class; the front makes
// the access decision from the class before any handler runs, so no handler can forget it:
//   read_topics    reads events of the topics the target names: the subscriber check
//                  (AccessPolicy::check_subscribe) over every one of them
//   publish_topic  the publisher check for the topic in the path
//   list_topics    names topics, reads no events: with access control on, only topics the
//                  caller's token may subscribe to are listed (AccessPolicy::subscribe_scope)
//   admin          the publisher check for ?topic= (only served with --enable-admin)
//   open           no topic data (health, metrics, the page's static HTML)
// `ringcast --print-routes` prints this table; tests/integration/test_read_routes.py walks it
// and asks every route for a protected topic without a token.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "http/request_parser.h"

namespace ringcast::http {

enum class RouteId : std::uint8_t {
  stream_query,  // GET /sse?topic=a&topic=b
  stream,        // GET /sse/{topic}
  poll,          // GET /poll/{topic}
  publish,       // POST /pub/{topic}
  healthz,       // GET /healthz
  metrics,       // GET /metrics
  live_page,     // GET /
  admin_drop,    // POST /admin/drop?topic=T
  topic_info,    // GET /topics/{topic}: subscriber counts and history of one topic
  topic_list,    // GET /topics?prefix=P&limit=L&after=CURSOR
  publish_batch, // POST /pub: many events, NDJSON (http/publish_batch.h)
};

enum class Access : std::uint8_t { open, read_topics, publish_topic, admin, list_topics };

struct Route {
  RouteId id;
  std::string_view path;     // exact path, or with `prefix` the part before the topic
  bool prefix;
  std::string_view method;   // the one method served (OPTIONS preflights aside)
  Access access;
  std::string_view example;  // a target naming the topic "{topic}", for tests and docs
};

inline constexpr std::array<Route, 11> kRoutes = {{
    {RouteId::stream_query, "/sse", false, "GET", Access::read_topics, "/sse?topic={topic}"},
    {RouteId::stream, "/sse/", true, "GET", Access::read_topics, "/sse/{topic}"},
    {RouteId::poll, "/poll/", true, "GET", Access::read_topics, "/poll/{topic}?lastEventId=0-0"},
    {RouteId::publish, "/pub/", true, "POST", Access::publish_topic, "/pub/{topic}"},
    {RouteId::healthz, "/healthz", false, "GET", Access::open, "/healthz"},
    {RouteId::metrics, "/metrics", false, "GET", Access::open, "/metrics"},
    {RouteId::live_page, "/", false, "GET", Access::open, "/?topic={topic}"},
    {RouteId::admin_drop, "/admin/drop", false, "POST", Access::admin, "/admin/drop?topic={topic}"},
    {RouteId::topic_info, "/topics/", true, "GET", Access::read_topics, "/topics/{topic}"},
    {RouteId::topic_list, "/topics", false, "GET", Access::list_topics, "/topics?prefix={topic}"},
    {RouteId::publish_batch, "/pub", false, "POST", Access::publish_topic, "/pub"},
}};

// The route serving `path` (whatever the method), or null: 404.
const Route* match_route(std::string_view path);

std::string_view access_name(Access access);

// One line per route: "<method> <example> <access>", for --print-routes.
std::string describe_routes();

// What a read route asks for: the topics (decoded, validated, de-duplicated, in order) and
// the lastEventId of the query. Filled by parse_read_target, before any access decision.
struct ReadTarget {
  std::vector<std::string> topics;
  std::string query_last_event_id;
  std::int64_t expires_s = 0;    // the granting token's exp plus leeway (0: no token)
  int error_status = 0;          // nonzero: answer this, with error_detail (static text)
  std::string_view error_detail;
};

// Parses the topics of a read_topics route (`route.access` must be read_topics):
// /sse/{topic}[?topic=…], /sse?topic=…, /poll/{topic}, /topics/{topic}. False with `error_*` set on bad input.
bool parse_read_target(const Route& route, const Request& req, std::size_t topics_max,
                       ReadTarget& out);

}  // namespace ringcast::http
