// The HTTP/2 session's input: the client preface, then frames (RFC 9113 §4, §6), each checked
// and acted on whole. A frame is parsed in place from the bytes fed; only a frame split across
// feeds is copied (into in_, freed once it completes). Every connection error queues GOAWAY
// and stops the input (fail()); every stream error queues RST_STREAM (stream_error()).
#include <nghttp2/nghttp2.h>

#include <algorithm>

#include "base/assert.h"
#include "http/h2_frame.h"
#include "http/h2_request.h"
#include "http/h2_session.h"
#include "http/h2_session_stream.h"

namespace ringcast::http {

namespace {

// CONTINUATION frames one header block may span (CVE-2024-27316: empty CONTINUATION frames add
// no bytes, so the byte bound alone does not stop them). A client sends a block of our
// max_header_bytes in one or two frames; 16 leaves room for odd splitting.
constexpr std::uint32_t kContinuationFramesMax = 16;

}  // namespace

struct H2Session::FrameView {
  h2::FrameHead head;
  const std::uint8_t* payload;
};

H2Feed H2Session::feed(std::string_view bytes, std::uint64_t now_ms) {
  if (failed_ != H2Feed::ok) return failed_;
  now_ms_ = now_ms;
  std::size_t used = 0;
  if (in_.empty()) {
    used = parse(bytes);
    if (failed_ == H2Feed::ok && used < bytes.size()) in_.assign(bytes.substr(used));
  } else {
    in_.append(bytes);
    used = parse(in_);
    in_.erase(0, used);
  }
  if (failed_ != H2Feed::ok || in_.empty()) std::string().swap(in_);
  note_peak();
  return failed_;
}

// Consumes the preface and every whole frame at the front of `in`; returns the bytes consumed.
std::size_t H2Session::parse(std::string_view in) {
  std::size_t at = 0;
  if (preface_left_ > 0) {
    const std::size_t n = std::min<std::size_t>(preface_left_, in.size());
    const std::string_view want = kH2ClientPreface.substr(kH2ClientPreface.size() - preface_left_, n);
    if (in.substr(0, n) != want) {
      fail(H2Feed::protocol_error, h2::kProtocolError);
      return in.size();
    }
    preface_left_ -= static_cast<std::uint32_t>(n);
    at = n;
  }
  while (failed_ == H2Feed::ok && in.size() - at >= h2::kFrameHeaderBytes) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(in.data()) + at;
    const h2::FrameHead head = h2::read_frame_head(p);
    if (head.length > h2::kMaxFramePayload) {
      fail(H2Feed::protocol_error, h2::kFrameSizeError);
      break;
    }
    if (in.size() - at - h2::kFrameHeaderBytes < head.length) break;  // the rest comes later
    on_frame({head, p + h2::kFrameHeaderBytes});
    at += h2::kFrameHeaderBytes + head.length;
  }
  return failed_ == H2Feed::ok ? at : in.size();
}

bool H2Session::idle_stream(std::int32_t id) const {
  return (id & 1) == 0 || id > max_client_stream_;  // we open no stream: even ids are never open
}

void H2Session::on_frame(const FrameView& f) {
  const std::uint8_t type = f.head.type;
  if (!settings_seen_ && (type != h2::kSettings || (f.head.flags & h2::kAck) != 0)) {
    return fail(H2Feed::protocol_error, h2::kProtocolError);  // §3.4: SETTINGS comes first
  }
  if (in_block_ && type != h2::kContinuation) return fail(H2Feed::protocol_error, h2::kProtocolError);
  switch (type) {
    case h2::kData: return on_data(f);
    case h2::kHeaders: return on_headers(f);
    case h2::kContinuation: return on_continuation(f);
    case h2::kSettings: return on_settings(f);
    case h2::kPing: return on_ping(f);
    case h2::kRstStream: return on_rst_stream(f);
    case h2::kWindowUpdate: return on_window_update(f);
    case h2::kGoaway: return on_goaway(f);
    case h2::kPriority:
      if (f.head.stream == 0) return fail(H2Feed::protocol_error, h2::kProtocolError);
      if (f.head.length != 5) return fail(H2Feed::protocol_error, h2::kFrameSizeError);
      return;  // priorities are advisory; we announce we do not use them
    case h2::kPushPromise:  // a client never pushes (§8.4)
      return fail(H2Feed::protocol_error, h2::kProtocolError);
    default:
      return;  // §5.5: unknown frame types are ignored
  }
}

// Strips the padding of a PADDED frame. False: the padding is longer than the frame.
static bool unpad(const h2::FrameHead& head, const std::uint8_t*& p, std::size_t& n) {
  if ((head.flags & h2::kPadded) == 0) return true;
  if (n < 1) return false;
  const std::size_t pad = p[0];
  if (pad >= n) return false;
  p += 1;
  n -= 1 + pad;
  return true;
}

