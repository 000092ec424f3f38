#include "http/topic_info_json.h"

#include <charconv>

#include "base/assert.h"
#include "http/names.h"
#include "http/poll_json.h"
#include "http/query.h"

namespace ringcast::http {

namespace {

void append_number(std::string& out, std::uint64_t n) { out += std::to_string(n); }

void append_counts(std::string& out, const TopicCounts& t) {
  RC_ASSERT(valid_topic(t.topic));  // names come from the topic table: never need escaping
  out += "{\"topic\":";
  append_json_string(out, t.topic);
  out += ",\"subscribers\":";
  append_number(out, t.subscribers);
  out += ",\"subscribersCluster\":";
  append_number(out, t.subscribers_cluster);
  out += ",\"lastEventId\":";
  append_json_string(out, t.last_event_id);
  out += ",\"historyEvents\":";
  append_number(out, t.history_events);
  out += ",\"historyBytes\":";
  append_number(out, t.history_bytes);
  out += '}';
}

bool topic_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '~' || c == '-';
}

bool fail(TopicListQuery& out, std::string_view detail) {
  out.error_status = 400;
  out.error_detail = detail;
  return false;
}

}  // namespace

std::string topic_info_json(const TopicCounts& t) {
  std::string out;
  out.reserve(160 + t.topic.size());
  append_counts(out, t);
  out += '\n';
  return out;
}

std::string topic_list_json(const std::vector<TopicCounts>& page, std::string_view next) {
  std::string out = "{\"topics\":[";
  for (std::size_t i = 0; i < page.size(); ++i) {
    if (i > 0) out += ',';
    append_counts(out, page[i]);
  }
  out += "],\"next\":";
  if (next.empty()) {
    out += "null";
  } else {
    RC_ASSERT(valid_topic(next));
    append_json_string(out, next);
  }
  out += "}\n";
  return out;
}

std::string occupancy_json(std::string_view topic, std::uint64_t subscribers,
                           std::uint64_t subscribers_cluster) {
  RC_ASSERT(valid_topic(topic));
  std::string out = "{\"topic\":";
  append_json_string(out, topic);
  out += ",\"subscribers\":";
  append_number(out, subscribers);
  out += ",\"subscribersCluster\":";
  append_number(out, subscribers_cluster);
  out += '}';
  return out;
}

bool parse_topic_list_query(std::string_view query, TopicListQuery& out) {
  out = TopicListQuery{};
  QueryIter it(query);
  std::string_view key, value;
  std::string decoded;
  while (it.next(key, value)) {
    if (key == "limit") {
      // Digits only, at most 4 of them: "1e9", "-1", "+5" and 2^64 are all refused.
      std::uint32_t n = 0;
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (value.empty() || value.size() > 4 || ec != std::errc() || end != value.data() + value.size() ||
          n < 1 || n > kTopicListMax)
        return fail(out, "limit must be 1-1000");
      out.limit = n;
    } else if (key == "prefix") {
      if (!percent_decode(value, decoded) || decoded.size() > topic_bytes_max)
        return fail(out, "prefix: at most 128 characters of A-Z a-z 0-9 . _ ~ -");
      for (char c : decoded) {
        if (!topic_char(c)) return fail(out, "prefix: at most 128 characters of A-Z a-z 0-9 . _ ~ -");
      }
      out.prefix = decoded;
    } else if (key == "after") {
      if (!percent_decode(value, decoded) || !valid_topic(decoded))
        return fail(out, "after: the last topic name of the previous page");
      out.after = decoded;
    }
  }
  // What the listing relies on: a page size in range, and bounds that are topic characters.
  RC_ASSERT(out.limit >= 1 && out.limit <= kTopicListMax);
  RC_ASSERT(out.prefix.size() <= topic_bytes_max && (out.after.empty() || valid_topic(out.after)));
  return true;
}

}  // namespace ringcast::http
