// Micro-benchmarks of the protocol layer: the per-request and per-event costs that sit on
// the hot path (request heads on accept, event encoding once per publish, UTF-8 checks of
// published payloads).
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "http/request_parser.h"
#include "http/sse_encoder.h"
#include "http/utf8.h"

namespace ringcast::http {
namespace {

// What a browser's EventSource sends on (re)connect.
const std::string kSseGet =
    "GET /sse?topic=prices.eu&last_event_id=1234 HTTP/1.1\r\n"
    "Host: stream.example.com\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0\r\n"
    "Accept: text/event-stream\r\n"
    "Accept-Language: en-US,en;q=0.5\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Cache-Control: no-cache\r\n"
    "Last-Event-ID: 1234\r\n"
    "Origin: https://app.example.com\r\n"
    "Connection: keep-alive\r\n"
    "Sec-Fetch-Dest: empty\r\n"
    "Sec-Fetch-Mode: cors\r\n"
    "Sec-Fetch-Site: same-site\r\n"
    "\r\n";

// A publisher's POST (head only; the body is read separately).
const std::string kPublishPost =
    "POST /publish/prices.eu HTTP/1.1\r\n"
    "Host: stream.example.com\r\n"
    "User-Agent: curl/7.88.1\r\n"
    "Accept: */*\r\n"
    "Authorization: Bearer 3f9c1e7a0b4d4e2f8a6c5b9d7e1f0a2b\r\n"
    "Content-Type: application/json\r\n"
    "Content-Length: 96\r\n"
    "\r\n";

void parse_head(benchmark::State& state, const std::string& head) {
  const ParseLimits limits;
  for (auto _ : state) {
    Request req;
    ParseResult r = parse_request(head, limits, req);
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(req);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * head.size()));
}

void BM_ParseSseGet(benchmark::State& state) { parse_head(state, kSseGet); }
void BM_ParsePublishPost(benchmark::State& state) { parse_head(state, kPublishPost); }

void encode_bench(benchmark::State& state, const std::string& data) {
  std::vector<char> out(encoded_size("123456", "update", data));
  for (auto _ : state) {
    benchmark::DoNotOptimize(data.data());
    const std::size_t size = encoded_size("123456", "update", data);
    const std::size_t n = encode_event("123456", "update", data, out.data());
    benchmark::DoNotOptimize(size);
    benchmark::DoNotOptimize(n);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.size()));
}

// A typical JSON tick: one line of 100 bytes.
void BM_EncodeSingleLine100B(benchmark::State& state) {
  std::string data = "{\"symbol\":\"EURUSD\",\"bid\":1.08423,\"ask\":1.08431,\"ts\":1700000000123}";
  data.resize(100, ' ');
  encode_bench(state, data);
}

// Pretty-printed or log-like payload: 4 KiB in lines of about 64 bytes.
void BM_EncodeMultiLine4KiB(benchmark::State& state) {
  std::string data;
  while (data.size() < 4096) data += "  \"field\": \"some value that fills up a line\",\n";
  data.resize(4096);
  encode_bench(state, data);
}

// 64 KiB of mixed UTF-8 (mostly ASCII with 2-, 3- and 4-byte sequences), as a JSON
// payload with some non-English text would be.
void BM_ValidUtf8_64KiB(benchmark::State& state) {
  const std::string unit = "{\"name\":\"caf\xc3\xa9 \xe2\x82\xac\",\"emoji\":\"\xf0\x9f\x98\x80\"}";
  std::string data;
  while (data.size() + unit.size() <= 64 * 1024) data += unit;
  data.resize(64 * 1024, 'x');
  for (auto _ : state) {
    benchmark::DoNotOptimize(data.data());
    bool ok = valid_utf8(data);
    benchmark::DoNotOptimize(ok);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.size()));
}

// Pure ASCII: the 8-bytes-at-a-time fast path.
void BM_ValidUtf8_64KiB_Ascii(benchmark::State& state) {
  const std::string data(64 * 1024, 'a');
  for (auto _ : state) {
    benchmark::DoNotOptimize(data.data());
    bool ok = valid_utf8(data);
    benchmark::DoNotOptimize(ok);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.size()));
}

BENCHMARK(BM_ParseSseGet);
BENCHMARK(BM_ParsePublishPost);
BENCHMARK(BM_EncodeSingleLine100B);
BENCHMARK(BM_EncodeMultiLine4KiB);
BENCHMARK(BM_ValidUtf8_64KiB);
BENCHMARK(BM_ValidUtf8_64KiB_Ascii);

}  // namespace
}  // namespace ringcast::http
