#define FUSE_USE_VERSION 31
#include "kbusd/cuse_session.hpp"

#include <cuse_lowlevel.h>
#include <fuse_lowlevel.h>
#include <poll.h>
#include <sys/uio.h>
#include <time.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <list>
#include <map>
#include <vector>

namespace kbus::kbusd {

namespace {

std::uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<std::uint64_t>(ts.tv_nsec);
}

caller caller_of(fuse_req_t req) {
  const fuse_ctx* ctx = fuse_req_ctx(req);
  return caller{static_cast<std::uint32_t>(ctx->uid), static_cast<std::uint32_t>(ctx->gid), static_cast<std::uint32_t>(ctx->pid)};
}

struct session {
  // A read that waits for a message (a file opened without O_NONBLOCK).
  struct parked_read {
    std::uint64_t id;
    fuse_req_t req;
    device_server::handle h;
    std::size_t size;
    caller who;
  };

  session(device_server& s, const session_options& o) : server(s), options(o) {}

  device_server& server;
  const session_options& options;
  fuse_session* se = nullptr;
  std::string failure;  // why the session ended early
  std::map<device_server::handle, fuse_pollhandle*> poll_handles;
  std::list<parked_read> parked;
  std::uint64_t next_parked = 1;

  static session& of(fuse_req_t req) { return *static_cast<session*>(fuse_req_userdata(req)); }

  void answer_read(fuse_req_t req, int r, const std::vector<std::uint8_t>& out) {
    if (r) {
      fuse_reply_err(req, r);
    } else {
      fuse_reply_buf(req, reinterpret_cast<const char*>(out.data()), out.size());
    }
  }

  // Answers the parked reads of `h` that can be answered now, in the order they came.
  void retry_reads(device_server::handle h) {
    for (auto it = parked.begin(); it != parked.end();) {
      if (it->h != h) {
        ++it;
        continue;
      }
      std::vector<std::uint8_t> out;
      int r = server.read(h, it->size, it->who, out);
      if (r == EAGAIN) {
        if (!server.poll(h).hangup) return;
        r = ECONNRESET;
      }
      answer_read(it->req, r, out);
      it = parked.erase(it);
    }
  }

  void flush_wakeups() {
    for (const auto& w : server.take_wakeups()) {
      // One notification wakes every poller of the file, and each one polls again (a POLL).
      if (w.notify)
        if (auto it = poll_handles.find(w.h); it != poll_handles.end()) fuse_lowlevel_notify_poll(it->second);
      const auto ps = server.poll(w.h);
      if (ps.readable || ps.hangup) retry_reads(w.h);
    }
  }

  static void interrupted(fuse_req_t, void* data);
};

// FUSE_INTERRUPT for a parked read (notes §5.1): it ends with EINTR, having read nothing.
void session::interrupted(fuse_req_t req, void* data) {
  auto& s = *static_cast<session*>(data);
  for (auto it = s.parked.begin(); it != s.parked.end(); ++it) {
    if (it->req != req) continue;
    fuse_reply_err(req, EINTR);
    s.parked.erase(it);
    return;
  }
}

void on_init_done(void* userdata) {
  auto& s = *static_cast<session*>(userdata);
  if (!s.options.on_ready) return;
  try {
    s.options.on_ready();
  } catch (const std::exception& e) {
    s.failure = e.what();
    fuse_session_exit(s.se);
  }
}

void on_open(fuse_req_t req, fuse_file_info* fi) {
  auto& s = session::of(req);
  device_server::handle h = 0;
  if (const int r = s.server.open(caller_of(req), h); r) {
    fuse_reply_err(req, r);
    return;
  }
  fi->fh = h;
  fi->nonseekable = 1;
  fi->direct_io = 1;
  fuse_reply_open(req, fi);
}

void on_release(fuse_req_t req, fuse_file_info* fi) {
  auto& s = session::of(req);
  if (auto it = s.poll_handles.find(fi->fh); it != s.poll_handles.end()) {
    fuse_pollhandle_destroy(it->second);
    s.poll_handles.erase(it);
  }
  s.server.release(fi->fh);
  fuse_reply_err(req, 0);
}

void on_read(fuse_req_t req, std::size_t size, off_t, fuse_file_info* fi) {
  auto& s = session::of(req);
  const caller who = caller_of(req);
  std::vector<std::uint8_t> out;
  const int r = s.server.read(fi->fh, size, who, out);
  if (r == EAGAIN && !(fi->flags & O_NONBLOCK) && !s.server.poll(fi->fh).hangup) {
    s.parked.push_back({s.next_parked++, req, fi->fh, size, who});
    // Called at once when the interrupt came already.
    fuse_req_interrupt_func(req, &session::interrupted, &s);
    return;
  }
  s.answer_read(req, r, out);
}

void on_write(fuse_req_t req, const char* buf, std::size_t size, off_t, fuse_file_info* fi) {
  auto& s = session::of(req);
  const auto n = s.server.write(fi->fh, {reinterpret_cast<const std::uint8_t*>(buf), size}, caller_of(req));
  if (n < 0) {
    fuse_reply_err(req, static_cast<int>(-n));
  } else {
    fuse_reply_write(req, static_cast<std::size_t>(n));
  }
}

void on_ioctl(fuse_req_t req, int cmd, void* arg, fuse_file_info* fi, unsigned, const void* in_buf,
              std::size_t in_bufsz, std::size_t out_bufsz) {
  auto& s = session::of(req);
  // libfuse 3.14 gives the number as a signed int: _IOR/_IOWR numbers are negative there.
  const auto number = static_cast<std::uint32_t>(cmd);
  const auto step = s.server.ioctl(fi->fh, number, reinterpret_cast<std::uintptr_t>(arg),
                                   {static_cast<const std::uint8_t*>(in_buf), in_bufsz}, out_bufsz, caller_of(req));
  if (step.retry) {
    auto to_iov = [](const std::vector<user_range>& ranges) {
      std::vector<iovec> v;
      for (const auto& r : ranges)
        v.push_back({reinterpret_cast<void*>(static_cast<std::uintptr_t>(r.address)), static_cast<std::size_t>(r.size)});
      return v;
    };
    const auto in = to_iov(step.in), out = to_iov(step.out);
    fuse_reply_ioctl_retry(req, in.data(), in.size(), out.data(), out.size());
  } else if (step.error) {
    fuse_reply_err(req, step.error);
  } else {
    fuse_reply_ioctl(req, 0, step.output.data(), step.output.size());
  }
}

void on_poll(fuse_req_t req, fuse_file_info* fi, fuse_pollhandle* ph) {
  auto& s = session::of(req);
  if (ph) {
    // The kernel's handle of a file is the same in every POLL (its kh) and stays valid until
    // the file is released: the newest one is kept for every notification until then.
    auto& slot = s.poll_handles[fi->fh];
    if (slot) fuse_pollhandle_destroy(slot);
    slot = ph;
  }
  const auto ps = s.server.answer_poll(fi->fh);
  unsigned events = POLLOUT | POLLWRNORM;
  if (ps.readable) events |= POLLIN | POLLRDNORM;
  if (ps.hangup) events |= POLLERR | POLLHUP;
  fuse_reply_poll(req, events);
}

int timeout_until(std::uint64_t deadline) {
  if (deadline == UINT64_MAX) return -1;
  const std::uint64_t now = monotonic_ns();
  if (deadline <= now) return 0;
  const std::uint64_t ms = (deadline - now + 999999) / 1000000;
  return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
}

}  // namespace

