#pragma once
// Which topics a token's scope claim grants. A pattern is an exact topic name, or a prefix
// ending in '*': "news.*" grants "news.eu" and "news.eu.fr" (not "news"), "*" grants every
// topic. Topic names cannot contain '*', so a '*' anywhere but at the end matches nothing.
#include <string_view>

#include "auth/jwt_claims.h"

namespace ringcast::http {

bool topic_matches(std::string_view pattern, std::string_view topic);

// True if `scope` grants `topic`: `all`, or one of its patterns matches.
bool scope_grants(const TopicScope& scope, std::string_view topic);

}  // namespace ringcast::http
