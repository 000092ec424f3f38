#include "tools/load/ring.h"

#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/utsname.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "net/uring_setup.h"

namespace ringcast::load {

namespace {

constexpr unsigned kSqEntries = 4096;
// Every stream's multishot receive can post at any time; a CQ this size rarely overflows, and
// when it does IORING_FEAT_NODROP keeps the overflow in the kernel until it is reaped.
constexpr unsigned kCqEntries = 65536;

std::string errno_text(const char* what, int err) {
  return std::string(what) + ": " + std::strerror(err);
}

bool kernel_at_least(const std::string& release, int major, int minor) {
  int a = 0, b = 0;
  if (std::sscanf(release.c_str(), "%d.%d", &a, &b) != 2) return false;
  return a > major || (a == major && b >= minor);
}

}  // namespace

std::string probe_kernel(KernelFeatures& out) {
  utsname u{};
  out.release = uname(&u) == 0 ? u.release : "unknown";
  io_uring_probe* probe = io_uring_get_probe();
  if (probe == nullptr)
    return "io_uring is not available on kernel " + out.release +
           " (kernel.io_uring_disabled, seccomp, or older than 5.19)";
  const bool socket_op = io_uring_opcode_supported(probe, IORING_OP_SOCKET);
  out.bind_op = io_uring_opcode_supported(probe, kOpBind);
  io_uring_free_probe(probe);
  if (!socket_op) return "kernel " + out.release + " lacks IORING_OP_SOCKET (needs Linux 5.19+)";
  // Multishot receive shares IORING_OP_RECV's opcode, so the probe cannot see it.
  out.multishot_recv = kernel_at_least(out.release, 6, 0);
  return {};
}

Ring::~Ring() {
  if (ready_) io_uring_queue_exit(&ring_);
  if (buf_ring_ != nullptr) munmap(buf_ring_, buf_ring_bytes_);
  std::free(buffers_);
}

std::string Ring::init(const RingSetup& setup) {
  setup_ = setup;
  // A ring that waits for itself gets the cheapest task running (DEFER_TASKRUN). A ring polled
  // with others through an eventfd must post completions without being entered, so it keeps
  // the default: task work interrupts the sleeping thread, which then signals the eventfd.
  const bool alone = setup.eventfd < 0;
  net::UringSetup ring_setup;
  ring_setup.sq_entries = kSqEntries;
  ring_setup.cq_entries = kCqEntries;
  ring_setup.clamp = true;
  ring_setup.task_work = alone ? net::TaskWork::deferred : net::TaskWork::posted;
  ring_setup.sparse_files = setup.files;  // EMFILE: the table may not exceed RLIMIT_NOFILE
  net::UringMade made;
  if (std::string err = net::uring_setup(ring_, ring_setup, made); !err.empty()) return err;
  ready_ = true;
  flags_ = made.flags;
  if (!alone) {
    const int rc = io_uring_register_eventfd(&ring_, setup.eventfd);
    if (rc != 0) return errno_text("io_uring_register_eventfd", -rc);
  }
  return setup_buffer_ring();
}

std::string Ring::setup_buffer_ring() {
  const std::uint32_t count = setup_.recv_buffers;
  buf_ring_bytes_ = count * sizeof(io_uring_buf);
  void* mem = mmap(nullptr, buf_ring_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
  if (mem == MAP_FAILED) return errno_text("mmap buffer ring", errno);
  buf_ring_ = static_cast<io_uring_buf_ring*>(mem);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<std::uint64_t>(buf_ring_);
  reg.ring_entries = count;
  reg.bgid = buffer_group();
  int rc = io_uring_register_buf_ring(&ring_, &reg, 0);
  if (rc != 0) return errno_text("io_uring_register_buf_ring (needs Linux 5.19)", -rc);
  buffers_ = static_cast<char*>(std::aligned_alloc(4096, std::size_t(count) * setup_.recv_buffer_bytes));
  if (buffers_ == nullptr) return "out of memory for receive buffers";
  io_uring_buf_ring_init(buf_ring_);
  const int mask = io_uring_buf_ring_mask(count);
  for (std::uint32_t i = 0; i < count; ++i)
    io_uring_buf_ring_add(buf_ring_, buffers_ + std::size_t(i) * setup_.recv_buffer_bytes,
                          setup_.recv_buffer_bytes, static_cast<unsigned short>(i), mask, int(i));
  io_uring_buf_ring_advance(buf_ring_, int(count));
  return {};
}

std::string Ring::describe() const {
  std::string text = net::task_work_text(flags_);
  text += (text.empty() ? "" : " ") + std::string("files=") + std::to_string(setup_.files);
  return text;
}

io_uring_sqe* Ring::sqe() {
  io_uring_sqe* s = io_uring_get_sqe(&ring_);
  if (s != nullptr) return s;
  // Bounded: a kernel that keeps refusing submissions (it answers -EBUSY/-EAGAIN only while
  // the CQ overflow list cannot grow) has broken the ring for good.
  for (int attempt = 0; attempt < 1000 && s == nullptr; ++attempt) {
    submit();
    s = io_uring_get_sqe(&ring_);
  }
  if (s == nullptr) {
    std::fprintf(stderr, "ringcast-load: the kernel accepts no submissions; giving up\n");
    std::abort();
  }
  return s;
}

void Ring::submit() {
  // submit_and_get_events also runs task work the kernel deferred (DEFER_TASKRUN), so
  // completions appear without a wait.
  int rc = io_uring_submit_and_get_events(&ring_);
  // -EBUSY/-EAGAIN: the CQ is overcommitted; the entries stay queued for the next submit
  // after this pass reaps. -EINTR: a signal; same.
  if (rc < 0 && rc != -EBUSY && rc != -EAGAIN && rc != -EINTR)
    std::fprintf(stderr, "ringcast-load: io_uring_submit: %s\n", std::strerror(-rc));
}

void Ring::submit_and_wait(std::uint64_t timeout_ns) {
  __kernel_timespec ts{};
  ts.tv_sec = static_cast<long long>(timeout_ns / 1000000000ull);
  ts.tv_nsec = static_cast<long long>(timeout_ns % 1000000000ull);
  io_uring_cqe* cqe = nullptr;
  int rc = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
  // -ETIME: nothing completed in time; -EINTR: a signal. Both just end the wait.
  if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY && rc != -EAGAIN)
    std::fprintf(stderr, "ringcast-load: io_uring wait: %s\n", std::strerror(-rc));
}

std::size_t Ring::reap(std::vector<Cqe>& out) {
  unsigned head;
  unsigned seen = 0;
  io_uring_cqe* cqe;
  io_uring_for_each_cqe(&ring_, head, cqe) {
    out.push_back(Cqe{cqe->user_data, cqe->res, cqe->flags});
    ++seen;
  }
  io_uring_cq_advance(&ring_, seen);
  return seen;
}

void Ring::release(std::uint16_t id) {
  io_uring_buf_ring_add(buf_ring_, buffers_ + std::size_t(id) * setup_.recv_buffer_bytes,
                        setup_.recv_buffer_bytes, id, io_uring_buf_ring_mask(setup_.recv_buffers), 0);
  io_uring_buf_ring_advance(buf_ring_, 1);
}

int Ring::install(std::uint32_t slot, int fd) {
  const int rc = io_uring_register_files_update(&ring_, slot, &fd, 1);
  return rc == 1 ? 0 : (rc < 0 ? rc : -EIO);
}

void prep_socket_direct(io_uring_sqe* sqe, std::uint32_t slot) {
  // An occupied slot is replaced (its old file released), which is how a reconnect reuses it.
  io_uring_prep_socket_direct(sqe, AF_INET, SOCK_STREAM, 0, slot, 0);
}

void prep_bind_fixed(io_uring_sqe* sqe, std::uint32_t slot, const sockaddr_in* addr) {
  // io_bind_prep (io_uring/net.c): addr = the sockaddr, addr2 (our `off`) = its length; len,
  // buf_index, rw_flags and splice_fd_in must be 0, which io_uring_prep_rw leaves them. The
  // address is copied at prep time.
  io_uring_prep_rw(kOpBind, sqe, int(slot), addr, 0, sizeof(sockaddr_in));
  sqe->flags |= IOSQE_FIXED_FILE;
}

void prep_connect_fixed(io_uring_sqe* sqe, std::uint32_t slot, const sockaddr_in* addr) {
  // Kernels before 6.8 copy the address when the connect runs, not when it is prepared: it
  // must stay valid until the connect completes (the callers keep it in long-lived memory).
  io_uring_prep_connect(sqe, int(slot), reinterpret_cast<const sockaddr*>(addr), sizeof(sockaddr_in));
  sqe->flags |= IOSQE_FIXED_FILE;
}

void prep_send_fixed(io_uring_sqe* sqe, std::uint32_t slot, const char* data, std::uint32_t len) {
  io_uring_prep_send(sqe, int(slot), data, len, MSG_NOSIGNAL);
  sqe->flags |= IOSQE_FIXED_FILE;
}

void prep_recv_fixed(io_uring_sqe* sqe, std::uint32_t slot, const Ring& ring, bool multishot) {
  if (multishot) io_uring_prep_recv_multishot(sqe, int(slot), nullptr, 0, 0);
  else io_uring_prep_recv(sqe, int(slot), nullptr, ring.buffer_bytes(), 0);
  sqe->flags |= IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT;
  sqe->buf_group = ring.buffer_group();
}

}  // namespace ringcast::load
