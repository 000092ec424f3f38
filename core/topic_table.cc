#include "core/topic_table.h"

#include "base/assert.h"

namespace ringcast {

std::uint32_t TopicTable::find(std::string_view name) const {
  const auto it = by_name_.find(name);
  return it == by_name_.end() ? nil : it->second;
}

std::uint32_t TopicTable::create(std::string_view name, History::Limits limits) {
  RC_ASSERT(!name.empty() && find(name) == nil);
  Topic fresh{std::string(name), History(limits)};
  std::uint32_t index;
  if (!free_.empty()) {
    index = free_.back();
    free_.pop_back();
    RC_ASSERT(topics_[index].name.empty());
    topics_[index] = std::move(fresh);
  } else {
    index = static_cast<std::uint32_t>(topics_.size());
    topics_.push_back(std::move(fresh));
  }
  by_name_.emplace(std::string(name), index);
  return index;
}

void TopicTable::free(std::uint32_t index, History::Limits limits) {
  Topic& t = topics_[index];
  RC_ASSERT(!t.name.empty());
  by_name_.erase(t.name);
  t = Topic{std::string(), History(limits)};
  free_.push_back(index);
}

}  // namespace ringcast
