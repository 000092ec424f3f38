#include "tools/load/sse_parser.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace ringcast::load {

namespace {

// A name of up to 8 bytes packed little-endian, so field names and payload keys compare as
// one integer without being stored as text.
constexpr std::uint64_t pack(std::string_view s) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < s.size() && i < 8; ++i) v |= std::uint64_t(std::uint8_t(s[i])) << (8 * i);
  return v;
}

constexpr std::uint8_t kTooLong = 255;  // name_len_ of a name longer than 8 bytes

bool is_digit(char c) { return c >= '0' && c <= '9'; }

char lower(char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  const char l = lower(c);
  return l >= 'a' && l <= 'f' ? l - 'a' + 10 : -1;
}

// The head's headers that matter, lower case.
constexpr std::string_view kContentType = "content-type";
constexpr std::string_view kTransferEncoding = "transfer-encoding";
constexpr std::string_view kEventStream = "text/event-stream";
constexpr std::string_view kChunked = "chunked";

// What a header line is (SseParser::head_match_ >> 5). A value state is its name's + 2.
constexpr std::uint8_t kMatchStart = 0;
constexpr std::uint8_t kMatchCtName = 1;
constexpr std::uint8_t kMatchTeName = 2;
constexpr std::uint8_t kMatchCtValue = 3;
constexpr std::uint8_t kMatchTeValue = 4;
constexpr std::uint8_t kMatchSkip = 7;
static_assert(kTransferEncoding.size() < 32 && kEventStream.size() < 32, "positions fit in 5 bits");

// Advances `pos` over `word` by one (lower-cased) byte; false on a mismatch or past its end.
bool match_step(std::string_view word, std::uint8_t& pos, char l) {
  if (pos >= word.size() || word[pos] != l) return false;
  ++pos;
  return true;
}

// Where in the chunked framing (SseParser::chunk_state_). The two final states compare by
// value (>= kChunkOver).
constexpr std::uint8_t kChunkSizeStart = 0;  // expecting the first hex digit of a size
constexpr std::uint8_t kChunkSize = 1;       // in the size's digits
constexpr std::uint8_t kChunkExtension = 2;  // after ';': skipped to the line's end
constexpr std::uint8_t kChunkSizeLf = 3;     // after the size line's CR
constexpr std::uint8_t kChunkData = 4;       // chunk_left_ data bytes follow
constexpr std::uint8_t kChunkDataEnd = 5;    // the CRLF after the data
constexpr std::uint8_t kChunkDataLf = 6;
constexpr std::uint8_t kChunkOver = 7;       // this and above: nothing more is parsed
constexpr std::uint8_t kChunkEnded = 7;      // the last chunk arrived
constexpr std::uint8_t kChunkBroken = 8;     // the framing was malformed

}  // namespace

std::uint32_t topic_hash(std::string_view name) {
  std::uint32_t h = kTopicHashSeed;
  for (char c : name) h = topic_hash_step(h, static_cast<unsigned char>(c));
  return h;
}

SseStep SseParser::next(std::string_view& in, std::string_view* id_out) {
  if (bit(reset_event)) {
    event_ = SseEvent();
    set(reset_event, false);
  }
  set(capture_ids, id_out != nullptr);
  while (!in.empty()) {
    if (mode_ != Mode::body) {
      const char c = in.front();
      in.remove_prefix(1);
      if (head_byte(c) == SseStep::head) return SseStep::head;
      continue;
    }
    if (!bit(chunked_seen)) return body(in, id_out);
    if (chunk_state_ >= kChunkOver) {
      in = {};  // after the last chunk or broken framing nothing more is parsed
      break;
    }
    if (chunk_state_ != kChunkData) {
      const char c = in.front();
      in.remove_prefix(1);
      const SseStep step = chunk_byte(c);
      if (step != SseStep::need_more) return step;
      continue;
    }
    // The event stream sees only the chunk's data, whatever the reads' boundaries.
    std::string_view data = in.substr(0, std::min<std::size_t>(in.size(), chunk_left_));
    const std::size_t offered = data.size();
    const SseStep step = body(data, id_out);
    const std::size_t used = offered - data.size();
    in.remove_prefix(used);
    chunk_left_ -= std::uint32_t(used);
    if (chunk_left_ == 0) chunk_state_ = kChunkDataEnd;
    if (step != SseStep::need_more) return step;
  }
  return SseStep::need_more;
}

