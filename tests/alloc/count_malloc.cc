// Interposes glibc's allocator entry points to count them (count_malloc.h). Each one forwards to
// glibc's own implementation (__libc_malloc and friends), so the program's memory behaves as
// usual; only a counter moves while counting is on. Frees are not counted: the question is how
// often the publish path goes to the allocator, and every free follows an allocation.
#include "tests/alloc/count_malloc.h"

#include <atomic>
#include <cerrno>
#include <cstddef>

extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
}

namespace {
std::atomic<bool> counting{false};
std::atomic<std::uint64_t> allocations{0};

void note() {
  if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1, std::memory_order_relaxed);
}
}  // namespace

namespace ringcast::alloc_count {
void start() {
  allocations.store(0);
  counting.store(true);
}
std::uint64_t stop() {
  counting.store(false);
  return allocations.load();
}
}  // namespace ringcast::alloc_count

extern "C" {
void* malloc(std::size_t n) {
  note();
  return __libc_malloc(n);
}
void* calloc(std::size_t count, std::size_t n) {
  note();
  return __libc_calloc(count, n);
}
void* realloc(void* p, std::size_t n) {
  note();
  return __libc_realloc(p, n);
}
void* memalign(std::size_t alignment, std::size_t n) {
  note();
  return __libc_memalign(alignment, n);
}
void* aligned_alloc(std::size_t alignment, std::size_t n) {
  note();
  return __libc_memalign(alignment, n);
}
int posix_memalign(void** out, std::size_t alignment, std::size_t n) {
  note();
  void* p = __libc_memalign(alignment, n);
  if (p == nullptr) return ENOMEM;
  *out = p;
  return 0;
}
}
