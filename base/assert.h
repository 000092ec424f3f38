#pragma once
// Invariant checks that stay on in every build type: a broken invariant in a server that holds
// a million sockets must stop the process loudly, not corrupt a stream quietly.
#include <cstdio>
#include <cstdlib>

#define RC_ASSERT(cond)                                                                  \
  do {                                                                                   \
    if (__builtin_expect(!(cond), 0)) {                                                  \
      std::fprintf(stderr, "ringcast: assertion failed: %s at %s:%d\n", #cond, __FILE__, \
                   __LINE__);                                                            \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)
