// Topic and event-type name rules. See names.h.
#include "http/names.h"

#include <array>

#include "base/assert.h"

namespace ringcast::http {
namespace {

// Topics appear unescaped in URLs, metrics and logs, so they are limited to the RFC 3986
// "unreserved" set: nothing there ever needs quoting or percent-encoding.
constexpr std::array<bool, 256> make_topic_table() {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  t['.'] = t['_'] = t['~'] = t['-'] = true;
  return t;
}
constexpr std::array<bool, 256> kTopicChar = make_topic_table();
// What valid_topic promises its callers: topics go into JSON and URLs unescaped, and into
// a chunk's one-byte topic length (core/chunk.h).
static_assert(!kTopicChar['"'] && !kTopicChar['\\'] && !kTopicChar['%'] && !kTopicChar['/'] &&
              !kTopicChar['?'] && !kTopicChar['&'] && !kTopicChar['#'] && !kTopicChar[' ']);
static_assert(topic_bytes_max <= 255);

bool all_of(std::string_view s, bool (*ok)(unsigned char)) {
  for (char c : s) {
    if (!ok(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

bool valid_topic(std::string_view topic) {
  if (topic.empty() || topic.size() > topic_bytes_max) return false;
  // "/sse/." and "/sse/.." are dot-segments (RFC 3986 §5.2.4): proxies and caches normalize
  // them away, so the topic a client names would not be the one the server sees.
  if (topic == "." || topic == "..") return false;
  return all_of(topic, [](unsigned char c) { return kTopicChar[c]; });
}

bool valid_event_type(std::string_view type) {
  if (type.empty() || type.size() > event_type_bytes_max) return false;
  // The type is written as "event: <type>\n": CR/LF would end the field early, and
  // excluding ':' and spaces keeps it one unambiguous token for every SSE parser.
  return all_of(type, [](unsigned char c) { return c >= 0x21 && c <= 0x7e && c != ':'; });
}

std::string_view access_subject(std::string_view topic) {
  const std::string_view whole = topic;
  // Stripped repeatedly: "_occupancy._occupancy.T" needs the right to read T too (it never
  // carries events, but asking for it must not bypass T's check).
  while (topic.size() > kOccupancyPrefix.size() && topic.substr(0, kOccupancyPrefix.size()) == kOccupancyPrefix)
    topic.remove_prefix(kOccupancyPrefix.size());
  // A suffix of the name, never stripped down to nothing (that would be no topic at all).
  RC_ASSERT(whole.ends_with(topic) && topic.empty() == whole.empty());
  return topic;
}

}  // namespace ringcast::http
