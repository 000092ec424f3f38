#pragma once
// One io_uring setup for every ring ringcast makes: the server's shard rings (uring_ring.h), its
// doorbell ring (uring_waker.h), the load generator's rings (tools/load/ring.h) and the kernel
// floor's send rings (bench/floor/send_ring.h). It tries the task-work flags a ring wants and
// falls back, one step at a time, on kernels that do not know them; sizes the completion
// queue; and registers a sparse fixed-file table. It depends on liburing alone, so the tools
// link it without the rest of net/.
#include <liburing.h>

#include <cstdint>
#include <span>
#include <string>

namespace ringcast::net {

// How the kernel runs the ring's task work (completions that need the submitting task).
enum class TaskWork : std::uint8_t {
  // A ring its thread waits on itself: SINGLE_ISSUER|DEFER_TASKRUN (task work runs only when
  // the thread enters the ring to wait, the cheapest for a thread-per-core loop), else
  // COOP_TASKRUN (Linux 5.19: no IPI to interrupt the thread), else neither.
  deferred,
  // A ring whose completions must be posted without the thread entering it (it is watched
  // through another ring's poll or an eventfd): SINGLE_ISSUER, else nothing.
  posted,
  // No task-work flags: a ring used from more than one thread, or for a handful of messages.
  plain,
};

// The flag sets tried in order for `mode`; EINVAL (a flag the kernel does not know, or a
// combination it refuses) moves on to the next.
std::span<const unsigned> task_work_candidates(TaskWork mode);

struct UringSetup {
  std::uint32_t sq_entries = 0;
  // 0: the kernel's default (twice sq_entries). Else IORING_SETUP_CQSIZE with at least
  // sq_entries (the kernel refuses fewer).
  std::uint32_t cq_entries = 0;
  bool clamp = false;       // IORING_SETUP_CLAMP: sizes above the kernel's maxima are lowered
  bool submit_all = true;   // IORING_SETUP_SUBMIT_ALL: one bad SQE does not stop a batch
  TaskWork task_work = TaskWork::deferred;
  std::uint32_t sparse_files = 0;  // a fixed-file table of this many empty slots (0: none)
  // IORING_FEAT_* bits the ring must offer; `required_why` names them in the error.
  unsigned required_features = 0;
  const char* required_why = "";
};

// What the kernel made.
struct UringMade {
  unsigned flags = 0;     // the setup flags it accepted
  unsigned features = 0;  // IORING_FEAT_*
  unsigned sq_entries = 0;
  unsigned cq_entries = 0;
};

// io_uring_queue_init_params, replaceable in tests to act as an older kernel.
using UringInitFn = int (*)(unsigned entries, io_uring* ring, io_uring_params* params);

// Sets `ring` up. Returns an empty string with the ring ready (the caller calls
// io_uring_queue_exit), or what failed with the errno's text, and no ring to exit:
//   io_uring_queue_init_params: ENOMEM (locked memory, RLIMIT_MEMLOCK before 5.12), EPERM
//     (io_uring disabled: kernel.io_uring_disabled), ENOSYS (no io_uring), EINVAL after the
//     last fallback (a size out of range);
//   io_uring_register_files_sparse: EMFILE (a table larger than RLIMIT_NOFILE), ENOMEM.
std::string uring_setup(io_uring& ring, const UringSetup& setup, UringMade& made,
                        UringInitFn init = io_uring_queue_init_params);

// "SINGLE_ISSUER DEFER_TASKRUN": the task-work flags set, space-separated (empty: none), for
// the start-up lines that say which mode a ring runs in.
std::string task_work_text(unsigned flags);

}  // namespace ringcast::net
