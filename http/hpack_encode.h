#pragma once
// HPACK (RFC 7541) for the headers we send: a response's :status and fields, each written as a
// literal never entered into a dynamic table (we keep no encoder table, so a connection holds
// no encoder state at all; any SETTINGS_HEADER_TABLE_SIZE the peer announces is honoured by
// never using it). Names found in the static table are written by index; strings are not
// Huffman-coded (our fields are short; the CPU is better spent elsewhere). Pure, no IO.
#include <cstdint>
#include <string>
#include <string_view>

namespace ringcast::http::hpack {

// Appends an HPACK integer with an `prefix_bits`-bit prefix; `first` holds the bits above it.
void append_int(std::string& out, std::uint8_t first, int prefix_bits, std::uint64_t value);

// The static table index (1..61) of a header name, 0 if it has none. `name` is lower case.
int static_name_index(std::string_view name);

// Appends ":status" (indexed when the static table has the code).
void append_status(std::string& out, int status);

// Appends one field as a literal without indexing. `name` is lower case.
void append_field(std::string& out, std::string_view name, std::string_view value);

}  // namespace ringcast::http::hpack