// The event stream proper, over bytes that are all body (no chunk framing among them).
SseStep SseParser::body(std::string_view& in, std::string_view* id_out) {
  while (!in.empty()) {
    const char c = in.front();
    if (c == '\r' || c == '\n') {
      in.remove_prefix(1);
      // CR, LF and CRLF each end a line; the LF of a CRLF ends nothing more.
      const bool lf_of_crlf = c == '\n' && bit(cr);
      set(cr, c == '\r');
      if (lf_of_crlf) continue;
      const SseStep step = end_line();
      if (step != SseStep::need_more) return step;
      continue;
    }
    set(cr, false);
    if (line_ == Line::value && field_ == Field::id && id_out != nullptr) {
      if (bit(value_first)) {
        set(value_first, false);
        if (c == ' ') {
          in.remove_prefix(1);
          continue;
        }
      }
      // c is neither CR nor LF, so the piece is at least one byte.
      const std::size_t n = skip_run(in);
      *id_out = in.substr(0, n);
      in.remove_prefix(n);
      return SseStep::id_bytes;
    }
    if (line_ == Line::skip || (line_ == Line::value && field_ == Field::data && kv_ == Kv::skip_line)) {
      // Comments and "pad=xxxx" tails can be long: skip them with memchr, not byte by byte.
      in.remove_prefix(skip_run(in));
      continue;
    }
    in.remove_prefix(1);
    if (line_ == Line::start) {
      if (c == ':') {
        line_ = Line::skip;
        field_ = Field::comment;
        continue;
      }
      line_ = Line::name;
      name_ = 0;
      name_len_ = 0;
      name_byte(c);
    } else if (line_ == Line::name) {
      if (c != ':') {
        name_byte(c);
        continue;
      }
      begin_value();
      if (field_ == Field::id && bit(capture_ids)) return SseStep::id_begin;
    } else {
      value_byte(c);
    }
  }
  return SseStep::need_more;
}

// The HTTP head: "HTTP/1.1 200 OK", header lines, a blank line.
SseStep SseParser::head_byte(char c) {
  if (c == '\n') {
    if (mode_ == Mode::headers && !bit(line_nonempty)) {
      mode_ = Mode::body;
      value_len_ = 0;
      return SseStep::head;
    }
    if (mode_ == Mode::headers) end_header_line();
    mode_ = Mode::headers;
    set(line_nonempty, false);
    head_match_ = 0;
    return SseStep::need_more;
  }
  if (c == '\r') return SseStep::need_more;
  set(line_nonempty, true);
  if (mode_ == Mode::status_line) status_byte(c);
  else header_byte(c);
  return SseStep::need_more;
}

// "HTTP/1.1 200 OK": the digits after the first space.
void SseParser::status_byte(char c) {
  if (value_len_ == 0) {
    if (c == ' ') value_len_ = 1;
  } else if (value_len_ == 1 && is_digit(c) && status_ < 1000) {
    status_ = static_cast<std::uint16_t>(status_ * 10 + (c - '0'));
  } else {
    value_len_ = 2;
  }
}

// head_match_ is (what << 5) | matched: which of the two headers that matter this line is,
// and how many bytes of its name or value have matched so far (names and values compare
// case-insensitively, as HTTP has it for these).
void SseParser::header_byte(char c) {
  std::uint8_t what = head_match_ >> 5;
  std::uint8_t pos = head_match_ & 31;
  const char l = lower(c);
  const bool space = c == ' ' || c == '\t';
  switch (what) {
    case kMatchStart:
      what = l == kContentType[0] ? kMatchCtName : l == kTransferEncoding[0] ? kMatchTeName : kMatchSkip;
      pos = 1;
      break;
    case kMatchCtName:
    case kMatchTeName: {
      const std::string_view name = what == kMatchCtName ? kContentType : kTransferEncoding;
      if (c == ':') {
        what = pos == name.size() ? std::uint8_t(what + 2) : kMatchSkip;  // name -> its value
        pos = 0;
      } else if (!match_step(name, pos, l)) {
        what = kMatchSkip;
      }
      break;
    }
    case kMatchCtValue:
      if (pos == 0 && space) break;
      if (pos == kEventStream.size()) {
        // "text/event-stream; charset=utf-8" (nchan) as well as the bare type.
        if (c == ';' || space) set(event_stream_seen, true);
        what = kMatchSkip;
      } else if (!match_step(kEventStream, pos, l)) {
        what = kMatchSkip;
      }
      break;
    case kMatchTeValue:
      if (space && (pos == 0 || pos == kChunked.size())) break;
      if (!match_step(kChunked, pos, l)) {
        set(unknown_coding_seen, true);
        what = kMatchSkip;
      }
      break;
    default:
      break;
  }
  head_match_ = std::uint8_t(what << 5 | pos);
}

