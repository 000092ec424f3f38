#include "http/h2_session.h"

#include <malloc.h>
#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "base/assert.h"
#include "http/h2_request.h"

namespace ringcast::http {

namespace {

// CONTINUATION frames one header block may span (CVE-2024-27316: empty CONTINUATION frames add
// no bytes, so the byte bound alone does not stop them). A client sends a block of our
// max_header_bytes in one or two frames; 16 leaves room for odd splitting.
constexpr std::uint32_t kContinuationFramesMax = 16;
// Extra response headers one submit_headers() takes (CORS, cache-control, ...).
constexpr std::size_t kExtraHeadersMax = 16;

}  // namespace

Preface detect_preface(std::string_view first_bytes) {
  std::size_t n = std::min(first_bytes.size(), kH2ClientPreface.size());
  if (first_bytes.substr(0, n) != kH2ClientPreface.substr(0, n)) return Preface::http1;
  return n == kH2ClientPreface.size() ? Preface::h2 : Preface::need_more;
}

bool h2_settings_valid(const H2Settings& s) {
  return s.max_concurrent_streams >= 1 && s.max_header_bytes >= 1024 &&
         s.max_header_bytes <= 64 * 1024 &&  // nghttp2's own per-field bound (NGHTTP2_HD_MAX_NV)
         s.reset_streams_max >= 1 && s.reset_window_ms >= 1 && s.max_outbound_acks >= 1 &&
         s.initial_window_bytes <= 0x7fffffffu && s.output.iovecs_max <= 1024 &&
         s.output.iovecs_max >= s.output.slices_per_frame_max + 2 &&
         s.output.buffer_bytes_max >= 9 && s.output.send_bytes_max >= s.output.buffer_bytes_max &&
         s.session_mem_bytes_max >= 64 * 1024 &&
         (s.max_buffered_body_bytes == 0 || s.max_buffered_body_bytes >= s.max_body_bytes);
}

// --- per-stream state -------------------------------------------------------------------------

struct H2Session::Stream {
  std::int32_t id = 0;
  Stream* prev = nullptr;  // the session's list of live streams (freed with the session)
  Stream* next = nullptr;
  std::unique_ptr<H2RequestBuilder> request;  // while the request arrives
  std::unique_ptr<std::string> answer;         // submit_body() bytes not yet sent
  std::uint32_t header_list_bytes = 0;         // RFC 9113 §6.5.2 accounting
  bool dispatched = false;          // on_request was called: the handler knows the stream
  bool answered = false;            // submit_headers() or an error answer was queued
  bool answer_end = false;          // submit_body(end_stream) seen
  bool headers_too_large = false;   // answer 431
  bool bad_request = false;         // answer 400
  bool reset_after_answer = false;  // RST_STREAM(NO_ERROR) once our early answer is out
  bool blocked = false;             // in blocked_: window ran out after our DATA
};

std::size_t H2Session::stream_record_bytes() { return sizeof(Stream); }

// --- nghttp2 memory: counted and bounded per session -----------------------------------------

namespace {

void* mem_malloc(std::size_t size, void* user) {
  auto* m = static_cast<H2Session::Mem*>(user);
  if (m->bytes + size > m->max) return nullptr;  // nghttp2 fails with NOMEM: connection closes
  void* p = std::malloc(size);
  if (p == nullptr) return nullptr;
  m->bytes += malloc_usable_size(p);
  m->peak = std::max(m->peak, m->bytes);
  return p;
}

void mem_free(void* p, void* user) {
  if (p == nullptr) return;
  auto* m = static_cast<H2Session::Mem*>(user);
  std::size_t n = malloc_usable_size(p);
  RC_ASSERT(m->bytes >= n);
  m->bytes -= n;
  std::free(p);
}

void* mem_calloc(std::size_t count, std::size_t size, void* user) {
  if (size != 0 && count > SIZE_MAX / size) return nullptr;
  void* p = mem_malloc(count * size, user);
  if (p != nullptr) std::memset(p, 0, count * size);
  return p;
}

void* mem_realloc(void* p, std::size_t size, void* user) {
  auto* m = static_cast<H2Session::Mem*>(user);
  std::size_t old = p != nullptr ? malloc_usable_size(p) : 0;
  if (m->bytes - old + size > m->max) return nullptr;
  void* q = std::realloc(p, size);
  if (q == nullptr) return nullptr;
  m->bytes = m->bytes - old + malloc_usable_size(q);
  m->peak = std::max(m->peak, m->bytes);
  return q;
}

}  // namespace

// --- nghttp2 callbacks ------------------------------------------------------------------------

struct H2Session::Glue {
  static H2Session& self(void* user) { return *static_cast<H2Session*>(user); }
  static Stream* stream(nghttp2_session* ng, std::int32_t id) {
    return static_cast<Stream*>(nghttp2_session_get_stream_user_data(ng, id));
  }