void H2Session::on_data(const FrameView& f) {
  const std::int32_t id = f.head.stream;
  if (id == 0) return fail(H2Feed::protocol_error, h2::kProtocolError);
  const std::uint8_t* p = f.payload;
  std::size_t n = f.head.length;
  if (!unpad(f.head, p, n)) return fail(H2Feed::protocol_error, h2::kProtocolError);
  // Connection flow control counts the whole frame, whatever becomes of it (§6.9).
  if (f.head.length > static_cast<std::uint32_t>(h2::kDefaultWindow) - conn_recv_used_)
    return fail(H2Feed::protocol_error, h2::kFlowControlError);
  conn_recv_used_ += f.head.length;
  if (conn_recv_used_ >= static_cast<std::uint32_t>(h2::kDefaultWindow) / 2) {
    queue_window_update(0, conn_recv_used_);
    conn_recv_used_ = 0;
  }
  Stream* st = find(id);
  if (st == nullptr) {
    if (idle_stream(id)) return fail(H2Feed::protocol_error, h2::kProtocolError);
    return;  // a stream we closed (answered early, reset): the rest of its body is dropped
  }
  if (st->remote_closed) return stream_error(st, id, h2::kStreamClosed);
  RC_ASSERT(st->request);  // an open stream whose client has not ended it is still arriving
  // The client may use the default window until it has our SETTINGS.
  const std::uint32_t allowance =
      std::max<std::uint32_t>(settings_.initial_window_bytes, h2::kDefaultWindow);
  if (f.head.length > allowance - st->recv_used) return stream_error(st, id, h2::kFlowControlError);
  st->recv_used += f.head.length;
  if (st->request->body_bytes() + n > settings_.max_body_bytes) return answer_error(*st, 413);
  const std::size_t budget = settings_.max_buffered_body_bytes != 0
                                 ? settings_.max_buffered_body_bytes
                                 : settings_.max_body_bytes;
  if (body_buffered_ + n > budget) return answer_error(*st, 503);  // others hold it: come back
  body_buffered_ += n;
  st->request->add_body({reinterpret_cast<const char*>(p), n});
  if ((f.head.flags & h2::kEndStream) != 0) {
    st->remote_closed = true;
    return finish_request(*st);
  }
  if (st->recv_used >= allowance / 2) {
    queue_window_update(id, st->recv_used);
    st->recv_used = 0;
  }
}

void H2Session::on_headers(const FrameView& f) {
  const std::int32_t id = f.head.stream;
  if (id == 0 || (id & 1) == 0) return fail(H2Feed::protocol_error, h2::kProtocolError);
  const std::uint8_t* p = f.payload;
  std::size_t n = f.head.length;
  if (!unpad(f.head, p, n)) return fail(H2Feed::protocol_error, h2::kProtocolError);
  if ((f.head.flags & h2::kPriorityFlag) != 0) {
    if (n < 5) return fail(H2Feed::protocol_error, h2::kFrameSizeError);
    p += 5;  // stream dependency and weight: advisory, unused
    n -= 5;
  }
  block_stream_ = id;
  block_end_stream_ = (f.head.flags & h2::kEndStream) != 0;
  block_bytes_ = static_cast<std::uint32_t>(n);
  block_frames_ = 1;
  // CVE-2024-27316: more raw header bytes than anything we would decode.
  if (block_bytes_ > settings_.max_header_bytes) return fail(H2Feed::abusive, h2::kEnhanceYourCalm);
  if ((f.head.flags & h2::kEndHeaders) != 0) return header_block_done(p, n);
  block_.assign(reinterpret_cast<const char*>(p), n);
  in_block_ = true;
}

void H2Session::on_continuation(const FrameView& f) {
  if (!in_block_ || f.head.stream != block_stream_)
    return fail(H2Feed::protocol_error, h2::kProtocolError);
  block_bytes_ += f.head.length;
  ++block_frames_;
  if (block_bytes_ > settings_.max_header_bytes || block_frames_ > kContinuationFramesMax + 1)
    return fail(H2Feed::abusive, h2::kEnhanceYourCalm);
  block_.append(reinterpret_cast<const char*>(f.payload), f.head.length);
  if ((f.head.flags & h2::kEndHeaders) == 0) return;
  in_block_ = false;
  std::string block;
  block.swap(block_);  // block_ holds nothing between header blocks
  header_block_done(reinterpret_cast<const std::uint8_t*>(block.data()), block.size());
}