void SseParser::end_header_line() {
  const std::uint8_t what = head_match_ >> 5;
  const std::uint8_t pos = head_match_ & 31;
  if (what == kMatchCtValue && pos == kEventStream.size()) set(event_stream_seen, true);
  if (what == kMatchTeValue) {
    if (pos == kChunked.size()) set(chunked_seen, true);
    else set(unknown_coding_seen, true);
  }
}

// Chunked framing: "<hex size>[;ext]\r\n<data>\r\n" ... "0\r\n" (RFC 9112 7.1). Bare LF is
// taken for CRLF. chunk_left_ accumulates the size, then counts the data down.
SseStep SseParser::chunk_byte(char c) {
  const int digit = hex_value(c);
  switch (chunk_state_) {
    case kChunkSizeStart:
    case kChunkSize:
      if (digit >= 0) {
        if (chunk_left_ > (0xffffffffu >> 4)) break;  // over 4 GiB: not a chunk we accept
        chunk_left_ = chunk_left_ << 4 | std::uint32_t(digit);
        chunk_state_ = kChunkSize;
        return SseStep::need_more;
      }
      if (chunk_state_ == kChunkSizeStart) break;
      if (c == ';' || c == ' ' || c == '\t') chunk_state_ = kChunkExtension;
      else if (c == '\r') chunk_state_ = kChunkSizeLf;
      else if (c == '\n') return end_chunk_size();
      else break;
      return SseStep::need_more;
    case kChunkExtension:
      if (c == '\r') chunk_state_ = kChunkSizeLf;
      else if (c == '\n') return end_chunk_size();
      return SseStep::need_more;
    case kChunkSizeLf:
      if (c == '\n') return end_chunk_size();
      break;
    case kChunkDataEnd:
      if (c == '\r') chunk_state_ = kChunkDataLf;
      else if (c == '\n') chunk_state_ = kChunkSizeStart;
      else break;
      return SseStep::need_more;
    case kChunkDataLf:
      if (c != '\n') break;
      chunk_state_ = kChunkSizeStart;
      return SseStep::need_more;
    default:
      break;
  }
  chunk_state_ = kChunkBroken;
  return SseStep::malformed;
}

SseStep SseParser::end_chunk_size() {
  if (chunk_left_ == 0) {
    // The last chunk: the server has ended the response (trailers, if any, are not read).
    chunk_state_ = kChunkEnded;
    return SseStep::ended;
  }
  chunk_state_ = kChunkData;
  return SseStep::need_more;
}

void SseParser::name_byte(char c) {
  if (name_len_ == kTooLong) return;
  if (name_len_ == 8) {
    name_len_ = kTooLong;
    return;
  }
  name_ |= std::uint64_t(std::uint8_t(c)) << (8 * name_len_);
  ++name_len_;
}

void SseParser::begin_value() {
  const std::uint64_t name = name_len_ == kTooLong ? 0 : name_;
  field_ = name == pack("id")      ? Field::id
           : name == pack("event") ? Field::event
           : name == pack("data")  ? Field::data
           : name == pack("retry") ? Field::retry
                                   : Field::unknown;
  line_ = field_ == Field::unknown ? Line::skip : Line::value;
  set(value_first, true);
  value_len_ = 0;
  value_state_ = 0;
  if (field_ == Field::retry) name_ = 0;  // from here on, the value's digits
  if (field_ == Field::id) {
    event_.id = EventId();
    event_.fields = static_cast<std::uint8_t>((event_.fields | sse_field::id) & ~sse_field::id_valid);
  } else if (field_ == Field::data) {
    // Every data line starts a fresh payload token (lines are joined by LF, a separator).
    if (event_.data_lines < std::numeric_limits<std::uint16_t>::max()) ++event_.data_lines;
    kv_ = Kv::key;
    name_ = 0;
    name_len_ = 0;
  }
}

void SseParser::value_byte(char c) {
  if (bit(value_first)) {
    set(value_first, false);
    if (c == ' ') return;  // "data: x" and "data:x" carry the same value
  }
  const std::uint8_t len = value_len_;
  if (value_len_ != kTooLong) ++value_len_;
  switch (field_) {
    case Field::id:
      if (value_state_ == 0 && c == '-' && len > 0) {
        value_state_ = 1;
        value_len_ = 0;
      } else if (!is_digit(c) || value_state_ == 2) {
        value_state_ = 2;
      } else if (value_state_ == 0) {
        if (event_.id.ms > (std::numeric_limits<std::uint64_t>::max() - 9) / 10) value_state_ = 2;
        else event_.id.ms = event_.id.ms * 10 + std::uint64_t(c - '0');
      } else {
        if (event_.id.n > (std::numeric_limits<std::uint32_t>::max() - 9) / 10) value_state_ = 2;
        else event_.id.n = event_.id.n * 10 + std::uint32_t(c - '0');
      }
      return;
    case Field::event:
      // Bit 0: no longer "gap"; bit 1: no longer "message".
      if (len >= 3 || "gap"[len] != c) value_state_ |= 1;
      if (len >= 7 || "message"[len] != c) value_state_ |= 2;
      return;
    case Field::retry:
      if (!is_digit(c) || name_ > 100000000u) value_state_ = 1;
      else name_ = name_ * 10 + std::uint64_t(c - '0');
      return;
    case Field::data:
      data_byte(c);
      return;
    default:
      return;  // comment and unknown fields are skipped before they get here
  }
}