  // Control frames (and DATA nghttp2 copies itself: submit_body answers, empty END_STREAM).
  static ssize_t send(nghttp2_session*, const std::uint8_t* data, std::size_t len, int,
                      void* user) {
    std::size_t n = self(user).output_.copy(data, len);
    return n == 0 ? ssize_t{NGHTTP2_ERR_WOULDBLOCK} : static_cast<ssize_t>(n);
  }

  // A NO_COPY DATA frame: its header into our buffer, the pulled slices by reference.
  static int send_data(nghttp2_session*, nghttp2_frame* frame, const std::uint8_t* framehd,
                       std::size_t length, nghttp2_data_source*, void* user) {
    H2Session& s = self(user);
    RC_ASSERT(frame->data.padlen == 0);  // we install no padding callback
    if (s.stash_stream_ != frame->hd.stream_id || s.stash_.bytes() != length) {
      return NGHTTP2_ERR_CALLBACK_FAILURE;  // not the frame we prepared: close, never guess
    }
    if (!s.output_.fits_data(s.stash_)) return NGHTTP2_ERR_WOULDBLOCK;  // next build
    s.output_.add_data(frame->hd.stream_id, framehd, s.stash_);
    s.stash_.clear();
    s.stash_stream_ = 0;
    return 0;
  }

  static ssize_t read(nghttp2_session*, std::int32_t id, std::uint8_t* buf, std::size_t length,
                      std::uint32_t* flags, nghttp2_data_source* source, void* user) {
    H2Session& s = self(user);
    auto* st = static_cast<Stream*>(source->ptr);
    RC_ASSERT(st != nullptr && st->id == id);
    if (st->answer) {  // a plain answer: small, copied by nghttp2 into its frame buffer
      std::size_t n = std::min(length, st->answer->size());
      std::memcpy(buf, st->answer->data(), n);
      st->answer->erase(0, n);
      if (st->answer->empty() && st->answer_end) *flags |= NGHTTP2_DATA_FLAG_EOF;
      if (n == 0 && !st->answer_end) return NGHTTP2_ERR_DEFERRED;
      return static_cast<ssize_t>(n);
    }
    s.stash_.clear();
    bool end = false;
    std::size_t n = s.handler_.pull(id, length, s.stash_, end);
    RC_ASSERT(n == s.stash_.bytes() && n <= length);  // the handler's contract
    if (end) *flags |= NGHTTP2_DATA_FLAG_EOF;
    if (n == 0) return end ? ssize_t{0} : ssize_t{NGHTTP2_ERR_DEFERRED};
    *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
    s.stash_stream_ = id;
    return static_cast<ssize_t>(n);
  }

