#include "auth/topic_scope.h"

namespace ringcast::http {

bool topic_matches(std::string_view pattern, std::string_view topic) {
  if (!pattern.empty() && pattern.back() == '*') {
    const std::string_view prefix = pattern.substr(0, pattern.size() - 1);
    return topic.size() > prefix.size() && topic.substr(0, prefix.size()) == prefix;
  }
  return pattern == topic;
}

bool scope_grants(const TopicScope& scope, std::string_view topic) {
  if (!scope.present) return false;
  if (scope.all) return true;
  for (const std::string& pattern : scope.patterns) {
    if (topic_matches(pattern, topic)) return true;
  }
  return false;
}

}  // namespace ringcast::http
