#include "tools/load/http_response.h"

#include <algorithm>
#include <charconv>
#include <cstring>

namespace ringcast::load {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = char(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = char(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// "HTTP/1.1 202 Accepted" -> 202; 0 if it is not a status line.
int status_of(std::string_view line) {
  if (line.substr(0, 5) != "HTTP/" || line.size() < 12 || line[8] != ' ') return 0;
  int status = 0;
  auto r = std::from_chars(line.data() + 9, line.data() + 12, status);
  return r.ec == std::errc() && r.ptr == line.data() + 12 ? status : 0;
}

}  // namespace

std::size_t ResponseReader::feed(std::string_view bytes) {
  const std::size_t n = std::min(bytes.size(), buf_.size() - len_);
  std::memcpy(buf_.data() + len_, bytes.data(), n);
  len_ += n;
  return n;
}

ReadStatus ResponseReader::parse(HttpResponse& out) const {
  const std::string_view all(buf_.data(), len_);
  const std::size_t head_end = all.find("\r\n\r\n");
  if (head_end == std::string_view::npos)
    return len_ == buf_.size() ? ReadStatus::too_large : ReadStatus::incomplete;
  std::string_view head = all.substr(0, head_end);
  const std::size_t first_eol = head.find("\r\n");
  out = HttpResponse();
  out.status = status_of(head.substr(0, first_eol));
  if (out.status == 0) return ReadStatus::malformed;
  std::size_t content_length = 0;
  head.remove_prefix(first_eol == std::string_view::npos ? head.size() : first_eol + 2);
  // Bounded by the head's size: every pass consumes a line.
  while (!head.empty()) {
    const std::size_t eol = head.find("\r\n");
    const std::string_view line = head.substr(0, eol);
    head.remove_prefix(eol == std::string_view::npos ? head.size() : eol + 2);
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return ReadStatus::malformed;
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = trim(line.substr(colon + 1));
    if (iequals(name, "content-length")) {
      auto r = std::from_chars(value.data(), value.data() + value.size(), content_length);
      if (r.ec != std::errc() || r.ptr != value.data() + value.size()) return ReadStatus::malformed;
    } else if (iequals(name, "connection") && iequals(value, "close")) {
      out.close = true;
    } else if (iequals(name, "transfer-encoding") && !iequals(value, "identity")) {
      return ReadStatus::unsupported;
    }
  }
  const std::size_t body_at = head_end + 4;
  if (content_length > buf_.size() - body_at) return ReadStatus::too_large;
  if (len_ < body_at + content_length) return ReadStatus::incomplete;
  out.body = all.substr(body_at, content_length);
  return ReadStatus::complete;
}

void ResponseReader::consume(const HttpResponse& r) {
  const std::size_t used = std::size_t(r.body.data() + r.body.size() - buf_.data());
  std::memmove(buf_.data(), buf_.data() + used, len_ - used);
  len_ -= used;
}

bool id_from_ack(std::string_view body, EventId& out) {
  constexpr std::string_view kKey = "\"id\":\"";
  const std::size_t at = body.find(kKey);
  if (at == std::string_view::npos) return false;
  const std::string_view rest = body.substr(at + kKey.size());
  const std::size_t end = rest.find('"');
  if (end == std::string_view::npos) return false;
  return parse_event_id(rest.substr(0, end), out);
}

}  // namespace ringcast::load