  static int begin_frame(nghttp2_session*, const nghttp2_frame_hd* hd, void* user);
  static int begin_headers(nghttp2_session* ng, const nghttp2_frame* frame, void* user);
  static int header(nghttp2_session* ng, const nghttp2_frame* frame, const std::uint8_t* name,
                    std::size_t namelen, const std::uint8_t* value, std::size_t valuelen,
                    std::uint8_t, void* user);
  static int data_chunk(nghttp2_session* ng, std::uint8_t, std::int32_t id,
                        const std::uint8_t* data, std::size_t len, void* user);
  static int frame_recv(nghttp2_session* ng, const nghttp2_frame* frame, void* user);
  static int frame_send(nghttp2_session* ng, const nghttp2_frame* frame, void* user);
  static int stream_close(nghttp2_session* ng, std::int32_t id, std::uint32_t code, void* user);
};

int H2Session::Glue::begin_frame(nghttp2_session* ng, const nghttp2_frame_hd* hd, void* user) {
  H2Session& s = self(user);
  if (hd->type == NGHTTP2_HEADERS && hd->stream_id <= s.max_client_stream_ &&
      nghttp2_session_find_stream(ng, hd->stream_id) == nullptr) {
    // RFC 9113 §5.1.1: a new stream's id must be above every id the client used. (With no
    // closed-stream memory nghttp2 would ignore it quietly; trailers name a live stream.)
    s.fail(H2Feed::protocol_error, NGHTTP2_PROTOCOL_ERROR);
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  }
  if (hd->type == NGHTTP2_HEADERS) {
    s.header_block_bytes_ = static_cast<std::uint32_t>(hd->length);
    s.header_block_frames_ = 1;
  } else if (hd->type == NGHTTP2_CONTINUATION) {
    s.header_block_bytes_ += static_cast<std::uint32_t>(hd->length);
    ++s.header_block_frames_;
  } else {
    return 0;
  }
  if (s.header_block_bytes_ > s.settings_.max_header_bytes ||
      s.header_block_frames_ > kContinuationFramesMax + 1) {
    s.fail(H2Feed::abusive, NGHTTP2_ENHANCE_YOUR_CALM);
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  }
  return 0;
}

int H2Session::Glue::begin_headers(nghttp2_session* ng, const nghttp2_frame* frame, void* user) {
  H2Session& s = self(user);
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  s.max_client_stream_ = std::max(s.max_client_stream_, frame->hd.stream_id);
  auto* st = new Stream;
  st->id = frame->hd.stream_id;
  st->request = std::make_unique<H2RequestBuilder>();
  st->next = s.first_;
  if (s.first_ != nullptr) s.first_->prev = st;
  s.first_ = st;
  ++s.streams_;
  int rv = nghttp2_session_set_stream_user_data(ng, st->id, st);
  RC_ASSERT(rv == 0);  // nghttp2 opened the stream just before calling us
  return 0;
}

int H2Session::Glue::header(nghttp2_session* ng, const nghttp2_frame* frame,
                            const std::uint8_t* name, std::size_t namelen,
                            const std::uint8_t* value, std::size_t valuelen, std::uint8_t,
                            void* user) {
  H2Session& s = self(user);
  Stream* st = stream(ng, frame->hd.stream_id);
  if (st == nullptr || !st->request) return 0;  // trailers, or a stream we already answered
  std::uint64_t total = std::uint64_t{st->header_list_bytes} + namelen + valuelen + 32;
  st->header_list_bytes = static_cast<std::uint32_t>(std::min<std::uint64_t>(total, UINT32_MAX));
  if (total > s.settings_.max_header_bytes) {
    st->headers_too_large = true;  // keep decoding (HPACK state), store nothing more
    return 0;
  }
  if (!st->request->add_header({reinterpret_cast<const char*>(name), namelen},
                               {reinterpret_cast<const char*>(value), valuelen})) {
    st->bad_request = true;
  }
  return 0;
}

int H2Session::Glue::data_chunk(nghttp2_session* ng, std::uint8_t, std::int32_t id,
                                const std::uint8_t* data, std::size_t len, void* user) {
  H2Session& s = self(user);
  Stream* st = stream(ng, id);
  if (st == nullptr || !st->request) return 0;  // answered early: the rest is discarded
  if (st->request->body_bytes() + len > s.settings_.max_body_bytes) {
    s.answer_error(*st, 413);
    return 0;
  }
  const std::size_t budget = s.settings_.max_buffered_body_bytes != 0
                                 ? s.settings_.max_buffered_body_bytes
                                 : s.settings_.max_body_bytes;
  if (s.body_buffered_ + len > budget) {  // other streams' bodies hold the budget: come back
    s.answer_error(*st, 503);
    return 0;
  }
  s.body_buffered_ += len;
  st->request->add_body({reinterpret_cast<const char*>(data), len});
  return 0;
}

int H2Session::Glue::frame_recv(nghttp2_session* ng, const nghttp2_frame* frame, void* user) {
  H2Session& s = self(user);
  switch (frame->hd.type) {
    case NGHTTP2_HEADERS:
    case NGHTTP2_DATA: {
      Stream* st = stream(ng, frame->hd.stream_id);
      if (st == nullptr || !st->request) break;
      bool end = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
      if (st->headers_too_large) {
        s.answer_error(*st, 431);
      } else if (st->bad_request) {
        s.answer_error(*st, 400);
      } else if (st->request->has_content_length() &&
                 st->request->content_length() > s.settings_.max_body_bytes) {
        s.answer_error(*st, 413);  // said up front: no need to wait for the body
      } else if (end) {
        s.dispatch(*st);
      }
      break;
    }
    case NGHTTP2_RST_STREAM:
      s.note_client_reset();
      break;
    case NGHTTP2_WINDOW_UPDATE:
      s.sweep_blocked();
      break;
    case NGHTTP2_SETTINGS:
      if ((frame->hd.flags & NGHTTP2_FLAG_ACK) == 0) s.sweep_blocked();
      break;
    default:
      break;
  }
  return 0;
}

int H2Session::Glue::frame_send(nghttp2_session* ng, const nghttp2_frame* frame, void* user) {
  H2Session& s = self(user);
  if (frame->hd.type == NGHTTP2_GOAWAY && frame->goaway.error_code != NGHTTP2_NO_ERROR &&
      s.failed_ == H2Feed::ok) {
    // A connection error nghttp2 found and answered itself (mem_recv still consumed the input).
    s.failed_ = frame->goaway.error_code == NGHTTP2_ENHANCE_YOUR_CALM ? H2Feed::abusive
                                                                       : H2Feed::protocol_error;
  }
  Stream* st = stream(ng, frame->hd.stream_id);
  if (st == nullptr) return 0;
  if (frame->hd.type == NGHTTP2_HEADERS && st->reset_after_answer &&
      (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0) {
    // RFC 9113 §8.1: a complete response sent early; ask the client to stop sending the body.
    nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_NO_ERROR);
  } else if (frame->hd.type == NGHTTP2_DATA && !st->blocked && s.stream_blocked(st->id)) {
    st->blocked = true;
    s.blocked_.push_back(st->id);
  }
  return 0;
}

int H2Session::Glue::stream_close(nghttp2_session*, std::int32_t id, std::uint32_t code,
                                  void* user) {
  H2Session& s = self(user);
  Stream* st = stream(s.ng_, id);
  if (st == nullptr) return 0;
  if (st->blocked) std::erase(s.blocked_, id);
  if (st->dispatched) s.handler_.on_stream_close(id, code);
  s.unlink(st);
  return 0;
}

// --- session ----------------------------------------------------------------------------------

H2Session::H2Session(const H2Settings& settings, H2Handler& handler)
    : settings_(settings), handler_(handler), output_(settings.output) {
  RC_ASSERT(h2_settings_valid(settings));
  mem_.max = settings.session_mem_bytes_max;
  stash_.set_capacity(settings.output.slices_per_frame_max);
  install();
}

H2Session::~H2Session() {
  nghttp2_session_del(ng_);  // calls no stream-close callbacks: free what is left ourselves
  while (first_ != nullptr) unlink(first_);
}

void H2Session::drop_request(Stream& st) {
  if (!st.request) return;
  RC_ASSERT(body_buffered_ >= st.request->body_bytes());
  body_buffered_ -= st.request->body_bytes();
  st.request.reset();
}

void H2Session::unlink(Stream* st) {
  RC_ASSERT(streams_ > 0);
  drop_request(*st);
  if (st->prev != nullptr) st->prev->next = st->next;
  else first_ = st->next;
  if (st->next != nullptr) st->next->prev = st->prev;
  --streams_;
  delete st;
}

void H2Session::install() {
  nghttp2_session_callbacks* cb = nullptr;
  RC_ASSERT(nghttp2_session_callbacks_new(&cb) == 0);
  nghttp2_session_callbacks_set_send_callback(cb, Glue::send);
  nghttp2_session_callbacks_set_send_data_callback(cb, Glue::send_data);
  nghttp2_session_callbacks_set_on_begin_frame_callback(cb, Glue::begin_frame);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cb, Glue::begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cb, Glue::header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, Glue::data_chunk);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, Glue::frame_recv);
  nghttp2_session_callbacks_set_on_frame_send_callback(cb, Glue::frame_send);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, Glue::stream_close);

  nghttp2_option* opt = nullptr;
  RC_ASSERT(nghttp2_option_new(&opt) == 0);
  nghttp2_option_set_max_outbound_ack(opt, settings_.max_outbound_acks);
  nghttp2_option_set_no_closed_streams(opt, 1);  // no priority tree: closed streams freed at once
  nghttp2_option_set_max_deflate_dynamic_table_size(opt, settings_.hpack_encoder_table_bytes);
  // Rapid Reset: nghttp2's own bucket (Debian's backport: burst 1000, 33/s, wall clock) stays
  // at its default as a backstop far behind ours (note_client_reset), which answers
  // ENHANCE_YOUR_CALM on the shard's clock and reports the connection.
