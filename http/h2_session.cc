// The HTTP/2 session's streams and output: stream records, the answers the handler submits,
// flow control on what we send, and the one gathered output per send. The input side (frames
// from the peer) is in h2_session_recv.cc.
#include "http/h2_session.h"

#include <malloc.h>
#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "base/assert.h"
#include "http/h2_frame.h"
#include "http/h2_request.h"
#include "http/h2_session_stream.h"
#include "http/hpack_encode.h"

namespace ringcast::http {

namespace {

// Extra response headers one submit_headers() takes (CORS, cache-control, ...).
constexpr std::size_t kExtraHeadersMax = 16;
// Control frames the peer made us queue (ACKs, RST_STREAM answers, WINDOW_UPDATEs) while our
// output is not drained. A peer that reads stays far below; one that floods and never reads
// reaches it and is answered GOAWAY(ENHANCE_YOUR_CALM).
constexpr std::size_t kControlPeerBytesMax = 16 * 1024;

}  // namespace

Preface detect_preface(std::string_view first_bytes) {
  std::size_t n = std::min(first_bytes.size(), kH2ClientPreface.size());
  if (first_bytes.substr(0, n) != kH2ClientPreface.substr(0, n)) return Preface::http1;
  return n == kH2ClientPreface.size() ? Preface::h2 : Preface::need_more;
}

bool h2_settings_valid(const H2Settings& s) {
  return s.max_concurrent_streams >= 1 && s.max_header_bytes >= 1024 &&
         s.max_header_bytes <= 64 * 1024 &&  // the HPACK decoder's own per-field bound
         s.reset_streams_max >= 1 && s.reset_window_ms >= 1 && s.max_outbound_acks >= 1 &&
         s.initial_window_bytes <= 0x7fffffffu && s.output.iovecs_max <= 1024 &&
         s.output.iovecs_max >= s.output.slices_per_frame_max + 2 &&
         s.output.buffer_bytes_max >= 64 && s.output.send_bytes_max >= s.output.buffer_bytes_max &&
         s.session_mem_bytes_max >= 64 * 1024 && s.hpack_decoder_table_bytes <= 64 * 1024 &&
         (s.max_buffered_body_bytes == 0 || s.max_buffered_body_bytes >= s.max_body_bytes);
}

// --- per-stream state -------------------------------------------------------------------------

std::size_t H2Session::stream_record_bytes() { return sizeof(Stream); }

// --- the HPACK decoder's memory: counted and bounded per session ------------------------------

namespace {

void* mem_malloc(std::size_t size, void* user) {
  auto* m = static_cast<H2Session::Mem*>(user);
  if (m->bytes + size > m->max) return nullptr;  // the decoder fails with NOMEM: connection closes
  void* p = std::malloc(size);
  if (p == nullptr) return nullptr;
  m->bytes += malloc_usable_size(p);
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
  return q;
}

void append_setting(std::string& out, std::uint16_t id, std::uint32_t value) {
  out += static_cast<char>(id >> 8);
  out += static_cast<char>(id);
  h2::append_u32(out, value);
}

}  // namespace

// --- session ----------------------------------------------------------------------------------

H2Session::H2Session(const H2Settings& settings, H2Handler& handler)
    : settings_(settings), handler_(handler), output_(settings.output) {
  RC_ASSERT(h2_settings_valid(settings));
  mem_.max = settings.session_mem_bytes_max;
  auto* mem = new nghttp2_mem{&mem_, mem_malloc, mem_free, mem_calloc, mem_realloc};
  decoder_mem_ = mem;  // the decoder keeps the pointer, not a copy
  int rv = nghttp2_hd_inflate_new2(&inflater_, mem);
  RC_ASSERT(rv == 0);  // only NOMEM: the bound is far above an empty decoder (checked valid)
  if (settings_.hpack_decoder_table_bytes > 4096) {
    // A larger table may be used at once (the peer cannot know of it before our SETTINGS); a
    // smaller one only once the peer has acknowledged it (on_settings).
    rv = nghttp2_hd_inflate_change_table_size(inflater_, settings_.hpack_decoder_table_bytes);
    RC_ASSERT(rv == 0);
  }
  std::string entries;  // the server preface: our SETTINGS
  append_setting(entries, h2::kMaxConcurrentStreams, settings_.max_concurrent_streams);
  append_setting(entries, h2::kMaxHeaderListSize, settings_.max_header_bytes);
  if (settings_.hpack_decoder_table_bytes != 4096)
    append_setting(entries, h2::kHeaderTableSize, settings_.hpack_decoder_table_bytes);
  append_setting(entries, h2::kInitialWindowSize, settings_.initial_window_bytes);
  append_setting(entries, h2::kNoRfc7540Priorities, 1);
  queue_frame(h2::kSettings, 0, 0, entries.data(), entries.size());
}

H2Session::~H2Session() {
  for (Stream* st : streams_by_id_) {
    st->request.reset();
    delete st;
  }
  nghttp2_hd_inflate_del(inflater_);
  delete static_cast<nghttp2_mem*>(decoder_mem_);
}

std::size_t H2Session::mem_bytes() const {
  return mem_.bytes + streams_ * sizeof(Stream) + streams_by_id_.capacity() * sizeof(Stream*) +
         blocked_.capacity() * sizeof(std::int32_t) + in_.capacity() + block_.capacity() +
         control_.capacity();
}

void H2Session::note_peak() { peak_ = std::max(peak_, mem_bytes()); }

H2Session::Stream* H2Session::find(std::int32_t id) const {
  auto it = std::lower_bound(streams_by_id_.begin(), streams_by_id_.end(), id,
                             [](const Stream* s, std::int32_t v) { return s->id < v; });
  return it != streams_by_id_.end() && (*it)->id == id ? *it : nullptr;
}

H2Session::Stream* H2Session::open_stream(std::int32_t id) {
  RC_ASSERT(streams_by_id_.empty() || streams_by_id_.back()->id < id);  // ids only grow
  auto* st = new Stream;
  st->id = id;
  st->send_window = peer_initial_window_;
  st->request = std::make_unique<H2RequestBuilder>();
  streams_by_id_.push_back(st);
  ++streams_;
  return st;
}

void H2Session::drop_request(Stream& st) {
  if (!st.request) return;
  RC_ASSERT(body_buffered_ >= st.request->body_bytes());
  body_buffered_ -= st.request->body_bytes();
  st.request.reset();
}

// Frees the stream. A stream the handler knows is reported: now (inside feed or build, where
// the handler expects it), or at the next build when the handler's own call closed it.
void H2Session::close_stream(Stream* st, std::uint32_t code, bool tell_now) {
  RC_ASSERT(streams_ > 0);
  unready(*st);
  if (st->blocked) std::erase(blocked_, st->id);
  drop_request(*st);
  auto it = std::lower_bound(streams_by_id_.begin(), streams_by_id_.end(), st->id,
                             [](const Stream* s, std::int32_t v) { return s->id < v; });
  RC_ASSERT(it != streams_by_id_.end() && *it == st);
  streams_by_id_.erase(it);
  --streams_;
  const std::int32_t id = st->id;
  const bool dispatched = st->dispatched;
  delete st;
  if (!dispatched) return;
  if (tell_now) handler_.on_stream_close(id, code);
  else closed_.push_back({id, code});
}

void H2Session::push_ready(Stream& st) {
  if (st.in_ready || st.blocked || st.local_closed) return;
  st.in_ready = true;
  st.ready_prev = ready_tail_;
  st.ready_next = nullptr;
  if (ready_tail_ != nullptr) ready_tail_->ready_next = &st;
  else ready_head_ = &st;
  ready_tail_ = &st;
}

void H2Session::unready(Stream& st) {
  if (!st.in_ready) return;
  if (st.ready_prev != nullptr) st.ready_prev->ready_next = st.ready_next;
  else ready_head_ = st.ready_next;
  if (st.ready_next != nullptr) st.ready_next->ready_prev = st.ready_prev;
  else ready_tail_ = st.ready_prev;
  st.ready_prev = st.ready_next = nullptr;
  st.in_ready = false;
}

bool H2Session::stream_blocked(std::int32_t id) const {
  const Stream* st = find(id);
  if (st == nullptr) return false;
  return st->send_window <= 0 || conn_send_window_ <= 0;
}

void H2Session::sweep_blocked() {
  // O(blocked streams) per window change; only streams that found no window are listed.
  for (std::size_t i = 0; i < blocked_.size();) {
    const std::int32_t id = blocked_[i];
    if (stream_blocked(id)) {
      ++i;
      continue;
    }
    blocked_[i] = blocked_.back();
    blocked_.pop_back();
    Stream* st = find(id);
    RC_ASSERT(st != nullptr && st->blocked);
    st->blocked = false;
    push_ready(*st);
    if (st->dispatched) handler_.on_window_open(id);
  }
}

// --- frames we queue --------------------------------------------------------------------------

void H2Session::queue_frame(std::uint8_t type, std::uint8_t flags, std::int32_t stream,
                            const void* payload, std::size_t length) {
  h2::append_frame(control_, type, flags, stream, payload, length);
}

// A frame the peer's own frames make us send. False: the peer floods while not reading; the
// session failed (GOAWAY queued) and the frame was not queued.
bool H2Session::queue_peer_frame(std::uint8_t type, std::uint8_t flags, std::int32_t stream,
                                 const void* payload, std::size_t length, bool ack) {
  if (failed_ != H2Feed::ok) return false;
  control_peer_bytes_ += h2::kFrameHeaderBytes + length;
  if (ack) ++acks_queued_;
  if (acks_queued_ > settings_.max_outbound_acks || control_peer_bytes_ > kControlPeerBytesMax) {
    fail(H2Feed::abusive, h2::kEnhanceYourCalm);
    return false;
  }
  queue_frame(type, flags, stream, payload, length);
  return true;
}

void H2Session::queue_window_update(std::int32_t stream, std::uint32_t increment) {
  RC_ASSERT(increment > 0 && increment <= 0x7fffffffu);
  std::string p;
  h2::append_u32(p, increment);
  queue_peer_frame(h2::kWindowUpdate, 0, stream, p.data(), p.size(), false);
}

// HEADERS, and CONTINUATIONs if the block is larger than a frame.
void H2Session::queue_headers(std::int32_t stream, const std::string& block, bool end_stream) {
  std::size_t at = 0;
  bool first = true;
  do {
    const std::size_t n = std::min<std::size_t>(block.size() - at, h2::kMaxFramePayload);
    const bool last = at + n == block.size();
    std::uint8_t flags = last ? h2::kEndHeaders : 0;
    if (first && end_stream) flags |= h2::kEndStream;
    queue_frame(first ? h2::kHeaders : h2::kContinuation, flags, stream, block.data() + at, n);
    at += n;
    first = false;
  } while (at < block.size());
}

void H2Session::fail(H2Feed kind, std::uint32_t error_code) {
  RC_ASSERT(kind != H2Feed::ok);
  if (failed_ != H2Feed::ok) return;
  failed_ = kind;
  std::string p;
  h2::append_u32(p, static_cast<std::uint32_t>(max_client_stream_));
  h2::append_u32(p, error_code);
  queue_frame(h2::kGoaway, 0, 0, p.data(), p.size());  // input is ignored after this
}

// A stream error (RFC 9113 §5.4.2): RST_STREAM, and the stream is gone.
void H2Session::stream_error(Stream* st, std::int32_t id, std::uint32_t code) {
  std::string p;
  h2::append_u32(p, code);
  queue_peer_frame(h2::kRstStream, 0, id, p.data(), p.size(), false);
  if (st != nullptr) close_stream(st, code, true);
}

// An answer the session gives itself (400, 413, 431, 503) before the handler saw the request.
void H2Session::answer_error(Stream& st, int status) {
  RC_ASSERT(!st.answered && !st.dispatched);
  drop_request(st);
  st.answered = true;
  std::string block;
  hpack::append_status(block, status);
  hpack::append_field(block, "content-length", "0");
  control_peer_bytes_ += h2::kFrameHeaderBytes + block.size();
  queue_headers(st.id, block, true);
  // RFC 9113 §8.1: a complete response sent early; ask the client to stop sending the body.
  if (!st.remote_closed) {
    std::string p;
    h2::append_u32(p, h2::kNoError);
    queue_peer_frame(h2::kRstStream, 0, st.id, p.data(), p.size(), false);
  }
  close_stream(&st, h2::kNoError, true);
}

// --- the handler's calls ----------------------------------------------------------------------

bool H2Session::submit_headers(std::int32_t id, int status, std::string_view content_type,
                               std::span<const H2Header> extra, bool end_stream) {
  RC_ASSERT(status >= 100 && status <= 999 && extra.size() <= kExtraHeadersMax);
  Stream* st = find(id);
  if (st == nullptr || st->answered) return false;  // closed meanwhile (peer reset): normal
  st->answered = true;
  std::string block;
  hpack::append_status(block, status);
  if (!content_type.empty()) hpack::append_field(block, "content-type", content_type);
  for (const H2Header& h : extra) hpack::append_field(block, h.name, h.value);
  queue_headers(id, block, end_stream);
  if (end_stream) {
    st->local_closed = true;
    unready(*st);
    if (st->remote_closed) close_stream(st, h2::kNoError, false);
  } else {
    st->has_body = true;
    push_ready(*st);  // the answer's bytes, or the handler's pull()
  }
  return true;
}

bool H2Session::submit_body(std::int32_t id, std::string_view bytes, bool end_stream) {
  Stream* st = find(id);
  if (st == nullptr || st->answer_end || st->local_closed) return false;
  if (!st->answer) st->answer = std::make_unique<std::string>();
  st->answer->append(bytes);
  st->answer_end = end_stream;
  if (st->has_body) push_ready(*st);
  return true;
}

bool H2Session::resume(std::int32_t id) {
  Stream* st = find(id);
  if (st == nullptr) return false;
  if (st->has_body) push_ready(*st);
  return true;
}

bool H2Session::reset(std::int32_t id, std::uint32_t error_code) {
  Stream* st = find(id);
  if (st == nullptr) return false;
  std::string p;
  h2::append_u32(p, error_code);
  queue_frame(h2::kRstStream, 0, id, p.data(), p.size());
  close_stream(st, error_code, false);
  return true;
}

bool H2Session::goaway(std::int32_t last_stream_id, std::uint32_t error_code) {
  if (last_stream_id < 0) last_stream_id = max_client_stream_;
  std::string p;
  h2::append_u32(p, static_cast<std::uint32_t>(last_stream_id));
  h2::append_u32(p, error_code);
  queue_frame(h2::kGoaway, 0, 0, p.data(), p.size());
  return true;
}

// --- output -----------------------------------------------------------------------------------

void H2Session::flush_control() {
  std::size_t at = 0;
  while (at < control_.size()) {
    const std::size_t n = output_.copy(reinterpret_cast<const std::uint8_t*>(control_.data()) + at,
                                       control_.size() - at);
    if (n == 0) break;
    at += n;
  }
  if (at == control_.size()) {
    std::string().swap(control_);  // an idle connection holds no frame buffer
    control_peer_bytes_ = 0;
    acks_queued_ = 0;
  } else {
    control_.erase(0, at);
  }
}

// One DATA frame of the stream at the head of the ready list. False: the output is full.
bool H2Session::send_one(Stream& st) {
  std::size_t room = 0;
  std::size_t room_slices = 0;
  if (!output_.data_room(room, room_slices)) return false;
  unready(st);
  const std::int32_t window = std::min(st.send_window, conn_send_window_);
  if (window <= 0) {  // the peer reads slowly: wait for its WINDOW_UPDATE (sweep_blocked)
    st.blocked = true;
    blocked_.push_back(st.id);
    return true;
  }
  const std::size_t max = std::min({static_cast<std::size_t>(window),
                                    static_cast<std::size_t>(h2::kMaxFramePayload), room});
  slices_.clear();
  bool end = false;
  std::size_t n = 0;
  if (st.answer) {  // a plain answer (small): copied into the output
    const std::size_t own = output_.copy_room();
    n = own > h2::kFrameHeaderBytes ? std::min({max, st.answer->size(), own - h2::kFrameHeaderBytes})
                                    : 0;
    end = st.answer_end && n == st.answer->size();
    if (n == 0 && !end) {
      if (st.answer->empty()) return true;  // the rest comes with submit_body()
      push_ready(st);
      return false;  // no room now: the next build
    }
  } else {
    slices_.set_capacity(std::min<std::size_t>(settings_.output.slices_per_frame_max, room_slices));
    n = handler_.pull(st.id, max, slices_, end);
    RC_ASSERT(n == slices_.bytes() && n <= max);  // the handler's contract
    if (n == 0 && !end) return true;  // nothing now: resume() brings it back
  }
  std::uint8_t head[h2::kFrameHeaderBytes];
  h2::write_frame_head(head, static_cast<std::uint32_t>(n), h2::kData, end ? h2::kEndStream : 0,
                       st.id);
  if (st.answer) {
    std::string frame(reinterpret_cast<const char*>(head), sizeof head);
    frame.append(st.answer->data(), n);
    const std::size_t copied = output_.copy(reinterpret_cast<const std::uint8_t*>(frame.data()),
                                            frame.size());
    RC_ASSERT(copied == frame.size());  // copy_room said it fits
    st.answer->erase(0, n);
  } else {
    output_.add_data(st.id, head, slices_);
  }
  st.send_window -= static_cast<std::int32_t>(n);
  conn_send_window_ -= static_cast<std::int32_t>(n);
  if (end) {
    st.local_closed = true;
    if (st.remote_closed) close_stream(&st, h2::kNoError, true);
    return true;
  }
  push_ready(st);  // round robin: one frame per stream per turn
  return true;
}

void H2Session::send_data() {
  while (ready_head_ != nullptr && failed_ == H2Feed::ok) {
    if (!send_one(*ready_head_)) return;
  }
}

std::size_t H2Session::build_output(std::vector<iovec>& out) {
  RC_ASSERT(!in_flight_);
  while (!closed_.empty()) {  // streams the handler's own calls closed: tell it now
    std::vector<Closed> closed;
    closed.swap(closed_);
    for (const Closed& c : closed) handler_.on_stream_close(c.id, c.code);
  }
  flush_control();
  // HEADERS before their DATA: DATA goes only once every queued frame is in the output.
  if (control_.empty() && failed_ == H2Feed::ok) send_data();
  std::size_t bytes = output_.gather(out);
  in_flight_ = bytes > 0;
  note_peak();
  return bytes;
}

void H2Session::output_sent(std::size_t bytes) {
  RC_ASSERT(in_flight_);
  RC_ASSERT(bytes <= output_.pending_bytes());
  in_flight_ = false;
  output_.consume(bytes, [this](std::int32_t id, std::size_t n) { handler_.on_data_sent(id, n); });
}

bool H2Session::finished() const {
  if (!output_.empty() || !control_.empty()) return false;
  return failed_ != H2Feed::ok || (goaway_received_ && streams_ == 0);
}

}  // namespace ringcast::http
