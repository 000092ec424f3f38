#include "http/h2_head.h"

#include "base/assert.h"

namespace ringcast::http {

namespace {

bool equals_lower(std::string_view name, std::string_view lower) {
  if (name.size() != lower.size()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char ch = name[i];
    if (ch >= 'A' && ch <= 'Z') ch = char(ch - 'A' + 'a');
    if (ch != lower[i]) return false;
  }
  return true;
}

bool connection_specific(std::string_view name) {
  return equals_lower(name, "connection") || equals_lower(name, "keep-alive") ||
         equals_lower(name, "proxy-connection") || equals_lower(name, "transfer-encoding") ||
         equals_lower(name, "upgrade");
}

std::string_view trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

}  // namespace

bool parse_h1_head(std::string_view bytes, H1Head& head, std::string& names) {
  head = H1Head{};
  const std::size_t end = bytes.find("\r\n\r\n");
  if (end == std::string_view::npos || bytes.substr(0, 9) != "HTTP/1.1 " || end < 12) return false;
  const std::string_view code = bytes.substr(9, 3);
  for (char ch : code) {
    if (ch < '0' || ch > '9') return false;
  }
  head.status = (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');
  if (head.status < 100) return false;
  head.head_bytes = end + 4;
  names.clear();
  names.reserve(end);  // every lower-cased name fits: views into it never move
  std::size_t line = bytes.find("\r\n") + 2;
  while (line < end + 2) {
    const std::size_t eol = bytes.find("\r\n", line);
    RC_ASSERT(eol != std::string_view::npos && eol <= end);  // the head ends with "\r\n\r\n"
    const std::string_view field = bytes.substr(line, eol - line);
    line = eol + 2;
    const std::size_t colon = field.find(':');
    if (colon == std::string_view::npos || colon == 0) return false;
    const std::string_view name = field.substr(0, colon);
    const std::string_view value = trim(field.substr(colon + 1));
    if (connection_specific(name)) continue;
    if (equals_lower(name, "content-type")) {
      head.content_type = value;
      continue;
    }
    if (head.field_count == H1Head::kFieldsMax) return false;
    const std::size_t at = names.size();
    for (char ch : name) names += (ch >= 'A' && ch <= 'Z') ? char(ch - 'A' + 'a') : ch;
    RC_ASSERT(names.size() <= end);  // within the reservation
    head.fields[head.field_count++] = {std::string_view(names).substr(at, name.size()), value};
  }
  return true;
}

}  // namespace ringcast::http
