// --h2: the nghttp2 client session behind one connection (see h2_conn.h).
#include "tools/load/h2_conn.h"

#include <nghttp2/nghttp2.h>

#include <cstring>
#include <new>

namespace ringcast::load {

struct H2Conn::Session {
  nghttp2_session* ng = nullptr;
  H2Io* io = nullptr;        // set for the length of each call into nghttp2
  int status = 0;            // the header block being read: its :status (0: none yet)
  bool event_stream = false; // ... and whether its content-type is text/event-stream
};

namespace {

// A stream's tag rides in nghttp2's stream user data as tag + 1 (null: not ours).
void* tag_data(std::uint32_t tag) { return reinterpret_cast<void*>(std::uintptr_t(tag) + 1); }

bool tag_of(nghttp2_session* ng, std::int32_t stream_id, std::uint32_t& tag) {
  const auto v = reinterpret_cast<std::uintptr_t>(nghttp2_session_get_stream_user_data(ng, stream_id));
  if (v == 0) return false;
  tag = std::uint32_t(v - 1);
  return true;
}

bool equal_nocase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char c = a[i];
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
    if (c != b[i]) return false;
  }
  return true;
}

int on_begin_headers(nghttp2_session*, const nghttp2_frame*, void* user) {
  auto* s = static_cast<H2Conn::Session*>(user);
  s->status = 0;
  s->event_stream = false;
  return 0;
}

int on_header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name, std::size_t namelen,
              const std::uint8_t* value, std::size_t valuelen, std::uint8_t, void* user) {
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  auto* s = static_cast<H2Conn::Session*>(user);
  const std::string_view n(reinterpret_cast<const char*>(name), namelen);
  const std::string_view v(reinterpret_cast<const char*>(value), valuelen);
  if (n == ":status") {
    // nghttp2 has checked it is three digits.
    int status = 0;
    for (char c : v) status = status * 10 + (c - '0');
    s->status = status;
  } else if (n == "content-type") {
    s->event_stream = is_event_stream_type(v);
  }
  return 0;
}

int on_frame_recv(nghttp2_session* ng, const nghttp2_frame* frame, void* user) {
  auto* s = static_cast<H2Conn::Session*>(user);
  if (frame->hd.type == NGHTTP2_GOAWAY) {
    ++s->io->goaways;
    return 0;
  }
  // A response head (or trailers, which have no :status, or a 1xx, which is not final).
  if (frame->hd.type != NGHTTP2_HEADERS || s->status < 200) return 0;
  std::uint32_t tag;
  if (tag_of(ng, frame->hd.stream_id, tag)) s->io->events->h2_head(tag, frame->hd.stream_id, s->status, s->event_stream);
  s->status = 0;
  return 0;
}

int on_data_chunk(nghttp2_session* ng, std::uint8_t, std::int32_t stream_id, const std::uint8_t* data,
                  std::size_t len, void* user) {
  auto* s = static_cast<H2Conn::Session*>(user);
  std::uint32_t tag;
  if (tag_of(ng, stream_id, tag))
    s->io->events->h2_data(tag, std::string_view(reinterpret_cast<const char*>(data), len));
  return 0;
}

int on_stream_close(nghttp2_session* ng, std::int32_t stream_id, std::uint32_t error_code, void* user) {
  auto* s = static_cast<H2Conn::Session*>(user);
  std::uint32_t tag;
  if (tag_of(ng, stream_id, tag)) {
    nghttp2_session_set_stream_user_data(ng, stream_id, nullptr);
    s->io->events->h2_closed(tag, error_code);
  }
  return 0;
}

// Built once: every session shares them (nghttp2 copies what it needs at session_client_new).
struct Shared {
  nghttp2_session_callbacks* callbacks = nullptr;
  nghttp2_option* option = nullptr;
  Shared() {
    if (nghttp2_session_callbacks_new(&callbacks) != 0) return;
    nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(callbacks, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, on_stream_close);
    if (nghttp2_option_new(&option) != 0) return;
    // A client keeps no record of closed streams (only a server's priority tree uses them).
    nghttp2_option_set_no_closed_streams(option, 1);
  }
  ~Shared() {
    nghttp2_session_callbacks_del(callbacks);
    nghttp2_option_del(option);
  }
};

