// The least work a client can do for call/pipelined_64B, reported as impl "bare": how much of
// the throughput is left to any client, once the bus and the Echo server have taken their share.
//
// It is not a D-Bus library: one blocking socket and no event loop; the call is marshalled
// once (by kbus's wire layer) and written again and again with only its serial changed, in
// batches of every call the window allows; replies are framed by their fixed header and their
// body compared byte for byte with the call's (Echo returns its argument, so the bodies are the
// same bytes); nothing else is parsed. A library that comes close to it has little left to gain
// on this workload. (Its batching is its own: a bus may serve another client's batches better.)
#pragma once

#include "peers.hpp"

#include "kbus/unix_fd.hpp"

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace kbus_bench {

class bare_caller final : public caller {
 public:
  // Connects to a unix:path= address, authenticates (EXTERNAL) and says Hello.
  explicit bare_caller(const std::string& address);

  // One call, as a window of one.
  void echo(const std::string& s) override { pipelined(s, 1, 1); }
  // Throws bench_error when a reply is an error or its body differs from the call's.
  void pipelined(const std::string& s, int total, int window) override;

 private:
  void write_all(const void* data, std::size_t size);
  // Reads more bytes into in_; throws when the bus closed the connection.
  void read_some();
  // The next whole message in in_ (valid until the next read_some()), or nullopt.
  std::optional<std::span<const std::byte>> next_message();

  kbus::unix_fd fd_;
  std::vector<std::byte> in_;
  std::size_t in_start_ = 0, in_end_ = 0;  // the bytes received and not yet taken
  unsigned serial_ = 1;
};

}  // namespace kbus_bench