// A whole header block: a new request, the trailers of one, or one to decode and drop (the
// HPACK table must see every block).
void H2Session::header_block_done(const std::uint8_t* block, std::size_t length) {
  const std::int32_t id = block_stream_;
  Stream* st = find(id);
  if (st != nullptr) {
    if (st->remote_closed) {
      if (!decode_block(block, length, nullptr, false)) return;
      return stream_error(st, id, h2::kStreamClosed);
    }
    if (!decode_block(block, length, st, true)) return;
    if (!block_end_stream_ || st->malformed) return stream_error(st, id, h2::kProtocolError);
    st->remote_closed = true;
    return finish_request(*st);
  }
  // §5.1.1: a new stream's id is above every id the client used; a lower one names a closed
  // stream, which no HEADERS may reopen.
  if (id <= max_client_stream_) return fail(H2Feed::protocol_error, h2::kProtocolError);
  max_client_stream_ = id;
  // A stream opened after our GOAWAY still reaches the handler, which refuses it
  // (REFUSED_STREAM tells the client at once that a retry is safe; §6.8 allows ignoring it).
  if (streams_ >= settings_.max_concurrent_streams) {
    if (!decode_block(block, length, nullptr, false)) return;
    return stream_error(nullptr, id, h2::kRefusedStream);  // safe for the client to retry
  }
  st = open_stream(id);
  if (!decode_block(block, length, st, false)) return;
  st->remote_closed = block_end_stream_;
  if (st->malformed) return stream_error(st, id, h2::kProtocolError);
  if (st->headers_too_large) return answer_error(*st, 431);
  if (!st->request->head_complete()) return stream_error(st, id, h2::kProtocolError);
  if (st->bad_request) return answer_error(*st, 400);
  if (st->request->has_content_length() && st->request->content_length() > settings_.max_body_bytes)
    return answer_error(*st, 413);  // said up front: no need to wait for the body
  if (st->remote_closed) finish_request(*st);
}

// HPACK-decodes one block. Fields go to `st`'s request (or are checked as its trailers); with no
// stream they are dropped. False: the block does not decode (connection error queued).
bool H2Session::decode_block(const std::uint8_t* in, std::size_t length, Stream* st,
                             bool trailers) {
  for (;;) {
    nghttp2_nv nv;
    int flags = 0;
    const ssize_t rv = nghttp2_hd_inflate_hd2(inflater_, &nv, &flags, in, length, 1);
    if (rv < 0) {
      if (rv == NGHTTP2_ERR_NOMEM) fail(H2Feed::abusive, h2::kEnhanceYourCalm);  // our bound
      else fail(H2Feed::protocol_error, h2::kCompressionError);
      return false;
    }
    in += rv;
    length -= static_cast<std::size_t>(rv);
    if ((flags & NGHTTP2_HD_INFLATE_EMIT) != 0 && st != nullptr) {
      const std::string_view name(reinterpret_cast<const char*>(nv.name), nv.namelen);
      const std::string_view value(reinterpret_cast<const char*>(nv.value), nv.valuelen);
      if (trailers) {
        if (!h2_trailer_field_ok(name, value)) st->malformed = true;
      } else {
        const std::uint64_t total = std::uint64_t{st->header_list_bytes} + name.size() + value.size() + 32;
        st->header_list_bytes = static_cast<std::uint32_t>(std::min<std::uint64_t>(total, UINT32_MAX));
        if (total > settings_.max_header_bytes) {
          st->headers_too_large = true;  // keep decoding (the table), store nothing more
        } else if (!st->headers_too_large) {
          switch (st->request->add_field(name, value)) {
            case FieldVerdict::ok: break;
            case FieldVerdict::bad_request: st->bad_request = true; break;
            case FieldVerdict::malformed: st->malformed = true; break;
          }
        }
      }
    }
    if ((flags & NGHTTP2_HD_INFLATE_FINAL) != 0) {
      nghttp2_hd_inflate_end_headers(inflater_);
      return true;
    }
    if (rv == 0 && (flags & NGHTTP2_HD_INFLATE_EMIT) == 0) {  // no progress on a whole block
      fail(H2Feed::protocol_error, h2::kCompressionError);
      return false;
    }
  }
}