const Shared& shared() {
  static const Shared s;
  return s;
}

nghttp2_nv nv(std::string_view name, std::string_view value) {
  return {reinterpret_cast<std::uint8_t*>(const_cast<char*>(name.data())),
          reinterpret_cast<std::uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
          NGHTTP2_NV_FLAG_NONE};
}

}  // namespace

bool is_event_stream_type(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  constexpr std::string_view kType = "text/event-stream";
  if (v.size() < kType.size() || !equal_nocase(v.substr(0, kType.size()), kType)) return false;
  v.remove_prefix(kType.size());
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  return v.empty() || v.front() == ';';
}

H2Conn& H2Conn::operator=(H2Conn&& o) noexcept {
  if (this != &o) {
    reset();
    s_ = o.s_;
    o.s_ = nullptr;
  }
  return *this;
}

bool H2Conn::start(H2Io& io, const H2Settings& settings) {
  reset();
  const Shared& sh = shared();
  if (sh.callbacks == nullptr || sh.option == nullptr) return false;
  auto* s = new (std::nothrow) Session;
  if (s == nullptr) return false;
  s->io = &io;
  if (nghttp2_session_client_new2(&s->ng, sh.callbacks, s, sh.option) != 0) {
    delete s;
    return false;
  }
  s_ = s;
  const nghttp2_settings_entry entries[] = {
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, settings.stream_window},
  };
  if (nghttp2_submit_settings(s->ng, NGHTTP2_FLAG_NONE, entries, sizeof entries / sizeof entries[0]) != 0 ||
      nghttp2_session_set_local_window_size(s->ng, NGHTTP2_FLAG_NONE, 0,
                                            std::int32_t(settings.connection_window)) != 0) {
    reset();
    return false;
  }
  return true;
}

std::int32_t H2Conn::request(std::uint32_t tag, std::string_view scheme, std::string_view authority,
                             std::string_view path, std::string_view last_event_id) {
  if (s_ == nullptr) return NGHTTP2_ERR_INVALID_STATE;
  nghttp2_nv headers[6] = {
      nv(":method", "GET"), nv(":scheme", scheme), nv(":authority", authority), nv(":path", path),
      nv("accept", "text/event-stream"), nv("last-event-id", last_event_id),
  };
  const std::size_t n = last_event_id.empty() ? 5 : 6;
  // nghttp2 copies the names and values.
  return nghttp2_submit_request(s_->ng, nullptr, headers, n, nullptr, tag_data(tag));
}

void H2Conn::cancel(std::int32_t stream_id) {
  if (s_ != nullptr) nghttp2_submit_rst_stream(s_->ng, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_CANCEL);
}

int H2Conn::receive(H2Io& io, std::string_view bytes) {
  if (s_ == nullptr) return NGHTTP2_ERR_INVALID_STATE;
  s_->io = &io;
  const auto n = nghttp2_session_mem_recv(s_->ng, reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  if (n < 0) return int(n);
  // We never pause, so nghttp2 takes every byte.
  return std::size_t(n) == bytes.size() ? 0 : NGHTTP2_ERR_PROTO;
}

int H2Conn::send(H2Io& io) {
  if (s_ == nullptr) return NGHTTP2_ERR_INVALID_STATE;
  s_->io = &io;
  for (;;) {
    const std::uint8_t* data = nullptr;
    const auto n = nghttp2_session_mem_send(s_->ng, &data);
    if (n < 0) return int(n);
    if (n == 0) return 0;
    io.out->insert(io.out->end(), reinterpret_cast<const char*>(data), reinterpret_cast<const char*>(data) + n);
  }
}

bool H2Conn::finished() const {
  return s_ == nullptr || (nghttp2_session_want_read(s_->ng) == 0 && nghttp2_session_want_write(s_->ng) == 0);
}

void H2Conn::reset() {
  if (s_ == nullptr) return;
  nghttp2_session_del(s_->ng);
  delete s_;
  s_ = nullptr;
}

}  // namespace ringcast::load
