#pragma once
#include <string>

namespace ringcast::net {

// Checks that the running kernel has every io_uring feature ringcast needs. Returns an empty
// string if so, else a message naming the first missing feature and the kernel version.
std::string probe_io_uring();

}  // namespace ringcast::net