// The client ended the stream: its body must match its content-length (§8.1.1), then the
// handler gets the request.
void H2Session::finish_request(Stream& st) {
  RC_ASSERT(st.request && st.remote_closed);
  if (st.request->has_content_length() && st.request->content_length() != st.request->body_bytes())
    return stream_error(&st, st.id, h2::kProtocolError);
  dispatch(st);
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

void H2Session::on_settings(const FrameView& f) {
  if (f.head.stream != 0) return fail(H2Feed::protocol_error, h2::kProtocolError);
  if ((f.head.flags & h2::kAck) != 0) {
    if (f.head.length != 0) return fail(H2Feed::protocol_error, h2::kFrameSizeError);
    if (!settings_acked_) {
      settings_acked_ = true;
      if (settings_.hpack_decoder_table_bytes < 4096) {  // the peer now knows the smaller table
        int rv = nghttp2_hd_inflate_change_table_size(inflater_, settings_.hpack_decoder_table_bytes);
        RC_ASSERT(rv == 0);  // between header blocks; shrinking allocates nothing
      }
    }
    return;
  }
  if (f.head.length % 6 != 0) return fail(H2Feed::protocol_error, h2::kFrameSizeError);
  settings_seen_ = true;
  for (std::size_t at = 0; at < f.head.length; at += 6) {
    const std::uint8_t* e = f.payload + at;
    const auto id = static_cast<std::uint16_t>((e[0] << 8) | e[1]);
    const std::uint32_t v = h2::read_u32(e + 2);
    switch (id) {
      case h2::kEnablePush:
      case h2::kNoRfc7540Priorities:
        if (v > 1) return fail(H2Feed::protocol_error, h2::kProtocolError);
        break;
      case h2::kMaxFrameSize:
        if (v < 16384 || v > 16777215) return fail(H2Feed::protocol_error, h2::kProtocolError);
        break;  // we send no frame over 16 KiB anyway
      case h2::kInitialWindowSize: {
        if (v > static_cast<std::uint32_t>(h2::kMaxWindow))
          return fail(H2Feed::protocol_error, h2::kFlowControlError);
        const std::int64_t delta = std::int64_t{v} - peer_initial_window_;
        for (Stream* s : streams_by_id_) {  // §6.9.2: every open stream's window moves
          const std::int64_t w = s->send_window + delta;
          if (w > h2::kMaxWindow) return fail(H2Feed::protocol_error, h2::kFlowControlError);
          s->send_window = static_cast<std::int32_t>(w);
        }
        peer_initial_window_ = static_cast<std::int32_t>(v);
        break;
      }
      default:
        break;  // table size (our encoder keeps none), concurrency (we push nothing), unknown
    }
  }
  if (!queue_peer_frame(h2::kSettings, h2::kAck, 0, nullptr, 0, true)) return;
  sweep_blocked();
}

void H2Session::on_ping(const FrameView& f) {
  if (f.head.stream != 0) return fail(H2Feed::protocol_error, h2::kProtocolError);
  if (f.head.length != 8) return fail(H2Feed::protocol_error, h2::kFrameSizeError);
  if ((f.head.flags & h2::kAck) != 0) return;
  queue_peer_frame(h2::kPing, h2::kAck, 0, f.payload, 8, true);
}

void H2Session::on_rst_stream(const FrameView& f) {
  if (f.head.stream == 0) return fail(H2Feed::protocol_error, h2::kProtocolError);
  if (f.head.length != 4) return fail(H2Feed::protocol_error, h2::kFrameSizeError);
  Stream* st = find(f.head.stream);
  if (st == nullptr) {
    if (idle_stream(f.head.stream)) return fail(H2Feed::protocol_error, h2::kProtocolError);
    return;  // crossed our own close
  }
  close_stream(st, h2::read_u32(f.payload), true);
  note_client_reset();
}

void H2Session::note_client_reset() {
  if (now_ms_ - reset_window_start_ms_ >= settings_.reset_window_ms) {
    reset_window_start_ms_ = now_ms_;
    resets_in_window_ = 0;
  }
  if (++resets_in_window_ > settings_.reset_streams_max) fail(H2Feed::abusive, h2::kEnhanceYourCalm);
}

void H2Session::on_window_update(const FrameView& f) {
  if (f.head.length != 4) return fail(H2Feed::protocol_error, h2::kFrameSizeError);
  const std::uint32_t increment = h2::read_u32(f.payload) & 0x7fffffffu;
  const std::int32_t id = f.head.stream;
  if (id == 0) {
    if (increment == 0) return fail(H2Feed::protocol_error, h2::kProtocolError);
    if (std::int64_t{conn_send_window_} + increment > h2::kMaxWindow)
      return fail(H2Feed::protocol_error, h2::kFlowControlError);
    conn_send_window_ += static_cast<std::int32_t>(increment);
    return sweep_blocked();
  }
  Stream* st = find(id);
  if (st == nullptr) {
    if (idle_stream(id)) return fail(H2Feed::protocol_error, h2::kProtocolError);
    return;
  }
  if (increment == 0) return stream_error(st, id, h2::kProtocolError);
  if (std::int64_t{st->send_window} + increment > h2::kMaxWindow)
    return stream_error(st, id, h2::kFlowControlError);
  st->send_window += static_cast<std::int32_t>(increment);
  if (st->blocked) sweep_blocked();
}

void H2Session::on_goaway(const FrameView& f) {
  if (f.head.stream != 0) return fail(H2Feed::protocol_error, h2::kProtocolError);
  if (f.head.length < 8) return fail(H2Feed::protocol_error, h2::kFrameSizeError);
  goaway_received_ = true;  // the client opens nothing more; its open streams go on
}

}  // namespace ringcast::http
