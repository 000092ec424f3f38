#pragma once
#include <string_view>

namespace ringcast::http {

// The page served at GET /: subscribes with EventSource to /sse/<topic> (?topic=, default
// "demo") and to "_stats", and shows the events and the server's live numbers.
std::string_view live_page_html();

}  // namespace ringcast::http
