// The HTTP/2 client without sockets: an in-process nghttp2 server session, bytes carried
// between the two by hand in pieces of every size. The client's SETTINGS and windows, its
// requests (Last-Event-ID), heads (status, content type) split anywhere, DATA in order, a
// stream larger than the initial window that must not stall, ends, resets, our cancel, GOAWAY.
#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

#include <sys/types.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "tools/load/h2_conn.h"

namespace ringcast::load {
namespace {

using nghttp2_ssize_compat = ssize_t;  // nghttp2 1.52's read callback returns ssize_t

// What the client reported, per tag.
struct Recorder final : H2Events {
  struct Stream {
    int status = 0;
    bool event_stream = false;
    int heads = 0;
    std::string body;
    int closes = 0;
    std::uint32_t error_code = 0;
  };
  std::map<std::uint32_t, Stream> streams;
  std::map<std::uint32_t, std::int32_t> ids;

  void h2_head(std::uint32_t tag, std::int32_t id, int status, bool es) override {
    Stream& s = streams[tag];
    s.status = status;
    s.event_stream = es;
    ++s.heads;
    ids[tag] = id;
  }
  void h2_data(std::uint32_t tag, std::string_view bytes) override { streams[tag].body += bytes; }
  void h2_closed(std::uint32_t tag, std::uint32_t code) override {
    ++streams[tag].closes;
    streams[tag].error_code = code;
  }
};

// A server session that records requests and answers what the test tells it to.
struct Server {
  struct Request {
    std::map<std::string, std::string> headers;
    std::string body;  // what is left to send
    bool end = true;   // END_STREAM after the body
  };
  nghttp2_session* ng = nullptr;
  std::map<std::int32_t, Request> requests;
  std::vector<std::int32_t> order;

  static int on_header(nghttp2_session*, const nghttp2_frame* f, const std::uint8_t* n, std::size_t nl,
                       const std::uint8_t* v, std::size_t vl, std::uint8_t, void* user) {
    auto* s = static_cast<Server*>(user);
    if (f->hd.type != NGHTTP2_HEADERS) return 0;
    Request& r = s->requests[f->hd.stream_id];
    r.headers[std::string(reinterpret_cast<const char*>(n), nl)] = std::string(reinterpret_cast<const char*>(v), vl);
    return 0;
  }
  static int on_frame(nghttp2_session*, const nghttp2_frame* f, void* user) {
    auto* s = static_cast<Server*>(user);
    if (f->hd.type == NGHTTP2_HEADERS && (f->hd.flags & NGHTTP2_FLAG_END_STREAM)) s->order.push_back(f->hd.stream_id);
    return 0;
  }
  static nghttp2_ssize_compat read(nghttp2_session*, std::int32_t id, std::uint8_t* buf, std::size_t len,
                                   std::uint32_t* flags, nghttp2_data_source*, void* user);

  Server() {
    nghttp2_session_callbacks* cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame);
    nghttp2_session_server_new(&ng, cb, this);
    nghttp2_session_callbacks_del(cb);
    const nghttp2_settings_entry e[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 256}};
    nghttp2_submit_settings(ng, NGHTTP2_FLAG_NONE, e, 1);
  }
  ~Server() { nghttp2_session_del(ng); }

  void respond(std::int32_t id, const char* status, const char* type, std::string body, bool end = true) {
    requests[id].body = std::move(body);
    requests[id].end = end;
    std::vector<nghttp2_nv> nva;
    auto add = [&](const char* n, const char* v) {
      nva.push_back({(std::uint8_t*)n, (std::uint8_t*)v, std::strlen(n), std::strlen(v), NGHTTP2_NV_FLAG_NONE});
    };
    add(":status", status);
    if (type != nullptr) add("content-type", type);
    nghttp2_data_provider dp{};
    dp.read_callback = read;
    ASSERT_EQ(nghttp2_submit_response(ng, id, nva.data(), nva.size(), &dp), 0);
  }
  std::string out() {
    std::string bytes;
    for (;;) {
      const std::uint8_t* d;
      const auto n = nghttp2_session_mem_send(ng, &d);
      if (n <= 0) return bytes;
      bytes.append(reinterpret_cast<const char*>(d), std::size_t(n));
    }
  }
  void in(const std::vector<char>& bytes) {
    ASSERT_EQ(nghttp2_session_mem_recv(ng, reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()),
              nghttp2_ssize_compat(bytes.size()));
  }
};

