// HTTP/2 at the byte level: our HPACK encoder against RFC 7541's examples and nghttp2's decoder,
// the request field checks of RFC 9113 §8.2-8.3, and the session fed hand-made frames a
// well-behaved client library would never send (test_h2_session.cc drives it with nghttp2).
#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

#include <map>
#include <string>
#include <vector>

#include "http/h2_frame.h"
#include "http/h2_request.h"
#include "http/h2_session.h"
#include "http/hpack_encode.h"

namespace ringcast::http {
namespace {

// --- HPACK encoder ------------------------------------------------------------------------------

std::string hex(const std::string& s) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out += d[c >> 4];
    out += d[c & 15];
  }
  return out;
}

TEST(Hpack, IntegersMatchRfc7541Examples) {
  std::string out;
  hpack::append_int(out, 0x00, 5, 10);  // C.1.1
  EXPECT_EQ(hex(out), "0a");
  out.clear();
  hpack::append_int(out, 0x00, 5, 1337);  // C.1.2
  EXPECT_EQ(hex(out), "1f9a0a");
  out.clear();
  hpack::append_int(out, 0x00, 8, 42);  // C.1.3
  EXPECT_EQ(hex(out), "2a");
  out.clear();
  hpack::append_int(out, 0x80, 7, 8);  // indexed :status 200
  EXPECT_EQ(hex(out), "88");
}

TEST(Hpack, StaticNamesByIndex) {
  EXPECT_EQ(hpack::static_name_index(":authority"), 1);
  EXPECT_EQ(hpack::static_name_index("content-type"), 31);
  EXPECT_EQ(hpack::static_name_index("cache-control"), 24);
  EXPECT_EQ(hpack::static_name_index("www-authenticate"), 61);
  EXPECT_EQ(hpack::static_name_index("x-accel-buffering"), 0);
}

// Whatever we encode, an independent decoder reads back exactly.
TEST(Hpack, ResponsesDecodeWithNghttp2) {
  std::string block;
  hpack::append_status(block, 200);
  hpack::append_status(block, 429);
  hpack::append_field(block, "content-type", "text/event-stream");
  hpack::append_field(block, "x-accel-buffering", "no");
  hpack::append_field(block, "access-control-allow-origin", std::string(300, 'o'));
  nghttp2_hd_inflater* inf = nullptr;
  ASSERT_EQ(nghttp2_hd_inflate_new(&inf), 0);
  std::vector<std::pair<std::string, std::string>> got;
  const auto* in = reinterpret_cast<const std::uint8_t*>(block.data());
  std::size_t left = block.size();
  for (;;) {
    nghttp2_nv nv;
    int flags = 0;
    ssize_t rv = nghttp2_hd_inflate_hd2(inf, &nv, &flags, in, left, 1);
    ASSERT_GE(rv, 0);
    in += rv;
    left -= static_cast<std::size_t>(rv);
    if (flags & NGHTTP2_HD_INFLATE_EMIT)
      got.push_back({std::string((const char*)nv.name, nv.namelen), std::string((const char*)nv.value, nv.valuelen)});
    if (flags & NGHTTP2_HD_INFLATE_FINAL) break;
  }
  EXPECT_EQ(nghttp2_hd_inflate_get_num_table_entries(inf), 61u);  // nothing entered the table
  nghttp2_hd_inflate_del(inf);
  std::vector<std::pair<std::string, std::string>> want = {
      {":status", "200"}, {":status", "429"}, {"content-type", "text/event-stream"},
      {"x-accel-buffering", "no"}, {"access-control-allow-origin", std::string(300, 'o')}};
  EXPECT_EQ(got, want);
}

// --- request fields (RFC 9113 §8.2, §8.3) -------------------------------------------------------

FieldVerdict add_all(H2RequestBuilder& b, std::vector<std::pair<std::string, std::string>> fields) {
  for (auto& [n, v] : fields) {
    FieldVerdict r = b.add_field(n, v);
    if (r != FieldVerdict::ok) return r;
  }
  return FieldVerdict::ok;
}