// The publisher's payload: "seq=<k> t=<ns> topic=<name> pad=xxxx", tokens split by spaces.
void SseParser::data_byte(char c) {
  if (c == ' ' && kv_ != Kv::skip_line) {
    kv_ = Kv::key;
    name_ = 0;
    name_len_ = 0;
    return;
  }
  switch (kv_) {
    case Kv::key:
      if (c == '=') end_key();
      else name_byte(c);
      return;
    case Kv::seq:
      add_digit(event_.seq, c);
      return;
    case Kv::sent:
      add_digit(event_.sent_ns, c);
      return;
    case Kv::topic:
      event_.topic_hash = topic_hash_step(event_.topic_hash, static_cast<unsigned char>(c));
      return;
    case Kv::skip_token:
    case Kv::skip_line:
      return;
  }
}

void SseParser::end_key() {
  const std::uint64_t key = name_len_ == kTooLong ? 0 : name_;
  name_ = 0;
  name_len_ = 0;
  if (key == pack("seq")) {
    kv_ = Kv::seq;
    event_.seq = 0;
    event_.fields |= sse_field::seq;
  } else if (key == pack("t")) {
    kv_ = Kv::sent;
    event_.sent_ns = 0;
    event_.fields |= sse_field::sent;
  } else if (key == pack("topic")) {
    kv_ = Kv::topic;
    event_.topic_hash = kTopicHashSeed;
    event_.fields |= sse_field::topic;
  } else if (key == pack("pad")) {
    kv_ = Kv::skip_line;  // the pad is the payload's tail by construction
  } else {
    kv_ = Kv::skip_token;
  }
}

void SseParser::add_digit(std::uint64_t& value, char c) {
  if (is_digit(c) && value <= (std::numeric_limits<std::uint64_t>::max() - 9) / 10) {
    value = value * 10 + std::uint64_t(c - '0');
    return;
  }
  event_.fields |= sse_field::malformed;
  kv_ = Kv::skip_token;
}

SseStep SseParser::end_line() {
  switch (line_) {
    case Line::start: {
      line_ = Line::start;
      // A blank line dispatches the event; one without data lines dispatches nothing.
      if (event_.data_lines == 0) {
        event_ = SseEvent();
        return SseStep::need_more;
      }
      set(reset_event, true);
      return SseStep::event;
    }
    case Line::name: {
      begin_value();  // a field name with no colon: the whole line is the name, value empty
      const bool empty_id = field_ == Field::id && bit(capture_ids);
      const SseStep step = end_field();
      return empty_id ? SseStep::id_begin : step;  // an empty id clears the last one
    }
    case Line::value:
      return end_field();
    case Line::skip:
      break;
  }
  const bool comment = field_ == Field::comment;
  line_ = Line::start;
  field_ = Field::none;
  return comment ? SseStep::comment : SseStep::need_more;
}

SseStep SseParser::end_field() {
  SseStep step = SseStep::need_more;
  switch (field_) {
    case Field::id:
      if (value_state_ == 1 && value_len_ > 0) event_.fields |= sse_field::id_valid;
      break;
    case Field::event:
      event_.kind = value_len_ == 0                              ? SseKind::message
                    : (value_state_ & 1) == 0 && value_len_ == 3 ? SseKind::gap
                    : (value_state_ & 2) == 0 && value_len_ == 7 ? SseKind::message
                                                                 : SseKind::other;
      break;
    case Field::retry:
      if (value_state_ == 0 && value_len_ > 0) step = SseStep::retry;
      break;
    default:
      break;  // data needs nothing at the end of its line; unknown fields are ignored
  }
  line_ = Line::start;
  field_ = Field::none;
  return step;
}

std::size_t SseParser::skip_run(std::string_view in) const {
  const void* lf = std::memchr(in.data(), '\n', in.size());
  std::size_t end = lf == nullptr ? in.size() : std::size_t(static_cast<const char*>(lf) - in.data());
  const void* cr = std::memchr(in.data(), '\r', end);
  if (cr != nullptr) end = std::size_t(static_cast<const char*>(cr) - in.data());
  return end;
}

}  // namespace ringcast::load