nghttp2_ssize_compat Server::read(nghttp2_session*, std::int32_t id, std::uint8_t* buf, std::size_t len,
                                  std::uint32_t* flags, nghttp2_data_source*, void* user) {
  Request& r = static_cast<Server*>(user)->requests[id];
  if (r.body.empty() && !r.end) return NGHTTP2_ERR_DEFERRED;
  const std::size_t n = std::min(len, r.body.size());
  std::memcpy(buf, r.body.data(), n);
  r.body.erase(0, n);
  if (r.body.empty() && r.end) *flags |= NGHTTP2_DATA_FLAG_EOF;
  return nghttp2_ssize_compat(n);
}

struct Pair {
  Recorder rec;
  H2Io io;
  std::vector<char> out;
  H2Conn client;
  Server server;
  std::size_t piece = 1 << 30;

  Pair() {
    io.events = &rec;
    io.out = &out;
  }
  // Client -> server, then server -> client in pieces of `piece` bytes, until neither has more.
  void pump() {
    for (int round = 0; round < 10000; ++round) {
      out.clear();
      ASSERT_EQ(client.send(io), 0);
      if (!out.empty()) server.in(out);
      const std::string down = server.out();
      for (std::size_t at = 0; at < down.size(); at += piece)
        ASSERT_EQ(client.receive(io, std::string_view(down).substr(at, piece)), 0);
      out.clear();
      ASSERT_EQ(client.send(io), 0);
      if (out.empty() && down.empty()) return;
      if (!out.empty()) server.in(out);
    }
    FAIL() << "no quiescence";
  }
};

TEST(H2, EventStreamType) {
  EXPECT_TRUE(is_event_stream_type("text/event-stream"));
  EXPECT_TRUE(is_event_stream_type("Text/Event-Stream; charset=utf-8"));
  EXPECT_TRUE(is_event_stream_type(" text/event-stream ;charset=utf-8"));
  EXPECT_FALSE(is_event_stream_type("text/event-streams"));
  EXPECT_FALSE(is_event_stream_type("text/plain"));
  EXPECT_FALSE(is_event_stream_type(""));
}

TEST(H2, SettingsWindowsAndRequests) {
  Pair p;
  ASSERT_TRUE(p.client.start(p.io, H2Settings{}));
  ASSERT_GT(p.client.request(7, "http", "127.0.0.1:8080", "/sse/t0", ""), 0);
  ASSERT_GT(p.client.request(9, "http", "127.0.0.1:8080", "/sse/t1", "1700000000000-4"), 0);
  p.pump();
  // The server's view of our windows: 1 MiB per stream, 1 GiB for the connection.
  EXPECT_EQ(nghttp2_session_get_remote_settings(p.server.ng, NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE), 1u << 20);
  EXPECT_EQ(nghttp2_session_get_remote_settings(p.server.ng, NGHTTP2_SETTINGS_ENABLE_PUSH), 0u);
  EXPECT_EQ(nghttp2_session_get_remote_window_size(p.server.ng), 1 << 30);
  ASSERT_EQ(p.server.order.size(), 2u);
  const auto& a = p.server.requests[p.server.order[0]].headers;
  const auto& b = p.server.requests[p.server.order[1]].headers;
  EXPECT_EQ(a.at(":method"), "GET");
  EXPECT_EQ(a.at(":scheme"), "http");
  EXPECT_EQ(a.at(":authority"), "127.0.0.1:8080");
  EXPECT_EQ(a.at(":path"), "/sse/t0");
  EXPECT_EQ(a.at("accept"), "text/event-stream");
  EXPECT_EQ(a.count("last-event-id"), 0u);
  EXPECT_EQ(b.at(":path"), "/sse/t1");
  EXPECT_EQ(b.at("last-event-id"), "1700000000000-4");
}