const std::vector<std::pair<std::string, std::string>> kGet = {
    {":method", "GET"}, {":scheme", "https"}, {":authority", "a.test"}, {":path", "/sse/t?x=1"}};

TEST(H2RequestFields, AWellFormedRequest) {
  H2RequestBuilder b;
  auto f = kGet;
  f.push_back({"cookie", "a=1"});
  f.push_back({"cookie", "b=2"});
  f.push_back({"te", "trailers"});
  f.push_back({"last-event-id", " 42 "});
  ASSERT_EQ(add_all(b, f), FieldVerdict::ok);
  ASSERT_TRUE(b.head_complete());
  Request r = b.request();
  EXPECT_EQ(r.path, "/sse/t");
  EXPECT_EQ(r.query, "x=1");
  EXPECT_EQ(r.host, "a.test");
  EXPECT_EQ(r.cookie, "a=1; b=2");
  EXPECT_EQ(r.last_event_id, "42");
}

TEST(H2RequestFields, MalformedFieldsAreStreamErrors) {
  const std::vector<std::pair<std::string, std::string>> bad[] = {
      {{"Accept", "x"}},                        // upper case name
      {{"connection", "keep-alive"}},           // connection-specific
      {{"transfer-encoding", "chunked"}},
      {{"upgrade", "h2c"}},
      {{"te", "gzip"}},                         // te other than trailers
      {{"x-a", "line\r\nbreak"}},               // CR LF in a value
      {{"x-a", std::string("nul\0", 4)}},
      {{":protocol", "websocket"}},             // a pseudo-header we do not know
      {{":path", "/again"}},                    // a pseudo-header twice
      {{"accept", "x"}, {":status", "200"}},    // a pseudo-header after a regular field
      {{"bad name", "x"}},
      {{"content-length", "1"}, {"content-length", "1"}},
  };
  for (const auto& extra : bad) {
    H2RequestBuilder b;
    auto f = kGet;
    f.insert(f.end(), extra.begin(), extra.end());
    EXPECT_EQ(add_all(b, f), FieldVerdict::malformed) << extra.front().first;
  }
}

