#include "tools/load/sse_parser.h"

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

}  // namespace

std::uint32_t topic_hash(std::string_view name) {
  std::uint32_t h = kTopicHashSeed;
  for (char c : name) h = topic_hash_step(h, static_cast<unsigned char>(c));
  return h;
}

SseStep SseParser::next(std::string_view& in) {
  if (bit(reset_event)) {
    event_ = SseEvent();
    set(reset_event, false);
  }
  while (!in.empty()) {
    const char c = in.front();
    if (mode_ != Mode::body) {
      in.remove_prefix(1);
      if (head_byte(c) == SseStep::head) return SseStep::head;
      continue;
    }
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
      if (c == ':') begin_value();
      else name_byte(c);
    } else {
      value_byte(c);
    }
  }
  return SseStep::need_more;
}

// The HTTP head: "HTTP/1.1 200 OK", header lines, a blank line. Only the status matters.
SseStep SseParser::head_byte(char c) {
  if (c == '\n') {
    if (mode_ == Mode::headers && !bit(line_nonempty)) {
      mode_ = Mode::body;
      value_len_ = 0;
      return SseStep::head;
    }
    mode_ = Mode::headers;
    set(line_nonempty, false);
    return SseStep::need_more;
  }
  if (c == '\r') return SseStep::need_more;
  set(line_nonempty, true);
  if (mode_ == Mode::status_line && !bit(status_done)) {
    if (value_len_ == 0) {
      if (c == ' ') value_len_ = 1;  // the status code follows the first space
    } else if (is_digit(c) && status_ < 1000) {
      status_ = static_cast<std::uint16_t>(status_ * 10 + (c - '0'));
    } else {
      set(status_done, true);
    }
  }
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
  value_num_ = 0;
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
      if (!is_digit(c) || value_num_ > 100000000u) value_state_ = 1;
      else value_num_ = value_num_ * 10 + std::uint32_t(c - '0');
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
    case Line::name:
      begin_value();  // a field name with no colon: the whole line is the name, value empty
      return end_field();
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