#ifdef RINGCAST_NGHTTP2_MAX_CONTINUATIONS
  nghttp2_option_set_max_continuations(opt, kContinuationFramesMax);
#endif
  nghttp2_mem mem{&mem_, mem_malloc, mem_free, mem_calloc, mem_realloc};  // copied by nghttp2
  int rv = nghttp2_session_server_new3(&ng_, cb, this, opt, &mem);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cb);
  RC_ASSERT(rv == 0);  // only NOMEM: the bound is far above an empty session (checked valid)

  const nghttp2_settings_entry entries[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, settings_.max_concurrent_streams},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, settings_.max_header_bytes},
      {NGHTTP2_SETTINGS_HEADER_TABLE_SIZE, settings_.hpack_decoder_table_bytes},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, settings_.initial_window_bytes},
      {NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, 1},
  };
  rv = nghttp2_submit_settings(ng_, NGHTTP2_FLAG_NONE, entries, std::size(entries));
  RC_ASSERT(rv == 0);
}

void H2Session::fail(H2Feed kind, std::uint32_t error_code) {
  RC_ASSERT(kind != H2Feed::ok);
  if (failed_ != H2Feed::ok) return;
  failed_ = kind;
  nghttp2_session_terminate_session(ng_, error_code);  // queues GOAWAY; input is ignored after
}

