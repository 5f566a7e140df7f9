// The D-Bus socket transport after authentication: messages framed on a byte stream (unix,
// tcp, nonce-tcp, unixexec, launchd), unix fds passed with SCM_RIGHTS on a message's first
// byte. send() only queues; flush() writes the queue with gathered sendmsg() calls until it is
// empty or the socket is full (then wants_write() until a flush() makes progress). receive(read_once) does at most one recvmsg() and then hands
// out the complete messages one by one; receive(buffered) never reads.
#pragma once

#include "kbus/connection.hpp"
#include "kbus/message.hpp"
#include "kbus/unix_fd.hpp"
#include "transport/transport.hpp"

#include <boost/container/devector.hpp>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <vector>

namespace kbus::detail {

// With nothing buffered, a read of at most this size goes to the stack and what came is kept
// in a buffer of its size; a message that is the last in the buffer takes it (no copy), so an
// idle connection holds none. A buffer that a partial message needs doubles when a read would
// have less than a quarter of it free, by at most this chunk at a time.
inline constexpr std::size_t initial_read_buffer = 4 * 1024;
inline constexpr std::size_t read_chunk = 64 * 1024;
// The most queued messages one sendmsg() gathers: well below IOV_MAX (1024 on Linux, the BSDs
// and macOS).
inline constexpr std::size_t max_gathered_messages = 64;

class stream_transport final : public transport {
 public:
  // `socket`: connected, authenticated and non-blocking. `info`: what the handshake learnt
  // (its unix_fd_passing is the capability too). `leftover`: bytes the peer sent after the
  // authentication, the start of the message stream.
  stream_transport(unix_fd socket, connection_info info, std::span<const std::byte> leftover = {});
  ~stream_transport() override;
  stream_transport(const stream_transport&) = delete;
  stream_transport& operator=(const stream_transport&) = delete;

  int wait_fd() const noexcept override { return socket_.get(); }

  send_status send(message&& m, const transport_send_options& options) override;
  result<void> flush() override;
  // The socket was full at the last write: flush() again once it is writable.
  bool wants_write() const noexcept override { return socket_full_; }
  std::size_t queued_bytes() const noexcept override { return queued_bytes_; }
  std::vector<message> take_unsent() override;

  result<std::optional<message>> receive(receive_mode mode) override;
  bool has_pending_input() const noexcept override;

  const transport_capabilities& capabilities() const noexcept override { return capabilities_; }
  bool first_message_sent() const noexcept override { return first_message_sent_; }
  // The handshake wrote connect_request::first_message after its last line.
  void set_first_message_sent() noexcept { first_message_sent_ = true; }
  connection_info info() const override { return info_ ? *info_ : connection_info{}; }
  connection_info take_info() override;
  void close() noexcept override;

 private:
  // One recvmsg() into the buffer; the end of the stream (or a receive error) is kept in
  // end_of_input_ and reported once the complete messages before it are handed out.
  void read_once();
  void make_room_for_reading();
  result<std::optional<message>> next_buffered();
  // Gives the buffer room for a message of `size` bytes that has only partly arrived.
  void make_room_for(std::size_t size);
  std::vector<unix_fd> take_declared_fds(std::span<const std::byte> message_bytes);
  // Drops what one sendmsg() wrote; a message cut short continues at written_.
  void consume_sent(std::size_t sent);
  result<std::optional<message>> fail(kbus::error e);
  // The bytes of the message of `size` bytes at begin_, taken out of the buffer.
  std::vector<std::byte> take_message_bytes(std::size_t size);
  // The output queue: head_ and then tail_.
  std::size_t queued_messages() const noexcept { return head_ ? 1 + tail_.size() : 0; }
  const message& queued_message(std::size_t i) const noexcept { return i == 0 ? *head_ : tail_[i - 1]; }
  void pop_queued();

  unix_fd socket_;
  std::unique_ptr<connection_info> info_;  // null once taken: an open connection keeps one copy
  transport_capabilities capabilities_;
  bool first_message_sent_ = false;

  // Receiving: bytes [begin_, end_) of input_ are read and not yet framed; received_fds_ came
  // with them, in order.
  std::vector<std::byte> input_;
  std::size_t begin_ = 0, end_ = 0;
  boost::container::devector<unix_fd> received_fds_;
  std::optional<kbus::error> end_of_input_;
  std::optional<kbus::error> failure_;  // the connection is over: every receive() says why

  // Sending: the queue's first message in place, so that sending one message at a time
  // allocates no queue; the others behind it.
  std::optional<message> head_;
  boost::container::devector<message> tail_;
  std::size_t written_ = 0;  // bytes of head_ already sent
  bool socket_full_ = false;
  std::size_t queued_bytes_ = 0;
};

}  // namespace kbus::detail