TEST(H2RequestFields, MissingPseudoHeadersAreIncomplete) {
  for (const char* drop : {":method", ":scheme", ":path", ":authority"}) {
    H2RequestBuilder b;
    for (auto& [n, v] : kGet)
      if (n != drop) ASSERT_EQ(b.add_field(n, v), FieldVerdict::ok);
    EXPECT_FALSE(b.head_complete()) << drop;
  }
  H2RequestBuilder host_only;  // Host stands in for :authority
  ASSERT_EQ(add_all(host_only, {{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {"host", "h"}}),
            FieldVerdict::ok);
  EXPECT_TRUE(host_only.head_complete());
  EXPECT_EQ(host_only.request().host, "h");
}

TEST(H2RequestFields, AFieldWeActOnTwiceIsABadRequest) {
  H2RequestBuilder b;
  auto f = kGet;
  f.push_back({"authorization", "Bearer a"});
  f.push_back({"authorization", "Bearer b"});
  EXPECT_EQ(add_all(b, f), FieldVerdict::bad_request);
}

TEST(H2RequestFields, TrailerFields) {
  EXPECT_TRUE(h2_trailer_field_ok("x-checksum", "abc"));
  EXPECT_FALSE(h2_trailer_field_ok(":path", "/"));
  EXPECT_FALSE(h2_trailer_field_ok("connection", "close"));
  EXPECT_FALSE(h2_trailer_field_ok("X-Upper", "v"));
}

// --- the session fed raw frames ------------------------------------------------------------------

struct Recorder : H2Handler {
  H2Session* session = nullptr;
  std::map<std::int32_t, std::string> bodies;
  std::map<std::int32_t, std::string> events;  // pending bytes per stream (stable until sent)
  std::map<std::int32_t, std::uint32_t> closed;
  std::vector<std::int32_t> window_opened;
  void on_request(std::int32_t id, const H2Request& r) override {
    bodies[id] = std::string(r.body);
    session->submit_headers(id, 200, "text/event-stream", {}, false);
  }
  void on_stream_close(std::int32_t id, std::uint32_t code) override { closed[id] = code; }
  std::size_t pull(std::int32_t id, std::size_t max, H2Slices& out, bool& end) override {
    end = false;
    std::string& e = events[id];
    std::size_t n = std::min(max, e.size());
    if (n == 0 || !out.add(e.data(), n)) return 0;
    handed[id].append(e, 0, n);
    e.erase(0, n);  // the bytes live on in handed[id] (never resized while a send holds them)
    return n;
  }
  void on_data_sent(std::int32_t, std::size_t) override {}
  void on_window_open(std::int32_t id) override { window_opened.push_back(id); }
  std::map<std::int32_t, std::string> handed;
};

struct Out {  // what the server sent, as frames
  struct F {
    std::uint8_t type, flags;
    std::int32_t stream;
    std::string payload;
  };
  std::vector<F> frames;
  const F* find(std::uint8_t type, std::int32_t stream) const {
    for (const F& f : frames)
      if (f.type == type && f.stream == stream) return &f;
    return nullptr;
  }
  std::uint32_t code(std::uint8_t type, std::int32_t stream) const {  // RST_STREAM / GOAWAY code
    const F* f = find(type, stream);
    if (f == nullptr) return 0xffffffffu;
    const std::size_t at = type == h2::kGoaway ? 4 : 0;
    return h2::read_u32(reinterpret_cast<const std::uint8_t*>(f->payload.data()) + at);
  }
  std::size_t data_bytes(std::int32_t stream) const {
    std::size_t n = 0;
    for (const F& f : frames)
      if (f.type == h2::kData && f.stream == stream) n += f.payload.size();
    return n;
  }
};

std::string frame(std::uint8_t type, std::uint8_t flags, std::int32_t stream, const std::string& p) {
  std::string out;
  h2::append_frame(out, type, flags, stream, p.data(), p.size());
  return out;
}

std::string u32(std::uint32_t v) {
  std::string s;
  h2::append_u32(s, v);
  return s;
}

std::string setting(std::uint16_t id, std::uint32_t v) {
  std::string s{char(id >> 8), char(id)};
  return s + u32(v);
}

std::string request_block(const std::string& method, const std::string& path,
                          std::vector<std::pair<std::string, std::string>> extra = {}) {
  std::string b;
  hpack::append_field(b, ":method", method);
  hpack::append_field(b, ":scheme", "http");
  hpack::append_field(b, ":authority", "a.test");
  hpack::append_field(b, ":path", path);
  for (auto& [n, v] : extra) hpack::append_field(b, n, v);
  return b;
}

struct Raw {
  Recorder h;
  H2Settings settings;
  std::unique_ptr<H2Session> s;
  Out out;
  H2Feed last = H2Feed::ok;
  explicit Raw(std::string client_settings = "") {
    s = std::make_unique<H2Session>(settings, h);
    h.session = s.get();
    feed(std::string(kH2ClientPreface) + frame(h2::kSettings, 0, 0, client_settings));
  }
  H2Feed feed(const std::string& bytes) {
    last = s->feed(bytes, 0);
    drain();
    return last;
  }
  void drain() {
    for (int i = 0; i < 100; ++i) {
      std::vector<iovec> iov;
      std::size_t n = s->build_output(iov);
      if (n == 0) return;
      std::string bytes;
      for (const iovec& v : iov) bytes.append((const char*)v.iov_base, v.iov_len);
      s->output_sent(n);
      std::string_view b = bytes;
      while (b.size() >= 9) {
        h2::FrameHead fh = h2::read_frame_head(reinterpret_cast<const std::uint8_t*>(b.data()));
        out.frames.push_back({fh.type, fh.flags, fh.stream, std::string(b.substr(9, fh.length))});
        b.remove_prefix(9 + fh.length);
      }
    }
  }
};

TEST(H2Raw, FirstFrameMustBeSettings) {
  Recorder h;
  H2Session s(H2Settings{}, h);
  h.session = &s;
  EXPECT_EQ(s.feed(std::string(kH2ClientPreface) + frame(h2::kPing, 0, 0, "12345678"), 0),
            H2Feed::protocol_error);
}

TEST(H2Raw, MalformedRequestResetsOnlyItsStream) {
  Raw r;
  r.feed(frame(h2::kHeaders, h2::kEndHeaders | h2::kEndStream, 1,
               request_block("GET", "/sse/a", {{"connection", "close"}})));
  r.feed(frame(h2::kHeaders, h2::kEndHeaders | h2::kEndStream, 3, request_block("GET", "/sse/b")));
  EXPECT_EQ(r.out.code(h2::kRstStream, 1), std::uint32_t{h2::kProtocolError});
  EXPECT_EQ(r.h.bodies.count(1), 0u);
  EXPECT_EQ(r.h.bodies.count(3), 1u);
  EXPECT_EQ(r.last, H2Feed::ok);
  EXPECT_EQ(r.out.find(h2::kGoaway, 0), nullptr);
}

TEST(H2Raw, ContentLengthMustMatchTheBody) {
  Raw r;
  r.feed(frame(h2::kHeaders, h2::kEndHeaders, 1, request_block("POST", "/pub/t", {{"content-length", "10"}})));
  r.feed(frame(h2::kData, h2::kEndStream, 1, "12345"));
  EXPECT_EQ(r.out.code(h2::kRstStream, 1), std::uint32_t{h2::kProtocolError});
  EXPECT_EQ(r.h.bodies.count(1), 0u);
  r.feed(frame(h2::kHeaders, h2::kEndHeaders, 3, request_block("POST", "/pub/t", {{"content-length", "5"}})));
  r.feed(frame(h2::kData, h2::kEndStream, 3, "12345"));
  EXPECT_EQ(r.h.bodies[3], "12345");
}

TEST(H2Raw, TrailersEndTheRequest) {
  Raw r;
  r.feed(frame(h2::kHeaders, h2::kEndHeaders, 1, request_block("POST", "/pub/t")));
  r.feed(frame(h2::kData, 0, 1, "body"));
  std::string trailers;
  hpack::append_field(trailers, "x-checksum", "1");
  r.feed(frame(h2::kHeaders, h2::kEndHeaders | h2::kEndStream, 1, trailers));
  EXPECT_EQ(r.h.bodies[1], "body");
  std::string bad;
  hpack::append_field(bad, ":path", "/x");  // no pseudo-header in trailers
  r.feed(frame(h2::kHeaders, h2::kEndHeaders, 3, request_block("POST", "/pub/t")));
  r.feed(frame(h2::kHeaders, h2::kEndHeaders | h2::kEndStream, 3, bad));
  EXPECT_EQ(r.out.code(h2::kRstStream, 3), std::uint32_t{h2::kProtocolError});
}

TEST(H2Raw, PaddingPriorityAndUnknownFramesAreHandled) {
  Raw r;
  std::string padded = std::string(1, char(4)) + std::string("\x80\x00\x00\x00\x10", 5) +
                       request_block("POST", "/pub/t") + std::string(4, '\0');
  r.feed(frame(h2::kHeaders, h2::kEndHeaders | h2::kPadded | h2::kPriorityFlag, 1, padded));
  r.feed(frame(0x42, 0xff, 0, "whatever"));            // unknown type: ignored
  r.feed(frame(h2::kPriority, 0, 7, std::string(5, '\0')));  // on an idle stream: allowed
  r.feed(frame(h2::kData, h2::kEndStream | h2::kPadded, 1, std::string(1, char(2)) + "xy" + std::string(2, '\0')));
  EXPECT_EQ(r.last, H2Feed::ok);
  EXPECT_EQ(r.h.bodies[1], "xy");
  Raw bad;
  EXPECT_EQ(bad.feed(frame(h2::kData, h2::kPadded, 1, std::string(1, char(9)) + "ab")),
            H2Feed::protocol_error);  // padding longer than the frame
}

TEST(H2Raw, InterleavedContinuationIsAConnectionError) {
  Raw r;
  std::string block = request_block("GET", "/sse/a");
  r.feed(frame(h2::kHeaders, h2::kEndStream, 1, block.substr(0, 5)));
  EXPECT_EQ(r.feed(frame(h2::kPing, 0, 0, "12345678")), H2Feed::protocol_error);
  EXPECT_EQ(r.out.code(h2::kGoaway, 0), std::uint32_t{h2::kProtocolError});
}

TEST(H2Raw, ContinuationCarriesTheRestOfABlock) {
  Raw r;
  std::string block = request_block("GET", "/sse/a", {{"x-long", std::string(100, 'v')}});
  r.feed(frame(h2::kHeaders, h2::kEndStream, 1, block.substr(0, 10)));
  r.feed(frame(h2::kContinuation, 0, 1, block.substr(10, 50)));
  r.feed(frame(h2::kContinuation, h2::kEndHeaders, 1, block.substr(60)));
  EXPECT_EQ(r.h.bodies.count(1), 1u);
}

TEST(H2Raw, BadHpackIsACompressionError) {
  Raw r;
  EXPECT_EQ(r.feed(frame(h2::kHeaders, h2::kEndHeaders | h2::kEndStream, 1, "\xff\xff\xff\xff\xff\xff")),
            H2Feed::protocol_error);
  EXPECT_EQ(r.out.code(h2::kGoaway, 0), std::uint32_t{h2::kCompressionError});
}

TEST(H2Raw, FramesOnIdleStreamsAreConnectionErrors) {
  for (std::uint8_t type : {h2::kData, h2::kRstStream, h2::kWindowUpdate}) {
    Raw r;
    std::string payload = type == h2::kData ? "x" : u32(1);
    EXPECT_EQ(r.feed(frame(type, 0, 5, payload)), H2Feed::protocol_error) << int(type);
  }
  Raw even;
  EXPECT_EQ(even.feed(frame(h2::kHeaders, h2::kEndHeaders | h2::kEndStream, 2, request_block("GET", "/"))),
            H2Feed::protocol_error);
  Raw push;
  EXPECT_EQ(push.feed(frame(h2::kPushPromise, h2::kEndHeaders, 1, u32(2))), H2Feed::protocol_error);
}

TEST(H2Raw, DataAfterAResetIsDroppedAndItsWindowReturned) {
  Raw r;
  r.feed(frame(h2::kHeaders, h2::kEndHeaders, 1, request_block("POST", "/pub/t")));
  r.feed(frame(h2::kRstStream, 0, 1, u32(h2::kCancel)));
  std::string chunk(16384, 'd');
  for (int i = 0; i < 8; ++i) EXPECT_EQ(r.feed(frame(h2::kData, 0, 1, chunk)), H2Feed::ok);  // 128 KB
  std::uint32_t returned = 0;
  for (const auto& f : r.out.frames)
    if (f.type == h2::kWindowUpdate && f.stream == 0)
      returned += h2::read_u32(reinterpret_cast<const std::uint8_t*>(f.payload.data()));
  EXPECT_GE(returned, 8u * 16384u - 65535u);  // the connection window keeps moving
}

TEST(H2Raw, ConnectionFlowControlIsEnforced) {
  Raw r;
  r.feed(frame(h2::kHeaders, h2::kEndHeaders, 1, request_block("POST", "/pub/t")));
  // The client ignores our window: 5 x 16 KiB without waiting for WINDOW_UPDATE is fine (we
  // return it as it comes), but a window overflow by WINDOW_UPDATE is a connection error.
  EXPECT_EQ(r.feed(frame(h2::kWindowUpdate, 0, 0, u32(0x7fffffffu))), H2Feed::protocol_error);
  EXPECT_EQ(r.out.code(h2::kGoaway, 0), std::uint32_t{h2::kFlowControlError});
  Raw z;
  EXPECT_EQ(z.feed(frame(h2::kWindowUpdate, 0, 0, u32(0))), H2Feed::protocol_error);
}

TEST(H2Raw, StreamWindowOverflowResetsTheStream) {
  Raw r;
  r.feed(frame(h2::kHeaders, h2::kEndHeaders | h2::kEndStream, 1, request_block("GET", "/sse/a")));
  r.feed(frame(h2::kWindowUpdate, 0, 1, u32(0x7fffffffu)));
  EXPECT_EQ(r.out.code(h2::kRstStream, 1), std::uint32_t{h2::kFlowControlError});
  EXPECT_EQ(r.h.closed[1], std::uint32_t{h2::kFlowControlError});
  EXPECT_EQ(r.last, H2Feed::ok);
}

// SETTINGS_INITIAL_WINDOW_SIZE moves every open stream's window (RFC 9113 §6.9.2): at 0 nothing
// is sent; raised again, the stream goes on and the handler hears of it.
TEST(H2Raw, InitialWindowChangesMoveOpenStreams) {
  Raw r(setting(h2::kInitialWindowSize, 0));
  r.feed(frame(h2::kHeaders, h2::kEndHeaders | h2::kEndStream, 1, request_block("GET", "/sse/a")));
  r.h.events[1] = "data: hello\n\n";
  r.s->resume(1);
  r.drain();
  EXPECT_EQ(r.out.data_bytes(1), 0u);
  EXPECT_TRUE(r.s->stream_blocked(1));
  r.feed(frame(h2::kSettings, 0, 0, setting(h2::kInitialWindowSize, 5)));
  EXPECT_EQ(r.out.data_bytes(1), 5u);
  r.feed(frame(h2::kSettings, 0, 0, setting(h2::kInitialWindowSize, 65535)));
  EXPECT_EQ(r.out.data_bytes(1), 13u);
  EXPECT_EQ(r.h.window_opened, (std::vector<std::int32_t>{1, 1}));
  EXPECT_EQ(r.feed(frame(h2::kSettings, 0, 0, setting(h2::kInitialWindowSize, 0x80000000u))),
            H2Feed::protocol_error);
  EXPECT_EQ(r.out.code(h2::kGoaway, 0), std::uint32_t{h2::kFlowControlError});
}

TEST(H2Raw, BadSettingsAndFrameSizes) {
  const std::string bad[] = {
      frame(h2::kSettings, 0, 0, setting(h2::kEnablePush, 2)),
      frame(h2::kSettings, 0, 0, setting(h2::kMaxFrameSize, 100)),
      frame(h2::kSettings, 0, 0, "12345"),        // not a multiple of 6
      frame(h2::kSettings, h2::kAck, 0, "x"),     // an ACK with a payload
      frame(h2::kSettings, 0, 1, ""),             // on a stream
      frame(h2::kPing, 0, 0, "1234"),             // PING of 4 bytes
      frame(h2::kRstStream, 0, 1, "12"),
      frame(h2::kGoaway, 0, 0, "1234"),
      frame(h2::kPriority, 0, 1, "123"),
  };
  for (const std::string& f : bad) {
    Raw r;
    EXPECT_EQ(r.feed(f), H2Feed::protocol_error) << int(f[3]);
  }
  Raw big;  // a frame over SETTINGS_MAX_FRAME_SIZE (16 KiB)
  EXPECT_EQ(big.feed(frame(h2::kData, 0, 1, std::string(16385, 'x'))), H2Feed::protocol_error);
  EXPECT_EQ(big.out.code(h2::kGoaway, 0), std::uint32_t{h2::kFrameSizeError});
}

TEST(H2Raw, PeerGoawayWithNoStreamsFinishes) {
  Raw r;
  EXPECT_FALSE(r.s->finished());
  r.feed(frame(h2::kGoaway, 0, 0, u32(0) + u32(h2::kNoError)));
  EXPECT_TRUE(r.s->finished());
}

TEST(H2Raw, BytesSplitAnywhereGiveTheSameRequest) {
  std::string all = frame(h2::kHeaders, h2::kEndHeaders, 1, request_block("POST", "/pub/t")) +
                    frame(h2::kData, h2::kEndStream, 1, "split body");
  for (std::size_t step : {1u, 2u, 7u, 100u}) {
    Raw r;
    for (std::size_t at = 0; at < all.size(); at += step) r.feed(all.substr(at, step));
    EXPECT_EQ(r.h.bodies[1], "split body") << step;
  }
}

}  // namespace
}  // namespace ringcast::http
