#pragma once
// What a completion belongs to, packed into its 64-bit user data: the operation (8 bits), the
// connection attempt's generation (16 bits, so a completion of an earlier attempt on a reused
// slot is recognised and ignored) and the ring-local slot (32 bits, also the fixed-file index).
#include <cstdint>

namespace ringcast::load {

namespace op {
constexpr std::uint8_t socket = 1;    // only failures post (CQE_SKIP_SUCCESS)
constexpr std::uint8_t bind = 2;      // only failures post
constexpr std::uint8_t connect = 3;   // streams: only failures post; publishers: always
constexpr std::uint8_t request = 4;   // a stream's GET
constexpr std::uint8_t recv = 5;
constexpr std::uint8_t cancel = 6;    // only failures post
constexpr std::uint8_t publish = 7;   // a publisher's POST
constexpr std::uint8_t close = 8;     // only failures post
constexpr std::uint8_t tls_send = 9;  // --tls: a stream's handshake flight or encrypted GET
}  // namespace op

inline std::uint64_t make_user_data(std::uint8_t what, std::uint16_t gen, std::uint32_t slot) {
  return (std::uint64_t(what) << 56) | (std::uint64_t(gen) << 32) | slot;
}
inline std::uint8_t op_of(std::uint64_t ud) { return std::uint8_t(ud >> 56); }
inline std::uint16_t gen_of(std::uint64_t ud) { return std::uint16_t(ud >> 32); }
inline std::uint32_t slot_of(std::uint64_t ud) { return std::uint32_t(ud); }

}  // namespace ringcast::load
