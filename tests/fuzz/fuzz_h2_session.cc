// libFuzzer target: the HTTP/2 server session (our framing, nghttp2's HPACK decoder) on
// arbitrary client bytes.
// The input is fed in pieces (sizes taken from its first bytes), after the client preface and
// an empty SETTINGS frame when the first byte is even (so most inputs reach frame parsing).
// Every request is answered as an SSE stream fed from static bytes; output is drained with
// partial sends. Invariants: no crash or UB (ASan/UBSan), no assertion, every build within
// H2OutputLimits, the session's memory within session_mem_bytes_max, handler calls consistent.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "http/h2_session.h"

using namespace ringcast::http;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

constexpr std::string_view kEvent = "id: 1-0\ndata: fuzz\n\n";

struct Handler : H2Handler {
  H2Session* session = nullptr;
  std::set<std::int32_t> open;
  std::size_t pulled = 0, sent = 0;
  void on_request(std::int32_t id, const H2Request& r) override {
    check(open.insert(id).second);  // once per stream
    check(r.body.size() <= 4096);
    if (r.head.method == "POST") {
      session->submit_headers(id, 204, {}, {}, true);
    } else {
      H2Header extra[] = {{"cache-control", "no-store"}};
      session->submit_headers(id, 200, "text/event-stream", extra, false);
    }
  }
  void on_stream_close(std::int32_t id, std::uint32_t) override { check(open.erase(id) == 1); }
  std::size_t pull(std::int32_t, std::size_t max, H2Slices& out, bool& end) override {
    end = false;
    std::size_t n = std::min(max, kEvent.size());
    if (pulled > 64 * 1024 || !out.add(kEvent.data(), n)) return 0;  // then idle until resume
    pulled += n;
    return n;
  }
  void on_data_sent(std::int32_t, std::size_t bytes) override { sent += bytes; }
  void on_window_open(std::int32_t id) override { session->resume(id); }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  H2Settings settings;
  settings.max_body_bytes = 4096;
  settings.max_concurrent_streams = 8;
  settings.reset_streams_max = 20;
  Handler handler;
  H2Session session(settings, handler);
  handler.session = &session;
  std::string input;
  if (data[0] % 2 == 0) {
    input.append(kH2ClientPreface);
    input.append(std::string_view("\x00\x00\x00\x04\x00\x00\x00\x00\x00", 9));
  }
  const std::size_t piece = 1 + data[1] % 64;
  const std::size_t send_step = 1 + data[0] * 7u;
  input.append(reinterpret_cast<const char*>(data) + 2, size - 2);

  std::vector<iovec> iov;
  std::uint64_t now_ms = 0;
  for (std::size_t off = 0; off < input.size(); off += piece) {
    H2Feed r = session.feed(std::string_view(input).substr(off, piece), now_ms += 3);
    for (std::int32_t id : handler.open) session.resume(id);
    for (int round = 0; round < 4; ++round) {
      std::size_t bytes = session.build_output(iov);
      check(bytes <= settings.output.send_bytes_max + 16 * 1024);  // one over-size frame at most
      check(iov.size() <= settings.output.iovecs_max);
      if (bytes == 0) break;
      session.output_sent(std::min(bytes, send_step));
    }
    check(session.mem_bytes_peak() <= settings.session_mem_bytes_max);
    if (r != H2Feed::ok) break;
  }
  for (int round = 0; round < 1000; ++round) {  // drain
    std::size_t bytes = session.build_output(iov);
    if (bytes == 0) break;
    session.output_sent(bytes);
  }
  check(handler.sent <= handler.pulled);
  return 0;
}