// Heads and DATA split at every byte come out whole and in order, per stream.
TEST(H2, HeadsAndDataInEveryPieceSize) {
  for (std::size_t piece : {1u, 2u, 3u, 7u, 64u, 1u << 20}) {
    Pair p;
    p.piece = piece;
    ASSERT_TRUE(p.client.start(p.io, H2Settings{}));
    for (std::uint32_t tag = 0; tag < 3; ++tag) ASSERT_GT(p.client.request(tag, "http", "h", "/sse/t", ""), 0);
    p.pump();
    ASSERT_EQ(p.server.order.size(), 3u);
    p.server.respond(p.server.order[0], "200", "text/event-stream; charset=utf-8", "id: 1-1\ndata: a\n\n", false);
    p.server.respond(p.server.order[1], "404", "text/plain", "no");
    p.server.respond(p.server.order[2], "200", "text/html", "x");
    p.pump();
    auto& r = p.rec.streams;
    EXPECT_EQ(r[0].status, 200);
    EXPECT_TRUE(r[0].event_stream);
    EXPECT_EQ(r[0].heads, 1);
    EXPECT_EQ(r[0].body, "id: 1-1\ndata: a\n\n") << piece;
    EXPECT_EQ(r[0].closes, 0);
    EXPECT_EQ(r[1].status, 404);
    EXPECT_EQ(r[1].closes, 1);
    EXPECT_EQ(r[1].error_code, 0u);
    EXPECT_EQ(r[2].status, 200);
    EXPECT_FALSE(r[2].event_stream);
  }
}

// 4 MiB on one stream, four times its initial window: the client returns the window as it
// consumes, so the transfer never stalls.
TEST(H2, WindowsNeverStallALargeStream) {
  Pair p;
  p.piece = 16384;
  ASSERT_TRUE(p.client.start(p.io, H2Settings{}));
  ASSERT_GT(p.client.request(5, "http", "h", "/sse/t", ""), 0);
  p.pump();
  std::string big(4u << 20, 'x');
  p.server.respond(p.server.order[0], "200", "text/event-stream", big);
  p.pump();
  EXPECT_EQ(p.rec.streams[5].body.size(), big.size());
  EXPECT_EQ(p.rec.streams[5].closes, 1);
  EXPECT_EQ(p.rec.streams[5].error_code, 0u);
}

TEST(H2, ResetsCancelAndGoaway) {
  Pair p;
  ASSERT_TRUE(p.client.start(p.io, H2Settings{}));
  for (std::uint32_t tag = 0; tag < 3; ++tag) ASSERT_GT(p.client.request(tag, "http", "h", "/sse/t", ""), 0);
  p.pump();
  for (std::int32_t id : p.server.order) p.server.respond(id, "200", "text/event-stream", "", false);
  p.pump();
  // The server resets one stream; we cancel another.
  nghttp2_submit_rst_stream(p.server.ng, NGHTTP2_FLAG_NONE, p.server.order[0], NGHTTP2_INTERNAL_ERROR);
  p.client.cancel(p.rec.ids[1]);
  p.pump();
  EXPECT_EQ(p.rec.streams[0].closes, 1);
  EXPECT_EQ(p.rec.streams[0].error_code, std::uint32_t(NGHTTP2_INTERNAL_ERROR));
  EXPECT_EQ(p.rec.streams[1].closes, 1);
  EXPECT_EQ(p.rec.streams[1].error_code, std::uint32_t(NGHTTP2_CANCEL));
  EXPECT_EQ(p.rec.streams[2].closes, 0);
  EXPECT_FALSE(p.client.finished());
  // GOAWAY, then the last stream ends: the session is over.
  nghttp2_submit_goaway(p.server.ng, NGHTTP2_FLAG_NONE, p.server.order[2], NGHTTP2_NO_ERROR, nullptr, 0);
  p.server.requests[p.server.order[2]].end = true;
  nghttp2_session_resume_data(p.server.ng, p.server.order[2]);
  p.pump();
  EXPECT_EQ(p.io.goaways, 1u);
  EXPECT_EQ(p.rec.streams[2].closes, 1);
  EXPECT_TRUE(p.client.finished());
}

// An HTTP/1.1 answer (a server without HTTP/2): nghttp2 either refuses the bytes or queues
// its GOAWAY; either way, once that is sent, the session is over.
TEST(H2, GarbageEndsTheSession) {
  Pair p;
  ASSERT_TRUE(p.client.start(p.io, H2Settings{}));
  ASSERT_GT(p.client.request(1, "http", "h", "/sse/t", ""), 0);
  const int rc = p.client.receive(p.io, std::string_view("HTTP/1.1 400 Bad Request\r\n\r\n"));
  p.out.clear();
  if (rc == 0) {
    EXPECT_EQ(p.client.send(p.io), 0);
  }
  EXPECT_TRUE(rc < 0 || p.client.finished());
  EXPECT_EQ(p.io.goaways, 0u);
}

}  // namespace
}  // namespace ringcast::load
