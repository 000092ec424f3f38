#pragma once
// The server's io_uring side: streams held as direct descriptors in the fixed-file tables of
// several rings. One table may not be larger than RLIMIT_NOFILE (the kernel refuses it with
// EMFILE), so 100,000 streams need six rings of 16,667 slots. Stream s (accept order) lives in
// ring split.part_of(s), slot s % split.per_part.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bench/floor/options.h"
#include "bench/floor/send_ring.h"
#include "bench/floor/senders.h"

namespace ringcast::floorbench {

class RingSet {
 public:
  // Creates split.parts rings, each with `batch` SQ entries and an empty table of its share.
  std::string init(std::uint32_t batch, const Split& split);
  // Installs stream `stream`'s socket in its ring's table; `fd` may be closed afterwards.
  std::string install(std::uint32_t stream, int fd);

  // (b) io_uring on regular fds: every stream through the first ring, fds[i] being stream i.
  RoundResult send_regular(const std::vector<int>& fds, const char* event, std::size_t event_bytes,
                           Shortfall* shortfall, std::string* error);
  // (c) io_uring fixed: every stream through its ring's table, ring after ring, batches within
  // each ring as in (b). Wall time is from the first send to the last completion over all rings.
  RoundResult send_fixed(const char* event, std::size_t event_bytes, Shortfall* shortfall,
                         std::string* error);

  std::string describe() const;
  std::uint32_t rings() const { return split_.parts; }

 private:
  Split split_;
  std::vector<std::unique_ptr<SendRing>> rings_;  // SendRing owns a kernel ring: never moved
};

}  // namespace ringcast::floorbench
