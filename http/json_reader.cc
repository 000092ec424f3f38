#include "http/json_reader.h"

#include <charconv>
#include <cmath>

#include "base/assert.h"
#include "http/utf8.h"

namespace ringcast::http::json {

void Reader::skip_ws() {
  while (pos_ < text_.size()) {
    const char c = text_[pos_];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return;
    ++pos_;
  }
}

bool Reader::consume(char ch) {
  skip_ws();
  if (pos_ < text_.size() && text_[pos_] == ch) {
    ++pos_;
    return true;
  }
  return false;
}

Kind Reader::peek() {
  skip_ws();
  if (failed_) return Kind::invalid;
  if (pos_ >= text_.size()) return Kind::end;
  switch (text_[pos_]) {
    case '{': return Kind::object;
    case '[': return Kind::array;
    case '"': return Kind::string;
    case 't': case 'f': return Kind::boolean;
    case 'n': return Kind::null;
    default: break;
  }
  const char c = text_[pos_];
  return (c == '-' || (c >= '0' && c <= '9')) ? Kind::number : Kind::invalid;
}

bool Reader::begin_object() { return consume('{') || fail(); }
bool Reader::begin_array() { return consume('[') || fail(); }

bool Reader::next_member(bool& first, std::string& key) {
  if (failed_) return false;
  if (consume('}')) return false;  // the object is done ("{}" or after a member)
  if (!first && !consume(',')) return fail();
  first = false;
  if (!read_string(key)) return fail();
  return consume(':') || fail();
}

bool Reader::next_element(bool& first) {
  if (failed_) return false;
  if (consume(']')) return false;
  if (!first && !consume(',')) return fail();
  first = false;
  skip_ws();
  // "[1,]" is not JSON: after a comma a value must follow.
  if (pos_ < text_.size() && text_[pos_] == ']') return fail();
  return true;
}

bool Reader::read_hex4(unsigned& out) {
  RC_ASSERT(pos_ <= text_.size());  // the subtraction below must not wrap
  if (text_.size() - pos_ < 4) return false;
  out = 0;
  for (int i = 0; i < 4; ++i) {
    const char c = text_[pos_++];
    unsigned v;
    if (c >= '0' && c <= '9') v = unsigned(c - '0');
    else if (c >= 'a' && c <= 'f') v = unsigned(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') v = unsigned(c - 'A' + 10);
    else return false;
    out = out * 16 + v;
  }
  return true;
}

namespace {
void append_utf8(std::string& out, unsigned cp) {
  // read_string combined any surrogate pair and refused the lone ones: a scalar value.
  RC_ASSERT(cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff));
  if (cp < 0x80) {
    out.push_back(char(cp));
  } else if (cp < 0x800) {
    out.push_back(char(0xc0 | (cp >> 6)));
    out.push_back(char(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out.push_back(char(0xe0 | (cp >> 12)));
    out.push_back(char(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(char(0x80 | (cp & 0x3f)));
  } else {
    out.push_back(char(0xf0 | (cp >> 18)));
    out.push_back(char(0x80 | ((cp >> 12) & 0x3f)));
    out.push_back(char(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(char(0x80 | (cp & 0x3f)));
  }
}
}  // namespace

bool Reader::read_string(std::string& out) {
  out.clear();
  if (!consume('"')) return fail();
  while (pos_ < text_.size()) {
    const char c = text_[pos_++];
    if (c == '"') return valid_utf8(out) || fail();
    if (static_cast<unsigned char>(c) < 0x20) return fail();  // raw control characters
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    if (pos_ >= text_.size()) return fail();
    const char e = text_[pos_++];
    switch (e) {
      case '"': out.push_back('"'); break;
      case '\\': out.push_back('\\'); break;
      case '/': out.push_back('/'); break;
      case 'b': out.push_back('\b'); break;
      case 'f': out.push_back('\f'); break;
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 't': out.push_back('\t'); break;
      case 'u': {
        unsigned cp;
        if (!read_hex4(cp)) return fail();
        if (cp >= 0xdc00 && cp <= 0xdfff) return fail();  // a lone low surrogate
        if (cp >= 0xd800 && cp <= 0xdbff) {               // a pair, or nothing
          unsigned low;
          if (text_.substr(pos_, 2) != "\\u") return fail();
          pos_ += 2;
          if (!read_hex4(low) || low < 0xdc00 || low > 0xdfff) return fail();
          cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
        }
        append_utf8(out, cp);
        break;
      }
      default: return fail();
    }
  }
  return fail();  // no closing quote
}

// number = [ "-" ] int [ frac ] [ exp ]; int = "0" / digit1-9 *DIGIT (RFC 8259 §6).
bool Reader::scan_number(std::string_view& text) {
  skip_ws();
  const std::size_t start = pos_;
  auto digits = [&] {
    const std::size_t from = pos_;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
    return pos_ - from;
  };
  if (pos_ < text_.size() && text_[pos_] == '-') ++pos_;
  if (pos_ < text_.size() && text_[pos_] == '0') {
    ++pos_;
  } else if (digits() == 0) {
    return false;
  }
  if (pos_ < text_.size() && text_[pos_] == '.') {
    ++pos_;
    if (digits() == 0) return false;
  }
  if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
    ++pos_;
    if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
    if (digits() == 0) return false;
  }
  RC_ASSERT(pos_ > start && pos_ <= text_.size());  // at least one digit, inside the text
  text = text_.substr(start, pos_ - start);
  return true;
}

bool Reader::read_number(double& out) {
  std::string_view text;
  if (!scan_number(text)) return fail();
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  // Out of range ("1e999") is refused rather than read as infinity.
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(out)) return fail();
  return true;
}

bool Reader::read_bool(bool& out) {
  skip_ws();
  const std::string_view rest = text_.substr(pos_);
  if (rest.substr(0, 4) == "true") {
    pos_ += 4;
    out = true;
    return true;
  }
  if (rest.substr(0, 5) == "false") {
    pos_ += 5;
    out = false;
    return true;
  }
  return fail();
}

bool Reader::skip_value(int depth) {
  if (depth >= kDepthMax) return fail();
  std::string scratch;
  switch (peek()) {
    case Kind::object: {
      const bool opened = begin_object();
      RC_ASSERT(opened);  // peek() saw the '{'
      bool first = true;
      while (next_member(first, scratch)) {
        if (!skip_value(depth + 1)) return false;
      }
      return !failed_;
    }
    case Kind::array: {
      const bool opened = begin_array();
      RC_ASSERT(opened);  // peek() saw the '['
      bool first = true;
      while (next_element(first)) {
        if (!skip_value(depth + 1)) return false;
      }
      return !failed_;
    }
    case Kind::string: return read_string(scratch);
    case Kind::number: {
      double ignored;
      return read_number(ignored);
    }
    case Kind::boolean: {
      bool ignored;
      return read_bool(ignored);
    }
    case Kind::null:
      if (text_.substr(pos_, 4) != "null") return fail();
      pos_ += 4;
      return true;
    default: return fail();
  }
}

bool Reader::finish() {
  skip_ws();
  RC_ASSERT(pos_ <= text_.size());  // no read ever stepped past the end
  return !failed_ && pos_ == text_.size();
}

}  // namespace ringcast::http::json