H2Feed H2Session::feed(std::string_view bytes, std::uint64_t now_ms) {
  if (failed_ != H2Feed::ok) return failed_;
  now_ms_ = now_ms;
  ssize_t rv = nghttp2_session_mem_recv(ng_, reinterpret_cast<const std::uint8_t*>(bytes.data()),
                                        bytes.size());
  if (rv < 0) {
    switch (rv) {
      case NGHTTP2_ERR_FLOODED:  // too many ACKs queued, or nghttp2's own Rapid Reset bound
      case NGHTTP2_ERR_NOMEM:    // session_mem_bytes_max reached
        fail(H2Feed::abusive, NGHTTP2_ENHANCE_YOUR_CALM);
        break;
      case NGHTTP2_ERR_CALLBACK_FAILURE:  // we failed it (fail() already ran) ...
      default:                            // ... or a bad preface, a framing error
        fail(H2Feed::protocol_error, NGHTTP2_PROTOCOL_ERROR);
        break;
    }
  } else {
    RC_ASSERT(static_cast<std::size_t>(rv) == bytes.size());  // mem_recv consumes everything
  }
  return failed_;
}

void H2Session::note_client_reset() {
  if (now_ms_ - reset_window_start_ms_ >= settings_.reset_window_ms) {
    reset_window_start_ms_ = now_ms_;
    resets_in_window_ = 0;
  }
  if (++resets_in_window_ > settings_.reset_streams_max) {
    fail(H2Feed::abusive, NGHTTP2_ENHANCE_YOUR_CALM);
  }
}

void H2Session::sweep_blocked() {
  // O(blocked streams) per WINDOW_UPDATE; only streams whose window ran out are listed.
  for (std::size_t i = 0; i < blocked_.size();) {
    std::int32_t id = blocked_[i];
    if (stream_blocked(id)) {
      ++i;
      continue;
    }
    blocked_[i] = blocked_.back();
    blocked_.pop_back();
    Stream* st = Glue::stream(ng_, id);
    RC_ASSERT(st != nullptr && st->blocked);
    st->blocked = false;
    if (st->dispatched) handler_.on_window_open(id);
  }
}

void H2Session::dispatch(Stream& st) {
  RC_ASSERT(st.request && !st.dispatched);
  std::unique_ptr<H2RequestBuilder> req = std::move(st.request);  // freed after the call
  RC_ASSERT(body_buffered_ >= req->body_bytes());
  body_buffered_ -= req->body_bytes();
  H2Request r{req->request(), req->body()};
  if (r.head.method.empty() || r.head.target.empty()) return answer_error(st, 400);  // CONNECT
  st.dispatched = true;
  handler_.on_request(st.id, r);
}

