#pragma once
// base64url (RFC 4648 §5) as JWS uses it (RFC 7515 §2): no padding, no line breaks.
#include <string>
#include <string_view>

namespace ringcast::http {

// Decodes `in` into `out`. False for a character outside A-Z a-z 0-9 - _, any '=' padding,
// a length no encoding can have (n % 4 == 1), or non-zero unused bits in the last character
// (so every byte string has exactly one accepted encoding).
bool base64url_decode(std::string_view in, std::string& out);

std::string base64url_encode(std::string_view in);

}  // namespace ringcast::http
