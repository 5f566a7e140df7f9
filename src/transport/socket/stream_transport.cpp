#include "transport/socket/stream_transport.hpp"

#include "platform/cloexec.hpp"
#include "platform/control_messages.hpp"
#include "platform/no_sigpipe.hpp"

#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

namespace kbus::detail {

namespace {

// Room for the most descriptors one message may carry (SCM_MAX_FD).
constexpr std::size_t fd_control_space = CMSG_SPACE(sizeof(int) * max_unix_fds);

kbus::error connection_over(std::string why) { return {connection_errc::disconnected, std::move(why)}; }

kbus::error invalid_message(const kbus::error& e) {
  return {connection_errc::peer_sent_invalid_message, "the peer sent an invalid message: " + e.what()};
}

}  // namespace

stream_transport::stream_transport(unix_fd socket, connection_info info, std::span<const std::byte> leftover)
    : socket_(std::move(socket)), info_(std::make_unique<connection_info>(std::move(info))) {
  capabilities_.unix_fd_passing = info_->unix_fd_passing;
  input_.assign(leftover.begin(), leftover.end());
  end_ = leftover.size();
}

stream_transport::~stream_transport() { close(); }

connection_info stream_transport::take_info() {
  if (!info_) return {};
  connection_info taken = std::move(*info_);
  info_.reset();
  return taken;
}

void stream_transport::close() noexcept {
  socket_.reset();
  socket_full_ = false;
  received_fds_.clear();
}

std::vector<message> stream_transport::take_unsent() {
  std::vector<message> unsent;
  unsent.reserve(queued_messages());
  if (head_) unsent.push_back(std::move(*head_));
  for (message& m : tail_) unsent.push_back(std::move(m));
  head_.reset();
  tail_.clear();
  written_ = 0;
  queued_bytes_ = 0;
  return unsent;
}

// ---- sending ----

send_status stream_transport::send(message&& m, const transport_send_options&) {
  if (!socket_) return {send_outcome::gone, connection_over("the connection is closed")};
  queued_bytes_ += m.bytes().size();
  if (!head_) head_.emplace(std::move(m));
  else tail_.push_back(std::move(m));
  return {};
}

void stream_transport::pop_queued() {
  if (tail_.empty()) return head_.reset();
  *head_ = std::move(tail_.front());
  tail_.pop_front();
  if (tail_.empty()) tail_.shrink_to_fit();  // a burst is over: its blocks go
}

// Several queued messages to a sendmsg(). A message with descriptors goes alone, as if never
// gathered: its fds travel with its first byte, and no receiver sees them arrive with another
// message's bytes. A loop, not recursion: the queue may hold thousands.
result<void> stream_transport::flush() {
  while (head_ && socket_) {
    iovec iov[max_gathered_messages];
    std::size_t count = 0;
    for (std::size_t i = 0, n = queued_messages(); i < n; ++i) {
      const message& m = queued_message(i);
      if (count == max_gathered_messages || (count > 0 && !m.fds().empty())) break;
      const auto bytes = m.bytes();
      const std::size_t skip = count == 0 ? written_ : 0;
      iov[count++] = iovec{const_cast<std::byte*>(bytes.data()) + skip, bytes.size() - skip};
      if (!m.fds().empty()) break;
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = count;
    alignas(cmsghdr) char control[fd_control_space];
    const message& first = *head_;
    if (written_ == 0 && !first.fds().empty()) {
      msg.msg_control = control;
      msg.msg_controllen = CMSG_SPACE(sizeof(int) * first.fds().size());
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int) * first.fds().size());
      int* out = reinterpret_cast<int*>(CMSG_DATA(c));
      for (std::size_t i = 0; i < first.fds().size(); ++i) out[i] = first.fds()[i].get();
    }
    const ssize_t n = ::sendmsg(socket_.get(), &msg, no_sigpipe_send_flags);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      socket_full_ = true;
      return {};
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return connection_over(std::string("send: ") + std::strerror(errno));
    socket_full_ = false;
    consume_sent(static_cast<std::size_t>(n));
  }
  return {};
}

void stream_transport::consume_sent(std::size_t sent) {
  queued_bytes_ -= sent;
  while (sent > 0) {
    const std::size_t rest = head_->bytes().size() - written_;
    if (sent < rest) {
      written_ += sent;
      return;
    }
    sent -= rest;
    written_ = 0;
    pop_queued();
  }
}

// ---- receiving ----

result<std::optional<message>> stream_transport::receive(receive_mode mode) {
  if (failure_) return *failure_;
  if (mode == receive_mode::read_once && socket_ && !end_of_input_) read_once();
  return next_buffered();
}

bool stream_transport::has_pending_input() const noexcept {
  if (failure_ || end_of_input_) return true;
  if (end_ - begin_ < fixed_header_size) return false;
  const auto size = message_size(std::span<const std::byte>(input_.data() + begin_, fixed_header_size));
  return !size || end_ - begin_ >= *size;  // a framing error is news too
}

