// A kdbus bus served inside this process by kbusd's core (the in-process device): no bus
// daemon, no kernel module. Connections reach it through address(), a kernel: address that
// this process resolves to the embedded device; the connection then speaks the kdbus ABI to
// it exactly as to the kernel (messages marshalled once, the bus driver emulated locally).
//
//   kbus::embedded_bus bus;
//   kbus::connection c(io.get_executor());
//   c.connect(bus.address());
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace kbus {

struct embedded_bus_options {
  std::string name = "embedded";  // the bus is "<uid>-<name>"
  // The bloom filter every message of the bus carries (kdbus ABI notes §2.9; sd-bus's
  // defaults: 64 bytes, one hash).
  std::uint64_t bloom_size = 64;
  std::uint64_t bloom_hashes = 1;
};

class embedded_bus {
 public:
  explicit embedded_bus(embedded_bus_options options = {});  // throws std::system_error
  embedded_bus(const embedded_bus&) = delete;
  embedded_bus& operator=(const embedded_bus&) = delete;
  ~embedded_bus();  // connections still open on it see the bus go away

  const std::string& address() const noexcept;

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace kbus
