#pragma once
// Query-string and percent-decoding helpers. No allocation except into the caller's string.
#include <string>
#include <string_view>

namespace ringcast::http {

// Decodes %XX escapes and '+' (as space, form style) from `in` into `out` (cleared first).
// Returns false on a malformed escape ("%", "%4", "%zz").
bool percent_decode(std::string_view in, std::string& out);

// Walks "a=1&b=2&a=3" pair by pair. Keys and values stay raw (not decoded); a pair without
// '=' has an empty value. Empty pairs ("a=1&&b=2") are skipped.
class QueryIter {
 public:
  explicit QueryIter(std::string_view query) : rest_(query) {}
  // Returns false when no pairs are left.
  bool next(std::string_view& key, std::string_view& value);

 private:
  std::string_view rest_;
};

}  // namespace ringcast::http
