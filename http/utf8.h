#pragma once
#include <string_view>

namespace ringcast::http {

// True if `bytes` is well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates
// (U+D800..U+DFFF), nothing above U+10FFFF, no truncated sequences.
bool valid_utf8(std::string_view bytes);

}  // namespace ringcast::http
