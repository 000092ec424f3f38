#pragma once
// CORS (the Fetch standard's HTTP side) for a fixed list of origins given at start-up.
// A listed origin gets its own origin echoed with credentials allowed (EventSource with
// withCredentials, fetch with credentials: "include"); "*" in the list lets any other origin
// read without credentials (the standard forbids "*" together with credentials). The header
// text of every answer is built once here, so a stream's head stays static bytes.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ringcast::http {

// Most origins one --cors-origin list may hold (each costs a few stream heads per shard).
inline constexpr std::size_t kCorsOriginsMax = 32;
// How long a browser may cache a preflight answer.
inline constexpr std::uint32_t kCorsMaxAgeS = 600;

class CorsPolicy {
 public:
  // Slot 0: no CORS headers. Slot k > 0: the headers of origin k - 1 (or of "*").
  using Slot = std::uint16_t;

  // "https://a.example,http://127.0.0.1:8000" and/or "*". Each origin is scheme://host[:port]
  // as browsers send it (lower case, no path, no trailing '/'). Returns an empty string or
  // what is wrong.
  std::string configure(std::string_view list);
  bool enabled() const { return !entries_.empty(); }
  std::size_t slots() const { return entries_.size() + 1; }

  struct Decision {
    bool allowed = false;  // Origin is listed (or "*" is)
    Slot slot = 0;         // headers to add to every answer (0 when not allowed or no Origin)
  };
  // `origin` is the request's Origin header (empty: not a cross-origin request).
  Decision decide(std::string_view origin) const;

  // Header lines (each ending in CRLF) for answers and stream heads.
  std::string_view headers(Slot slot) const;
  // Header lines of a successful preflight for `methods` (e.g. "POST, OPTIONS").
  std::string preflight_headers(Slot slot, std::string_view methods) const;

 private:
  struct Entry {
    std::string origin;   // "*" for the wildcard
    std::string headers;  // Access-Control-Allow-Origin ... CRLF
  };
  std::vector<Entry> entries_;
  int wildcard_ = -1;  // index of "*" in entries_, if listed
};

}  // namespace ringcast::http
