// A call waiting for its reply (kdbus ABI notes §2.11): who waits, who must answer, until when.
#pragma once

#include "broker/peer_io.hpp"
#include "transport/kdbus/abi.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace kbus::broker {

struct reply_tracker {
  std::uint64_t caller = 0;   // connection id waiting for the reply
  std::uint64_t replier = 0;  // connection id expected to reply
  std::uint64_t cookie = 0;
  std::uint64_t deadline = 0;
  bool sync = false;
  bool done = false;
  int error = 0;
  kdbus::msg_info info{};
  std::optional<int> cancel_fd;
  // A synchronous reply's files, installed into the caller when it collects the reply.
  std::vector<file_ref> files;
  std::vector<std::size_t> file_slots;  // byte offsets of the int fds in the reply's slice
};

}  // namespace kbus::broker