int serve_cuse(device_server& server, const session_options& options, std::string& why) {
  session s(server, options);
  cuse_lowlevel_ops ops{};
  ops.init_done = on_init_done;
  ops.open = on_open;
  ops.release = on_release;
  ops.read = on_read;
  ops.write = on_write;
  ops.ioctl = on_ioctl;
  ops.poll = on_poll;

  const std::string devname = "DEVNAME=" + options.devname;
  const char* dev_info[] = {devname.c_str()};
  cuse_info ci{};
  ci.dev_info_argc = 1;
  ci.dev_info_argv = dev_info;
  ci.flags = CUSE_UNRESTRICTED_IOCTL;
  // In front, one thread: kbusd daemonizes itself and its core is single-threaded.
  std::vector<const char*> args = {"kbusd", "-f", "-s"};
  if (options.debug) args.push_back("-d");
  int multithreaded = 0;
  s.se = cuse_lowlevel_setup(static_cast<int>(args.size()), const_cast<char**>(args.data()), &ci, &ops, &multithreaded, &s);
  if (!s.se) {
    why = "cannot serve " + options.devname + " through /dev/cuse (is the cuse module loaded, and may kbusd open /dev/cuse?)";
    return 1;
  }
  fuse_buf buf{};
  const int fd = fuse_session_fd(s.se);
  int status = 0;
  while (!fuse_session_exited(s.se)) {
    const std::uint64_t next = server.expire(monotonic_ns());
    s.flush_wakeups();
    pollfd p{fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, timeout_until(next));
    if (ready < 0 && errno != EINTR) {
      why = std::string("poll on /dev/cuse: ") + strerror(errno);
      status = 1;
      break;
    }
    if (ready <= 0) continue;
    const int got = fuse_session_receive_buf(s.se, &buf);
    if (got == -EINTR || got == -EAGAIN) continue;
    if (got <= 0) {
      // 0 or ENODEV: the device was taken down.
      if (got < 0 && got != -ENODEV) {
        why = std::string("reading /dev/cuse: ") + strerror(-got);
        status = 1;
      }
      break;
    }
    fuse_session_process_buf(s.se, &buf);
    s.flush_wakeups();
  }
  std::free(buf.mem);
  for (auto& r : s.parked) fuse_reply_err(r.req, ESHUTDOWN);
  s.parked.clear();
  for (auto& [h, ph] : s.poll_handles) fuse_pollhandle_destroy(ph);
  cuse_lowlevel_teardown(s.se);
  if (!s.failure.empty()) {
    why = s.failure;
    status = 1;
  }
  return status;
}

}  // namespace kbus::kbusd
