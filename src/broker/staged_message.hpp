// A message being sent (SEND, kdbus ABI notes §2.5), read from the caller and checked step by
// step, with its items already in the receiver's form.
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

// The SEND command itself.
struct send_request {
  kdbus::cmd_send cmd{};
  std::optional<int> cancel_fd;  // CANCEL_FD of a synchronous call
  bool negotiate = false;
};

// What the message is, from its flags and destination.
struct send_kind {
  bool broadcast = false;
  bool signal = false;
  bool expect_reply = false;
  bool sync = false;   // KDBUS_SEND_SYNC_REPLY: the caller waits in SEND
  bool reply = false;  // answers a call (cookie_reply, no EXPECT_REPLY)
};

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

// The SEND command: its flags and CANCEL_FD.
int read_send_command(std::span<std::uint8_t> cmd, send_request& rq);
// The whole kdbus_msg from the caller's memory at `address`, its size checked.
int copy_message_in(peer_io& io, std::uint64_t address, std::vector<std::uint8_t>& raw);
// The message's items (views into `raw`): only those a message may carry, each at most as
// often as allowed, their PAYLOAD_VEC bytes at most `max_vec_total`; `n_bloom` counts
// BLOOM_FILTER items.
int scan_message_items(std::span<const std::uint8_t> raw, std::uint64_t max_vec_total, std::vector<kdbus::item_ref>& items,
                       std::size_t& n_bloom);
// Which kind of message `head` (from `sender_id`) is, and whether its flags fit together.
int classify_message(const kdbus::msg& head, std::uint64_t sender_id, const send_request& rq, std::size_t n_bloom,
                     send_kind& kind);
// The items that route the message: its bloom filter, its destination name, how many fds.
int stage_routing_items(const bus& b, const std::vector<kdbus::item_ref>& items, const send_kind& kind,
                        staged_message& m);
// The files and the payload, taken from the caller: FDS, PAYLOAD_VEC, PAYLOAD_MEMFD.
int take_payload_and_files(peer_io& io, const std::vector<kdbus::item_ref>& items, staged_message& m);

}  // namespace kbus::broker
