#include "net/uring_setup.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/assert.h"

namespace ringcast::net {

namespace {

constexpr unsigned kDeferred[] = {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
                                  IORING_SETUP_COOP_TASKRUN, 0};
constexpr unsigned kPosted[] = {IORING_SETUP_SINGLE_ISSUER, 0};
constexpr unsigned kPlain[] = {0};

std::string errno_text(const char* what, int err) {
  return std::string(what) + ": " + std::strerror(err);
}

}  // namespace

std::span<const unsigned> task_work_candidates(TaskWork mode) {
  switch (mode) {
    case TaskWork::deferred: return kDeferred;
    case TaskWork::posted: return kPosted;
    case TaskWork::plain: return kPlain;
  }
  RC_ASSERT(false);
  return {};
}

std::string uring_setup(io_uring& ring, const UringSetup& setup, UringMade& made,
                        UringInitFn init) {
  RC_ASSERT(setup.sq_entries > 0 && init != nullptr);
  unsigned base = 0;
  if (setup.cq_entries > 0) base |= IORING_SETUP_CQSIZE;
  if (setup.clamp) base |= IORING_SETUP_CLAMP;
  if (setup.submit_all) base |= IORING_SETUP_SUBMIT_ALL;
  int rc = -EINVAL;
  for (const unsigned task_flags : task_work_candidates(setup.task_work)) {
    io_uring_params params{};
    params.flags = base | task_flags;
    if (setup.cq_entries > 0) params.cq_entries = std::max(setup.cq_entries, setup.sq_entries);
    rc = init(setup.sq_entries, &ring, &params);
    if (rc == 0) {
      made = {params.flags, params.features, params.sq_entries, params.cq_entries};
      break;
    }
    // EINVAL: a flag this kernel does not know (SINGLE_ISSUER and DEFER_TASKRUN are 6.0/6.1,
    // COOP_TASKRUN 5.19); try fewer. Any other errno is not about flags: stop at once.
    if (rc != -EINVAL) break;
  }
  if (rc != 0) return errno_text("io_uring_queue_init_params", -rc);
  if ((made.features & setup.required_features) != setup.required_features) {
    io_uring_queue_exit(&ring);
    return std::string("io_uring lacks ") + setup.required_why;
  }
  if (setup.sparse_files > 0) {
    rc = io_uring_register_files_sparse(&ring, setup.sparse_files);
    if (rc != 0) {
      // EMFILE: the table may not exceed RLIMIT_NOFILE. ENOMEM: no memory for it.
      io_uring_queue_exit(&ring);
      return errno_text("io_uring_register_files_sparse", -rc);
    }
  }
  return {};
}

std::string task_work_text(unsigned flags) {
  std::string text;
  for (const auto& [flag, name] : {std::pair{IORING_SETUP_SINGLE_ISSUER, "SINGLE_ISSUER"},
                                   std::pair{IORING_SETUP_DEFER_TASKRUN, "DEFER_TASKRUN"},
                                   std::pair{IORING_SETUP_COOP_TASKRUN, "COOP_TASKRUN"}}) {
    if ((flags & flag) == 0) continue;
    if (!text.empty()) text += ' ';
    text += name;
  }
  return text;
}

}  // namespace ringcast::net
