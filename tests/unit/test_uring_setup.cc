// net/uring_setup.h: the one io_uring setup of the server, ringcast-load and kernel_floor.
// Older kernels are played by a stand-in for io_uring_queue_init_params that refuses flags.
#include "net/uring_setup.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace ringcast::net {
namespace {

// What the stand-in saw, and which flags it refuses with `refusal`.
std::vector<unsigned> g_tried;
unsigned g_refused_flags = 0;
int g_refusal = -EINVAL;

int older_kernel(unsigned entries, io_uring* ring, io_uring_params* params) {
  g_tried.push_back(params->flags);
  if ((params->flags & g_refused_flags) != 0 || g_refused_flags == ~0u) return g_refusal;
  return io_uring_queue_init_params(entries, ring, params);
}

void act_as(unsigned refused_flags, int refusal = -EINVAL) {
  g_tried.clear();
  g_refused_flags = refused_flags;
  g_refusal = refusal;
}

constexpr unsigned kTaskFlags =
    IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_COOP_TASKRUN;

TEST(UringSetup, MakesARingWithItsFileTable) {
  io_uring ring{};
  UringSetup setup;
  setup.sq_entries = 64;
  setup.cq_entries = 256;
  setup.sparse_files = 16;
  UringMade made;
  // The kernels ringcast supports (6.1+) have every flag; a failure here is a broken machine,
  // not a missing feature (as in test_waker: fail, do not skip).
  ASSERT_EQ(uring_setup(ring, setup, made), "");
  EXPECT_EQ(made.flags & kTaskFlags, IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN);
  EXPECT_TRUE(made.flags & IORING_SETUP_CQSIZE);
  EXPECT_TRUE(made.flags & IORING_SETUP_SUBMIT_ALL);
  EXPECT_EQ(made.sq_entries, 64u);
  EXPECT_EQ(made.cq_entries, 256u);
  EXPECT_EQ(task_work_text(made.flags), "SINGLE_ISSUER DEFER_TASKRUN");
  // The sparse table exists: slot 15 takes a descriptor, slot 16 is past its end.
  int fd = dup(STDERR_FILENO);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(io_uring_register_files_update(&ring, 15, &fd, 1), 1);
  EXPECT_LT(io_uring_register_files_update(&ring, 16, &fd, 1), 0);
  close(fd);
  io_uring_queue_exit(&ring);
}

TEST(UringSetup, CompletionQueueIsNeverSmallerThanTheSubmissionQueue) {
  io_uring ring{};
  UringSetup setup;
  setup.sq_entries = 128;
  setup.cq_entries = 16;  // the kernel would refuse CQSIZE below the SQ with EINVAL
  UringMade made;
  ASSERT_EQ(uring_setup(ring, setup, made), "");
  EXPECT_EQ(made.cq_entries, 128u);
  io_uring_queue_exit(&ring);
}

TEST(UringSetup, EachModeFallsBackOneStepAtATime) {
  struct Case {
    TaskWork mode;
    unsigned refused;
    std::vector<unsigned> tried;  // task-work flags of each attempt
  };
  const unsigned si = IORING_SETUP_SINGLE_ISSUER, dt = IORING_SETUP_DEFER_TASKRUN,
                 coop = IORING_SETUP_COOP_TASKRUN;
  const Case cases[] = {
      {TaskWork::deferred, dt, {si | dt, coop}},          // 5.19-6.0: COOP_TASKRUN
      {TaskWork::deferred, dt | coop, {si | dt, coop, 0}}, // 5.11-5.18: none
      {TaskWork::posted, si, {si, 0}},
      {TaskWork::plain, 0, {0}},
  };
  for (const Case& c : cases) {
    act_as(c.refused);
    io_uring ring{};
    UringSetup setup;
    setup.sq_entries = 8;
    setup.task_work = c.mode;
    UringMade made;
    ASSERT_EQ(uring_setup(ring, setup, made, older_kernel), "");
    std::vector<unsigned> tried;
    for (unsigned flags : g_tried) tried.push_back(flags & kTaskFlags);
    EXPECT_EQ(tried, c.tried);
    EXPECT_EQ(made.flags & kTaskFlags, c.tried.back());
    EXPECT_TRUE(made.flags & IORING_SETUP_SUBMIT_ALL);  // kept through every fallback
    io_uring_queue_exit(&ring);
  }
}

TEST(UringSetup, OnlyEinvalFallsBack) {
  // ENOMEM (locked memory), EPERM (io_uring disabled) are not about flags: no retry.
  act_as(~0u, -ENOMEM);
  io_uring ring{};
  UringSetup setup;
  setup.sq_entries = 8;
  UringMade made;
  EXPECT_EQ(uring_setup(ring, setup, made, older_kernel),
            "io_uring_queue_init_params: Cannot allocate memory");
  EXPECT_EQ(g_tried.size(), 1u);
  // EINVAL on every candidate: the last one's error is the answer.
  act_as(~0u, -EINVAL);
  EXPECT_EQ(uring_setup(ring, setup, made, older_kernel),
            "io_uring_queue_init_params: Invalid argument");
  EXPECT_EQ(g_tried.size(), task_work_candidates(TaskWork::deferred).size());
}

TEST(UringSetup, AMissingFeatureIsNamedAndTheRingFreed) {
  io_uring ring{};
  UringSetup setup;
  setup.sq_entries = 8;
  setup.required_features = 1u << 31;  // no kernel offers this bit
  setup.required_why = "IORING_FEAT_FROM_THE_FUTURE";
  UringMade made;
  EXPECT_EQ(uring_setup(ring, setup, made), "io_uring lacks IORING_FEAT_FROM_THE_FUTURE");
}

TEST(UringSetup, AFileTableAboveTheDescriptorLimitIsRefused) {
  // liburing raises the soft limit up to the hard one and retries, so the table must pass the
  // hard limit; above the kernel's own table maximum (IORING_MAX_FIXED_FILES, 2^20) the answer
  // is the same EMFILE, so a machine with no hard limit to speak of runs the case too.
  rlimit limit{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  constexpr rlim_t kKernelMax = rlim_t(1) << 20;
  io_uring ring{};
  UringSetup setup;
  setup.sq_entries = 8;
  setup.sparse_files = std::uint32_t(std::min(limit.rlim_max, kKernelMax) + 1);
  UringMade made;
  const std::string error = uring_setup(ring, setup, made);
  EXPECT_EQ(error, "io_uring_register_files_sparse: Too many open files");
}

TEST(UringSetup, TaskWorkText) {
  EXPECT_EQ(task_work_text(0), "");
  EXPECT_EQ(task_work_text(IORING_SETUP_COOP_TASKRUN | IORING_SETUP_CQSIZE), "COOP_TASKRUN");
}

}  // namespace
}  // namespace ringcast::net
