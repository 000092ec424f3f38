#pragma once
// Counts the process's heap allocations (malloc and everything built on it: operator new,
// std::string, std::vector) between start() and stop(). count_malloc.cc interposes malloc,
// calloc, realloc and the aligned forms over glibc's, so this works only in a build without
// sanitizers (they interpose the same symbols) and without mimalloc linked in.
#include <cstdint>

namespace ringcast::alloc_count {

void start();
std::uint64_t stop();  // allocations since start()

}  // namespace ringcast::alloc_count
