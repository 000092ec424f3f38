// The publish path's spares (shard.h, "shard_spares.cc"): a publish, its answer and its
// response reuse what earlier ones gave back, so once a few have gone by the only allocation a
// published event costs is its chunk (tests/alloc). Bounded: a burst leaves at most
// kSpareBuffers buffers of kSpareBufferBytes and kSparePublishes messages behind.
#include "base/assert.h"
#include "core/shard.h"

namespace ringcast {

namespace {
constexpr std::size_t kSpareBuffers = 64;
constexpr std::size_t kSpareBufferBytes = 4096;  // a larger one (a big answer) is freed
constexpr std::size_t kSparePublishes = 256;
}  // namespace

// The occupancy table is complete only in its own file; the rest goes here.
Shard::~Shard() {
  for (std::string* b : spare_buffers_) delete b;
  for (PublishMessage* m : spare_publishes_) delete m;
}

std::string* Shard::take_buffer() {
  if (spare_buffers_.empty()) return new std::string();
  std::string* b = spare_buffers_.back();
  spare_buffers_.pop_back();
  RC_ASSERT(b->empty());
  return b;
}

void Shard::give_back(std::string* buffer) {
  if (buffer == nullptr) return;
  if (spare_buffers_.size() >= kSpareBuffers || buffer->capacity() > kSpareBufferBytes) {
    delete buffer;
    return;
  }
  buffer->clear();
  spare_buffers_.push_back(buffer);
}

PublishMessage* Shard::take_publish() {
  PublishMessage* m;
  if (spare_publishes_.empty()) {
    m = new PublishMessage();
  } else {
    m = spare_publishes_.back();
    spare_publishes_.pop_back();
    m->reset();
  }
  m->origin_shard = index_;
  return m;
}

void Shard::recycle(PublishMessage* m) {
  const std::size_t held = m->topic.capacity() + m->event.capacity() + m->data.capacity();
  if (spare_publishes_.size() >= kSparePublishes || held > kSpareBufferBytes) {
    delete m;
    return;
  }
  spare_publishes_.push_back(m);
}

}  // namespace ringcast
