#pragma once
// The HTTP/2 session's per-stream record, shared by its two halves (h2_session.cc: streams and
// output; h2_session_recv.cc: input). Not for use outside the session.
#include <cstdint>
#include <memory>
#include <string>

#include "http/h2_request.h"
#include "http/h2_session.h"

namespace ringcast::http {

// One open stream: what flow control and the answer need, nothing more (issue #18's budget).
struct H2Session::Stream {
  std::int32_t id = 0;
  std::int32_t send_window = 0;    // may go below 0 when the peer lowers its initial window
  std::uint32_t recv_used = 0;     // request DATA since our last WINDOW_UPDATE for the stream
  std::uint32_t header_list_bytes = 0;  // RFC 9113 §6.5.2 accounting of the request's fields
  Stream* ready_prev = nullptr;    // the session's ready list (something to send)
  Stream* ready_next = nullptr;
  std::unique_ptr<H2RequestBuilder> request;  // while the request arrives
  std::unique_ptr<std::string> answer;         // submit_body() bytes not yet framed
  bool remote_closed : 1 = false;  // the client's END_STREAM came
  bool local_closed : 1 = false;   // our END_STREAM is framed
  bool dispatched : 1 = false;     // on_request was called: the handler knows the stream
  bool answered : 1 = false;       // HEADERS queued
  bool has_body : 1 = false;       // the answer has DATA (answer bytes, or the handler's pull)
  bool answer_end : 1 = false;     // submit_body(end_stream) seen
  bool in_ready : 1 = false;
  bool blocked : 1 = false;        // in blocked_: no send window
  bool headers_too_large : 1 = false;  // answer 431
  bool bad_request : 1 = false;        // answer 400
  bool malformed : 1 = false;          // RST_STREAM(PROTOCOL_ERROR)
};

}  // namespace ringcast::http
