#pragma once
// One blocking hiredis connection to Redis, owned by one bridge thread: connect (with a
// timeout), AUTH, SELECT, and capped exponential backoff between failed attempts. Every call
// is bounded by the socket timeout, so a dead Redis never blocks a bridge thread for long;
// no shard ever calls into this.
#include <hiredis/hiredis.h>

#include <cstdint>
#include <memory>
#include <string>

#include "core/config.h"
#include "redis/protocol.h"

namespace ringcast::redis {

struct ReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyFree>;

class Link {
 public:
  static constexpr std::uint32_t kBackoffMinMs = 100;
  static constexpr std::uint32_t kBackoffMaxMs = 5000;

  Link(const Config& config, std::uint32_t io_timeout_ms) : config_(config), timeout_ms_(io_timeout_ms) {}
  ~Link();
  Link(const Link&) = delete;

  bool connected() const { return ctx_ != nullptr; }
  // Connects unless connected or backing off. Returns connected(); `error` says why not.
  bool ensure(std::uint64_t now_ms, std::string& error);
  // Milliseconds until the next attempt is allowed (0 when connected or due).
  std::uint64_t backoff_left(std::uint64_t now_ms) const;

  // One command and its reply; nullptr on an IO error or timeout (the link is then dropped,
  // `last_error()` says why).
  Reply command(const Command& command);
  // Pipelining: queue commands, then read their replies in order.
  void append(const Command& command);
  Reply reply();
  const std::string& last_error() const { return error_; }
  void drop(std::string why);

 private:
  const Config& config_;
  std::uint32_t timeout_ms_;
  redisContext* ctx_ = nullptr;
  std::uint32_t backoff_ms_ = 0;
  std::uint64_t next_attempt_ms_ = 0;
  std::string error_;
};

}  // namespace ringcast::redis