void H2Session::answer_error(Stream& st, int status) {
  RC_ASSERT(!st.answered);
  drop_request(st);
  st.answered = true;
  st.reset_after_answer = nghttp2_session_get_stream_remote_close(ng_, st.id) == 0;
  char code[4];
  std::snprintf(code, sizeof code, "%03d", status);
  nghttp2_nv nv[] = {
      {(std::uint8_t*)":status", (std::uint8_t*)code, 7, 3, NGHTTP2_NV_FLAG_NONE},
      {(std::uint8_t*)"content-length", (std::uint8_t*)"0", 14, 1, NGHTTP2_NV_FLAG_NONE},
  };
  nghttp2_submit_response(ng_, st.id, nv, std::size(nv), nullptr);
}

bool H2Session::submit_headers(std::int32_t id, int status, std::string_view content_type,
                               std::span<const H2Header> extra, bool end_stream) {
  RC_ASSERT(status >= 100 && status <= 999 && extra.size() <= kExtraHeadersMax);
  Stream* st = Glue::stream(ng_, id);
  if (st == nullptr || st->answered) return false;  // closed meanwhile (peer reset): normal
  st->answered = true;
  char code[4];
  std::snprintf(code, sizeof code, "%03d", status);
  nghttp2_nv nv[2 + kExtraHeadersMax];
  std::size_t n = 0;
  auto add = [&](std::string_view name, std::string_view value) {
    nv[n++] = {(std::uint8_t*)name.data(), (std::uint8_t*)value.data(), name.size(), value.size(),
               NGHTTP2_NV_FLAG_NONE};  // nghttp2 copies names and values
  };
  add(":status", {code, 3});
  if (!content_type.empty()) add("content-type", content_type);
  for (const H2Header& h : extra) add(h.name, h.value);
  nghttp2_data_provider body{};
  body.source.ptr = st;
  body.read_callback = Glue::read;
  return nghttp2_submit_response(ng_, id, nv, n, end_stream ? nullptr : &body) == 0;
}

bool H2Session::submit_body(std::int32_t id, std::string_view bytes, bool end_stream) {
  Stream* st = Glue::stream(ng_, id);
  if (st == nullptr || st->answer_end) return false;
  if (!st->answer) st->answer = std::make_unique<std::string>();
  st->answer->append(bytes);
  st->answer_end = end_stream;
  nghttp2_session_resume_data(ng_, id);  // not deferred yet: nghttp2 reads it anyway
  return true;
}

bool H2Session::resume(std::int32_t id) {
  if (Glue::stream(ng_, id) == nullptr) return false;
  nghttp2_session_resume_data(ng_, id);
  return true;
}

bool H2Session::reset(std::int32_t id, std::uint32_t error_code) {
  return nghttp2_submit_rst_stream(ng_, NGHTTP2_FLAG_NONE, id, error_code) == 0;
}

bool H2Session::goaway(std::int32_t last_stream_id, std::uint32_t error_code) {
  if (last_stream_id < 0) last_stream_id = nghttp2_session_get_last_proc_stream_id(ng_);
  return nghttp2_submit_goaway(ng_, NGHTTP2_FLAG_NONE, last_stream_id, error_code, nullptr, 0) == 0;
}

std::size_t H2Session::build_output(std::vector<iovec>& out) {
  RC_ASSERT(!in_flight_);
  int rv = nghttp2_session_send(ng_);
  // Fatal only: NOMEM (our bound) or a callback failure; GOAWAY may not get out: close.
  if (rv != 0 && failed_ == H2Feed::ok) failed_ = H2Feed::abusive;
  std::size_t bytes = output_.gather(out);
  in_flight_ = bytes > 0;
  return bytes;
}

void H2Session::output_sent(std::size_t bytes) {
  RC_ASSERT(in_flight_);
  RC_ASSERT(bytes <= output_.pending_bytes());
  in_flight_ = false;
  output_.consume(bytes, [this](std::int32_t id, std::size_t n) { handler_.on_data_sent(id, n); });
}

bool H2Session::stream_blocked(std::int32_t id) const {
  std::int32_t stream_window = nghttp2_session_get_stream_remote_window_size(ng_, id);
  if (stream_window < 0) return false;  // no such stream
  return stream_window == 0 || nghttp2_session_get_remote_window_size(ng_) <= 0;
}

bool H2Session::finished() const {
  return output_.empty() && nghttp2_session_want_read(ng_) == 0 &&
         nghttp2_session_want_write(ng_) == 0;
}

}  // namespace ringcast::http
