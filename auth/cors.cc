#include "auth/cors.h"

namespace ringcast::http {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// scheme "://" host [":" port], the serialization browsers put in Origin. Host characters
// are kept to what a host name or IP literal uses, which also keeps CR/LF out of headers.
bool valid_origin(std::string_view o) {
  const std::size_t sep = o.find("://");
  if (sep == std::string_view::npos || sep == 0) return false;
  for (char c : o.substr(0, sep)) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'))
      return false;
  }
  const std::string_view host = o.substr(sep + 3);
  if (host.empty()) return false;
  for (char c : host) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
                    c == ':' || c == '[' || c == ']';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

std::string CorsPolicy::configure(std::string_view list) {
  entries_.clear();
  wildcard_ = -1;
  while (!list.empty()) {
    const std::size_t comma = list.find(',');
    const std::string_view origin = trim(list.substr(0, comma));
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
    if (origin.empty()) continue;
    if (origin != "*" && !valid_origin(origin)) {
      return "'" + std::string(origin) + "' is not an origin (scheme://host[:port], lower case)";
    }
    if (entries_.size() >= kCorsOriginsMax) return "more than 32 origins";
    Entry e;
    e.origin = std::string(origin);
    if (origin == "*") {
      wildcard_ = int(entries_.size());
      e.headers = "Access-Control-Allow-Origin: *\r\n";
    } else {
      // Vary: Origin, because the answer differs by Origin; credentials only for a named origin.
      e.headers = "Access-Control-Allow-Origin: " + e.origin +
                  "\r\nAccess-Control-Allow-Credentials: true\r\nVary: Origin\r\n";
    }
    entries_.push_back(std::move(e));
  }
  if (entries_.empty()) return "the list names no origin";
  return {};
}

CorsPolicy::Decision CorsPolicy::decide(std::string_view origin) const {
  if (origin.empty() || entries_.empty()) return {};
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    if (int(i) != wildcard_ && entries_[i].origin == origin) return {true, Slot(i + 1)};
  }
  if (wildcard_ >= 0) return {true, Slot(wildcard_ + 1)};
  return {};
}

std::string_view CorsPolicy::headers(Slot slot) const {
  if (slot == 0 || slot > entries_.size()) return {};
  return entries_[slot - 1].headers;
}

std::string CorsPolicy::preflight_headers(Slot slot, std::string_view methods) const {
  std::string out(headers(slot));
  out += "Access-Control-Allow-Methods: ";
  out += methods;
  out += "\r\nAccess-Control-Allow-Headers: Authorization, Content-Type, Last-Event-ID\r\n"
         "Access-Control-Max-Age: ";
  out += std::to_string(kCorsMaxAgeS);
  out += "\r\n";
  return out;
}

}  // namespace ringcast::http
