#pragma once
// A small strict JSON reader (RFC 8259) for the few JWT members the server reads: it walks
// one text without building a tree, decodes strings (escapes and surrogate pairs into UTF-8)
// and skips values it does not need, validating them all the same. No allocation beyond the
// strings the caller asks for. Nesting deeper than kDepthMax is refused.
#include <cstddef>
#include <string>
#include <string_view>

namespace ringcast::http::json {

inline constexpr int kDepthMax = 16;

enum class Kind : unsigned char { object, array, string, number, boolean, null, end, invalid };

class Reader {
 public:
  explicit Reader(std::string_view text) : text_(text) {}

  Kind peek();  // kind of the next value (skips whitespace); `end` if nothing is left
  // Objects and arrays: call begin_*, then loop on next_member / next_element. They return
  // false at the closing bracket (failed() is false) or on a syntax error (failed() is true).
  bool begin_object();
  bool next_member(bool& first, std::string& key);
  bool begin_array();
  bool next_element(bool& first);
  bool read_string(std::string& out);
  bool read_number(double& out);
  bool read_bool(bool& out);
  bool skip_value(int depth = 0);
  // True when only whitespace is left and nothing failed.
  bool finish();
  bool failed() const { return failed_; }

 private:
  void skip_ws();
  bool consume(char ch);
  bool fail() { failed_ = true; return false; }
  bool scan_number(std::string_view& text);
  bool read_hex4(unsigned& out);

  std::string_view text_;
  std::size_t pos_ = 0;
  bool failed_ = false;
};

}  // namespace ringcast::http::json
