#pragma once
// Who is listening (README "Who is listening"): the answers of GET /topics/{topic} and
// GET /topics, the listing's query, and the data of occupancy events. Bytes only, no IO.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ringcast::http {

// One topic as the info and listing answers show it.
struct TopicCounts {
  std::string topic;
  std::uint64_t subscribers = 0;          // this node, every shard (streams and held polls)
  std::uint64_t subscribers_cluster = 0;  // every live node (Redis mode), else = subscribers
  std::string last_event_id;              // "" while the topic has no event in its history
  std::uint64_t history_events = 0;
  std::uint64_t history_bytes = 0;
};

// {"topic":"T","subscribers":N,"subscribersCluster":M,"lastEventId":"…","historyEvents":K,
//  "historyBytes":B} and a newline.
std::string topic_info_json(const TopicCounts& t);
// {"topics":[…],"next":"CURSOR"} (`next` null when `next` is empty: the last page).
std::string topic_list_json(const std::vector<TopicCounts>& page, std::string_view next);
// The data of an occupancy event: {"topic":"T","subscribers":N,"subscribersCluster":M}.
std::string occupancy_json(std::string_view topic, std::uint64_t subscribers,
                           std::uint64_t subscribers_cluster);

inline constexpr std::uint32_t kTopicListDefault = 100;
inline constexpr std::uint32_t kTopicListMax = 1000;

// GET /topics?prefix=P&limit=L&after=CURSOR, decoded and checked. A page holds the topics
// whose names start with `prefix` and sort (bytewise) after `after`, at most `limit` of them.
struct TopicListQuery {
  std::string prefix;  // "" or topic characters, at most a topic's length
  std::string after;   // "" or a valid topic name (the last name of the previous page)
  std::uint32_t limit = kTopicListDefault;
  int error_status = 0;           // nonzero: answer this with error_detail (static text)
  std::string_view error_detail;
};
// False with error_* set on anything malformed: a limit that is not 1..kTopicListMax in
// decimal, a prefix with characters a topic cannot hold, a cursor that is not a topic name.
// Other parameters (access_token, say) are ignored.
bool parse_topic_list_query(std::string_view query, TopicListQuery& out);

}  // namespace ringcast::http
