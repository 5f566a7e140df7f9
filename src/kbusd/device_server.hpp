// kbusd's device, without CUSE: what each open, read, write, ioctl and poll of /dev/kbus/<bus>
// does to kbusd's core (broker::domain), under the device protocol of
// transport/cuse/protocol.hpp. Sans-I/O and single-threaded: cuse_session.cpp feeds it the
// requests libfuse receives and sends its answers back; tests and the fuzz target feed it
// directly. Every input is the caller's and is checked: a bad one is an errno, never a crash.
#pragma once

#include "broker/domain.hpp"
#include "broker/policy.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace kbus::kbusd {

// Who made a request, as the CUSE request header says (notes §5.1: the thread id).
struct caller {
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::uint32_t pid = 0;
};

// A range of the caller's memory.
struct user_range {
  std::uint64_t address = 0;
  std::uint64_t size = 0;
};

// What an ioctl needs next: the caller's memory it must see (an unrestricted ioctl's retry,
// notes §5.1), or its answer.
struct ioctl_step {
  bool retry = false;
  std::vector<user_range> in, out;   // retry: what to copy in, and where the answer goes
  int error = 0;                     // answer: 0 or an errno
  std::vector<std::uint8_t> output;  // answer: the bytes for the out ranges, in order
};

struct server_options {
  // The bus: "<uid>-<name>", served as the device's one endpoint.
  std::string bus_name;
  // The bloom filter of every message (sd-bus's defaults, kdbus ABI notes §2.9).
  std::uint64_t bloom_size = 64;
  std::uint64_t bloom_hashes = 1;
  // The bus policy (notes §2.12), uploaded by kbusd's own policy holder connection.
  broker::policy_list policy;
  // Who a caller is beyond its ids (pids, comm, caps ...): /proc, read when it opens the device.
  // Unset: read_proc_credentials.
  std::function<broker::credentials(const caller&)> credentials_of;
};

class device_server {
 public:
  // Makes the bus and installs the policy; throws std::system_error when that fails.
  explicit device_server(server_options options);
  ~device_server();
  device_server(const device_server&) = delete;
  device_server& operator=(const device_server&) = delete;

  using handle = std::uint64_t;

  // open(2): a handle, or an errno.
  int open(const caller& who, handle& out);
  // The last close(2) of an open.
  void release(handle h);
  // write(2) of one chunk of a send frame: the bytes taken, or -errno (the last chunk's is the
  // SEND's).
  std::int64_t write(handle h, std::span<const std::uint8_t> bytes, const caller& who);
  // read(2) of at most `size` bytes: 0 with the bytes in `out`, or an errno (EAGAIN: nothing
  // waits).
  int read(handle h, std::size_t size, const caller& who, std::vector<std::uint8_t>& out);
  // One step of an unrestricted ioctl: `in` is what the caller's memory held at the ranges the
  // last retry asked for (empty at first), `out_size` the room of its out ranges.
  ioctl_step ioctl(handle h, std::uint32_t number, std::uint64_t arg, std::span<const std::uint8_t> in,
                   std::size_t out_size, const caller& who);
  // poll(2) as a POLL request asks it: the state, noted as what the file was told.
  broker::poll_state answer_poll(handle h);
  // The state, noting nothing.
  broker::poll_state poll(handle h) const;
  // Since the last call: the handles whose poll state may have changed, each with whether its
  // file gets a poll notification. A file is notified when it was told last that nothing waits
  // (a POLL answered without POLLIN, a read answered EAGAIN or without read_more) and something
  // does now, and not again until it is told so again: the kernel polls once for each
  // notification, so a notification that tells nothing new costs a POLL.
  struct wakeup {
    handle h = 0;
    bool notify = false;
  };
  std::vector<wakeup> take_wakeups();
  // Reply deadlines (CLOCK_MONOTONIC ns): fires those due; the next one, or UINT64_MAX.
  std::uint64_t expire(std::uint64_t now);

  struct state;

 private:
  std::unique_ptr<state> s_;
};

}  // namespace kbus::kbusd
