#pragma once
// A minimal JSON writer for the final report: objects, numbers, strings, booleans, null.
// Keys and strings written here are our own ASCII (no escaping beyond quotes/backslashes).
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace ringcast::load {

class Json {
 public:
  Json& open(std::string_view key = {}) {
    begin(key);
    out_ += '{';
    first_.push_back(true);
    return *this;
  }
  Json& close() {
    out_ += '}';
    first_.pop_back();
    return *this;
  }
  Json& num(std::string_view key, double v, int decimals = 3) {
    begin(key);
    if (!std::isfinite(v)) {
      out_ += "null";
      return *this;
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    out_ += buf;
    return *this;
  }
  Json& u64(std::string_view key, std::uint64_t v) {
    begin(key);
    out_ += std::to_string(v);
    return *this;
  }
  Json& boolean(std::string_view key, bool v) {
    begin(key);
    out_ += v ? "true" : "false";
    return *this;
  }
  Json& null(std::string_view key) {
    begin(key);
    out_ += "null";
    return *this;
  }
  Json& str(std::string_view key, std::string_view v) {
    begin(key);
    quote(v);
    return *this;
  }
  const std::string& text() const { return out_; }

 private:
  void begin(std::string_view key) {
    if (!first_.empty()) {
      if (!first_.back()) out_ += ',';
      first_.back() = false;
    }
    if (!key.empty()) {
      quote(key);
      out_ += ':';
    }
  }
  void quote(std::string_view s) {
    out_ += '"';
    for (char c : s) {
      if (c == '"' || c == '\\') out_ += '\\';
      if (static_cast<unsigned char>(c) < 0x20) c = ' ';
      out_ += c;
    }
    out_ += '"';
  }

  std::string out_;
  std::vector<bool> first_;
};

}  // namespace ringcast::load
