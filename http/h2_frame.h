#pragma once
// HTTP/2 wire constants (RFC 9113 §6, §7, §11) and the 9-byte frame header, as pure functions.
// The session (http/h2_session.cc) parses and frames with these; the HPACK encoder
// (http/hpack_encode.h) writes the header blocks they carry.
#include <cstddef>
#include <cstdint>
#include <string>

namespace ringcast::http::h2 {

inline constexpr std::size_t kFrameHeaderBytes = 9;
// SETTINGS_MAX_FRAME_SIZE: we never raise it, so no peer frame may exceed it, and we never send
// a larger one whatever the peer allows.
inline constexpr std::uint32_t kMaxFramePayload = 16384;
inline constexpr std::int32_t kMaxWindow = 0x7fffffff;
inline constexpr std::int32_t kDefaultWindow = 65535;

enum Type : std::uint8_t {
  kData = 0x0,
  kHeaders = 0x1,
  kPriority = 0x2,
  kRstStream = 0x3,
  kSettings = 0x4,
  kPushPromise = 0x5,
  kPing = 0x6,
  kGoaway = 0x7,
  kWindowUpdate = 0x8,
  kContinuation = 0x9,
};

enum Flag : std::uint8_t {
  kEndStream = 0x1,
  kAck = 0x1,
  kEndHeaders = 0x4,
  kPadded = 0x8,
  kPriorityFlag = 0x20,
};

enum Error : std::uint32_t {
  kNoError = 0x0,
  kProtocolError = 0x1,
  kInternalError = 0x2,
  kFlowControlError = 0x3,
  kStreamClosed = 0x5,
  kFrameSizeError = 0x6,
  kRefusedStream = 0x7,
  kCancel = 0x8,
  kCompressionError = 0x9,
  kEnhanceYourCalm = 0xb,
};

enum Setting : std::uint16_t {
  kHeaderTableSize = 0x1,
  kEnablePush = 0x2,
  kMaxConcurrentStreams = 0x3,
  kInitialWindowSize = 0x4,
  kMaxFrameSize = 0x5,
  kMaxHeaderListSize = 0x6,
  kNoRfc7540Priorities = 0x9,
};

struct FrameHead {
  std::uint32_t length;
  std::uint8_t type;
  std::uint8_t flags;
  std::int32_t stream;  // the reserved bit cleared
};

inline std::uint32_t read_u32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

inline FrameHead read_frame_head(const std::uint8_t* p) {
  return {(std::uint32_t{p[0]} << 16) | (std::uint32_t{p[1]} << 8) | std::uint32_t{p[2]}, p[3], p[4],
          static_cast<std::int32_t>(read_u32(p + 5) & 0x7fffffffu)};
}

inline void write_frame_head(std::uint8_t* p, std::uint32_t length, std::uint8_t type,
                             std::uint8_t flags, std::int32_t stream) {
  p[0] = static_cast<std::uint8_t>(length >> 16);
  p[1] = static_cast<std::uint8_t>(length >> 8);
  p[2] = static_cast<std::uint8_t>(length);
  p[3] = type;
  p[4] = flags;
  const auto s = static_cast<std::uint32_t>(stream);
  p[5] = static_cast<std::uint8_t>(s >> 24);
  p[6] = static_cast<std::uint8_t>(s >> 16);
  p[7] = static_cast<std::uint8_t>(s >> 8);
  p[8] = static_cast<std::uint8_t>(s);
}

inline void append_u32(std::string& out, std::uint32_t v) {
  out += static_cast<char>(v >> 24);
  out += static_cast<char>(v >> 16);
  out += static_cast<char>(v >> 8);
  out += static_cast<char>(v);
}

// Appends a whole frame (header and payload) to `out`.
inline void append_frame(std::string& out, std::uint8_t type, std::uint8_t flags,
                         std::int32_t stream, const void* payload, std::size_t length) {
  std::uint8_t head[kFrameHeaderBytes];
  write_frame_head(head, static_cast<std::uint32_t>(length), type, flags, stream);
  out.append(reinterpret_cast<const char*>(head), kFrameHeaderBytes);
  if (length > 0) out.append(static_cast<const char*>(payload), length);
}

}  // namespace ringcast::http::h2