void stream_transport::make_room_for_reading() {
  if (input_.size() - end_ >= input_.size() / 4 && !input_.empty()) return;
  // Move what is left to the front, and grow if that is not enough.
  if (begin_ > 0) std::memmove(input_.data(), input_.data() + begin_, end_ - begin_);
  end_ -= begin_;
  begin_ = 0;
  if (input_.size() - end_ < input_.size() / 4 || input_.empty())
    input_.resize(std::max(initial_read_buffer, input_.size() + std::min(input_.size(), read_chunk)));
}

void stream_transport::read_once() {
  // With nothing buffered, the read goes to the stack and what came is copied once into a
  // buffer of its size, which its last message then takes: an idle connection keeps no
  // buffer, and none is made (and zeroed) larger than what arrived.
  std::byte stack_buffer[initial_read_buffer];
  const bool into_stack = input_.empty();
  if (!into_stack) make_room_for_reading();
  iovec iov = into_stack ? iovec{stack_buffer, sizeof stack_buffer} : iovec{input_.data() + end_, input_.size() - end_};
  alignas(cmsghdr) char control[fd_control_space];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  const ssize_t n = recvmsg_cloexec(socket_.get(), &msg, 0);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
  if (n == 0) {
    end_of_input_ = connection_over("the peer closed the connection");
    return;
  }
  if (n < 0) {
    end_of_input_ = connection_over(std::string("receive: ") + std::strerror(errno));
    return;
  }
  for_each_passed_fd(&msg, [&](int fd) { received_fds_.emplace_back(fd); });
  if (into_stack) input_.assign(stack_buffer, stack_buffer + n);
  end_ += static_cast<std::size_t>(n);
}

result<std::optional<message>> stream_transport::next_buffered() {
  while (end_ - begin_ >= fixed_header_size) {
    const auto size = message_size(std::span<const std::byte>(input_.data() + begin_, fixed_header_size));
    if (!size) return fail(invalid_message(size.error()));
    if (end_ - begin_ < *size) {
      make_room_for(*size);
      break;
    }
    std::vector<std::byte> bytes = take_message_bytes(*size);
    std::vector<unix_fd> fds = take_declared_fds(bytes);
    // Descriptors arrive with their message's first byte: with every byte taken, those left
    // belong to no message (a peer sent more than it declared). Closing them bounds the leak.
    if (begin_ == end_) received_fds_.clear();
    auto m = message::parse(std::move(bytes), std::move(fds));
    if (!m) {
      if (m.error() == errc::invalid_message_type) continue;  // type 0 (INVALID): ignored too
      return fail(invalid_message(m.error()));
    }
    if (m->type() > message_type::signal) continue;  // a type this library does not know (spec: ignored)
    return std::optional<message>(std::move(*m));
  }
  if (begin_ == end_) received_fds_.clear();
  if (end_of_input_) return fail(*end_of_input_);
  return std::optional<message>();
}

std::vector<std::byte> stream_transport::take_message_bytes(std::size_t size) {
  // The last message in the buffer takes the buffer, unless the buffer grew far beyond it.
  if (begin_ + size == end_ && (input_.size() <= initial_read_buffer || size >= input_.size() / 2)) {
    if (begin_ > 0) std::memmove(input_.data(), input_.data() + begin_, size);
    input_.resize(size);
    begin_ = end_ = 0;
    return std::exchange(input_, {});
  }
  std::vector<std::byte> bytes(input_.begin() + static_cast<std::ptrdiff_t>(begin_),
                               input_.begin() + static_cast<std::ptrdiff_t>(begin_ + size));
  begin_ += size;
  if (begin_ == end_) begin_ = end_ = 0;
  return bytes;
}

void stream_transport::make_room_for(std::size_t size) {
  if (input_.size() - begin_ >= size) return;
  // A large message: grow the buffer once to hold all of it.
  std::memmove(input_.data(), input_.data() + begin_, end_ - begin_);
  end_ -= begin_;
  begin_ = 0;
  input_.resize(size + read_chunk);
}

// The descriptors the message declares (UNIX_FDS), from those received so far, in order.
std::vector<unix_fd> stream_transport::take_declared_fds(std::span<const std::byte> message_bytes) {
  std::vector<unix_fd> fds;
  if (received_fds_.empty()) return fds;
  const auto declared = declared_unix_fds(message_bytes);
  const std::size_t n = declared ? std::min<std::size_t>(*declared, received_fds_.size()) : received_fds_.size();
  for (std::size_t i = 0; i < n; ++i) {
    fds.push_back(std::move(received_fds_.front()));
    received_fds_.pop_front();
  }
  return fds;
}

result<std::optional<message>> stream_transport::fail(kbus::error e) {
  failure_ = std::move(e);
  return *failure_;
}

}  // namespace kbus::detail
