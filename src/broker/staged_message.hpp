// A message being sent (SEND, kdbus ABI notes §2.5), with its items already in the receiver's
// form.
#pragma once

#include "broker/bus_connection.hpp"
#include "broker/bus_state.hpp"
#include "broker/peer_io.hpp"
#include "transport/kdbus/abi.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace kbus::broker {

// A PAYLOAD_VEC: its bytes in the payload stream, or only padding when it had no address.
struct staged_vec {
  bool data = false;
  std::uint64_t size = 0;
  std::size_t at = 0;  // in payload
};

struct staged_message {
  kdbus::msg head{};
  std::vector<std::uint8_t> items;      // the sender's items, transformed (VEC -> OFF)
  std::vector<std::size_t> off_items;   // positions of PAYLOAD_OFF items in `items`
  std::vector<staged_vec> vecs;
  std::vector<std::uint8_t> payload;    // the payload stream (§2.6 step 3)
  std::vector<file_ref> files;          // FDS then memfds
  std::vector<std::size_t> file_slots;  // positions in `items` of each file's int
  std::size_t nfds = 0;
  std::vector<std::uint64_t> bloom;
  std::uint64_t generation = 0;
  bool has_bloom = false;
  std::string dst_name;
};

}  // namespace kbus::broker
