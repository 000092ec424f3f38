#include "redis/link.h"

#include <sys/time.h>

#include <algorithm>
#include <vector>

namespace ringcast::redis {

namespace {
timeval to_timeval(std::uint32_t ms) { return {time_t(ms / 1000), suseconds_t((ms % 1000) * 1000)}; }
}  // namespace

Link::~Link() {
  if (ctx_ != nullptr) redisFree(ctx_);
}

std::uint64_t Link::backoff_left(std::uint64_t now_ms) const {
  if (ctx_ != nullptr || now_ms >= next_attempt_ms_) return 0;
  return next_attempt_ms_ - now_ms;
}

bool Link::ensure(std::uint64_t now_ms, std::string& error) {
  if (ctx_ != nullptr) return true;
  if (now_ms < next_attempt_ms_) {
    error = error_;
    return false;
  }
  // Capped exponential backoff: 100 ms, 200 ms, ... 5 s between attempts while Redis is down.
  backoff_ms_ = backoff_ms_ == 0 ? kBackoffMinMs : std::min(backoff_ms_ * 2, kBackoffMaxMs);
  next_attempt_ms_ = now_ms + backoff_ms_;
  ctx_ = redisConnectWithTimeout(config_.redis_host.c_str(), config_.redis_port,
                                 to_timeval(std::min<std::uint32_t>(timeout_ms_, 1000)));
  if (ctx_ == nullptr || ctx_->err != 0) {
    error_ = ctx_ != nullptr ? ctx_->errstr : "out of memory";
    if (ctx_ != nullptr) redisFree(ctx_);
    ctx_ = nullptr;
    error = error_;
    return false;
  }
  redisSetTimeout(ctx_, to_timeval(timeout_ms_));
  std::vector<Command> setup;
  if (!config_.redis_password.empty()) setup.push_back(auth(config_.redis_password));
  if (config_.redis_db != 0) setup.push_back(select(config_.redis_db));
  for (const Command& c : setup) {
    Reply r = command(c);
    if (!r || r->type == REDIS_REPLY_ERROR) {
      if (r) drop(std::string(c[0]) + ": " + error_text(r.get()));
      error = error_;
      return false;
    }
  }
  backoff_ms_ = 0;
  error_.clear();
  return true;
}

void Link::drop(std::string why) {
  error_ = std::move(why);
  if (ctx_ != nullptr) redisFree(ctx_);
  ctx_ = nullptr;
}

void Link::append(const Command& command) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  for (const std::string& arg : command) {
    argv.push_back(arg.data());
    lens.push_back(arg.size());
  }
  if (ctx_ != nullptr) redisAppendCommandArgv(ctx_, int(argv.size()), argv.data(), lens.data());
}

Reply Link::reply() {
  if (ctx_ == nullptr) return nullptr;
  void* raw = nullptr;
  if (redisGetReply(ctx_, &raw) != REDIS_OK || raw == nullptr) {
    // REDIS_ERR_IO (reset, EOF), REDIS_ERR_EOF, REDIS_ERR_PROTOCOL, a timeout (EAGAIN):
    // the connection's state is unknown after any of them, so it is dropped and rebuilt.
    drop(ctx_->errstr[0] != '\0' ? ctx_->errstr : "connection lost");
    return nullptr;
  }
  return Reply(static_cast<redisReply*>(raw));
}

Reply Link::command(const Command& c) {
  append(c);
  return reply();
}

}  // namespace ringcast::redis
