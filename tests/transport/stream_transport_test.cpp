// The socket transport's framing over a socketpair, with no bus and no handshake: messages
// split over reads or packed into one, descriptors passed and declared, a peer that breaks the
// protocol or leaves, a socket that fills up.
#include "kbus/address.hpp"
#include "kbus/connection.hpp"
#include "kbus/message.hpp"
#include "transport/socket/stream_transport.hpp"
#include "support/send_with_fd.hpp"
#include "support/socket_pair.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace {

using namespace kbus::literals;
using kbus::detail::receive_mode;
using kbus::detail::stream_transport;

using kbus::test::socket_pair;

kbus::connection_info fd_passing_info() {
  kbus::connection_info info;
  info.transport = std::string(kbus::transport_names::unix_socket);
  info.unix_fd_passing = true;
  return info;
}

kbus::message call(std::uint32_t serial, const std::string& text) {
  auto m = kbus::message_builder::method_call("org.kbus.T"_bus, "/t"_path, "org.kbus.T"_iface, "Echo"_member).build(text);
  m.set_serial(serial);
  return m;
}

std::vector<std::byte> bytes_of(const kbus::message& m) { return {m.bytes().begin(), m.bytes().end()}; }

void write_all(int fd, std::span<const std::byte> bytes) {
  ASSERT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
}

std::string text_of(const kbus::message& m) { return std::get<0>(m.read<std::string>().value()); }

// The next message, which must be there.
kbus::message expect_message(stream_transport& t, receive_mode mode) {
  auto r = t.receive(mode);
  if (!r) ADD_FAILURE() << r.error().what();
  if (!r || !*r) {
    ADD_FAILURE() << "no message";
    return {};
  }
  return std::move(**r);
}

void expect_nothing_now(stream_transport& t, receive_mode mode) {
  auto r = t.receive(mode);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_FALSE(*r);
}

// Whether any end that writes into the pipe of `read_end` is still open.
bool write_end_open(int read_end) {
  char c;
  const ssize_t n = ::read(read_end, &c, 1);
  return !(n == 0);  // 0: end of file, every write end is closed; -1 EAGAIN: one is open
}

TEST(StreamTransport, AMessageFramedAcrossSeveralReadsComesWhole) {
  socket_pair s({.non_blocking = true});
  stream_transport t(std::move(s.a), fd_passing_info());
  const auto bytes = bytes_of(call(7, "split in three"));
  const std::span<const std::byte> all(bytes);
  // Less than a fixed header, then the rest of the header fields, then the body.
  write_all(s.b.get(), all.subspan(0, 5));
  expect_nothing_now(t, receive_mode::read_once);
  write_all(s.b.get(), all.subspan(5, 20));
  expect_nothing_now(t, receive_mode::read_once);
  EXPECT_FALSE(t.has_pending_input());
  write_all(s.b.get(), all.subspan(25));
  auto m = expect_message(t, receive_mode::read_once);
  EXPECT_EQ(m.serial(), 7u);
  EXPECT_EQ(text_of(m), "split in three");
  expect_nothing_now(t, receive_mode::buffered);
}

TEST(StreamTransport, SeveralMessagesInOneReadComeOneByOne) {
  socket_pair s({.non_blocking = true});
  stream_transport t(std::move(s.a), fd_passing_info());
  std::vector<std::byte> stream;
  for (std::uint32_t serial = 1; serial <= 3; ++serial) {
    auto b = bytes_of(call(serial, "message " + std::to_string(serial)));
    stream.insert(stream.end(), b.begin(), b.end());
  }
  write_all(s.b.get(), stream);
  EXPECT_EQ(expect_message(t, receive_mode::read_once).serial(), 1u);
  EXPECT_TRUE(t.has_pending_input());
  EXPECT_EQ(text_of(expect_message(t, receive_mode::buffered)), "message 2");
  EXPECT_EQ(text_of(expect_message(t, receive_mode::buffered)), "message 3");
  EXPECT_FALSE(t.has_pending_input());
  expect_nothing_now(t, receive_mode::buffered);
}

TEST(StreamTransport, BufferedNeverReadsAndReadOnceReadsOnce) {
  socket_pair s({.non_blocking = true});
  stream_transport t(std::move(s.a), fd_passing_info());
  // Far larger than the first receive buffer: one read cannot take it all.
  const std::string big(20 * kbus::detail::initial_read_buffer, 'x');
  write_all(s.b.get(), bytes_of(call(1, big)));
  expect_nothing_now(t, receive_mode::buffered);  // not read: nothing there yet
  expect_nothing_now(t, receive_mode::read_once);  // one read: the first few KiB only
  expect_nothing_now(t, receive_mode::buffered);
  // Each read_once takes one more piece; the buffer grows to hold the whole message.
  std::optional<kbus::message> got;
  for (int reads = 0; reads < 100 && !got; ++reads) {
    auto r = t.receive(receive_mode::read_once);
    ASSERT_TRUE(r) << r.error().what();
    if (*r) got = std::move(**r);
  }
  ASSERT_TRUE(got);
  EXPECT_EQ(text_of(*got), big);
}

TEST(StreamTransport, DescriptorsTravelWithTheMessagesThatDeclareThem) {
  socket_pair s({.non_blocking = true});
  stream_transport sender(std::move(s.a), fd_passing_info());
  stream_transport receiver(std::move(s.b), fd_passing_info());
  int p[2];
  ASSERT_EQ(::pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
  kbus::unix_fd read_end(p[0]), write_end(p[1]);
  auto with_fds = kbus::message_builder::method_call("org.kbus.T"_bus, "/t"_path, "org.kbus.T"_iface, "Pass"_member)
                      .build(read_end, std::string("two descriptors"), write_end);
  with_fds.set_serial(2);
  // Gathered before and after, the message with descriptors goes alone in between.
  sender.send(call(1, "before"), {});
  sender.send(std::move(with_fds), {});
  sender.send(call(3, "after"), {});
  ASSERT_TRUE(sender.flush());
  EXPECT_FALSE(sender.wants_write());
  EXPECT_EQ(sender.queued_bytes(), 0u);

  std::vector<kbus::message> got;
  for (int reads = 0; reads < 10 && got.size() < 3; ++reads) {
    auto mode = receive_mode::read_once;
    for (;;) {
      auto r = receiver.receive(mode);
      ASSERT_TRUE(r) << r.error().what();
      if (!*r) break;
      got.push_back(std::move(**r));
      mode = receive_mode::buffered;
    }
  }
  ASSERT_EQ(got.size(), 3u);
  EXPECT_TRUE(got[0].fds().empty());
  EXPECT_TRUE(got[2].fds().empty());
  auto [r, text, w] = got[1].read<kbus::unix_fd, std::string, kbus::unix_fd>().value();
  EXPECT_EQ(text, "two descriptors");
  // The descriptors received are the pipe's ends.
  ASSERT_EQ(::write(w.get(), "y", 1), 1);
  char c = 0;
  ASSERT_EQ(::read(r.get(), &c, 1), 1);
  EXPECT_EQ(c, 'y');
}

TEST(StreamTransport, DescriptorsNoMessageDeclaresAreClosed) {
  socket_pair s({.non_blocking = true});
  stream_transport t(std::move(s.a), fd_passing_info());
  int p[2];
  ASSERT_EQ(::pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
  kbus::unix_fd read_end(p[0]);
  // A message without UNIX_FDS, and the pipe's write end beside it on its first byte.
  const auto bytes = bytes_of(call(1, "declares none"));
  ASSERT_EQ(kbus::test::send_with_fd(s.b.get(), bytes.data(), bytes.size(), p[1]), static_cast<ssize_t>(bytes.size()));
  ::close(p[1]);
  EXPECT_TRUE(write_end_open(read_end.get()));  // the copy in flight, or received

  auto m = expect_message(t, receive_mode::read_once);
  EXPECT_TRUE(m.fds().empty());
  EXPECT_FALSE(write_end_open(read_end.get()));
}

TEST(StreamTransport, APeerThatSendsGarbageBrokeTheProtocol) {
  socket_pair s({.non_blocking = true});
  stream_transport t(std::move(s.a), fd_passing_info());
  const std::string garbage = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  write_all(s.b.get(), std::as_bytes(std::span(garbage)));
  auto r = t.receive(receive_mode::read_once);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, kbus::make_error_code(kbus::connection_errc::peer_sent_invalid_message));
  EXPECT_EQ(r.error().message.rfind("the peer sent an invalid message: invalid byte order: ", 0), 0u) << r.error().message;
  // It stays over.
  EXPECT_TRUE(t.has_pending_input());
  EXPECT_FALSE(t.receive(receive_mode::buffered));
}

TEST(StreamTransport, AMessageThatFramesButDoesNotParseBrokeTheProtocol) {
  socket_pair s({.non_blocking = true});
  stream_transport t(std::move(s.a), fd_passing_info());
  auto bytes = bytes_of(call(1, "fine"));
  bytes[bytes.size() - 1] = std::byte{'!'};  // the string's terminating NUL
  write_all(s.b.get(), bytes);
  auto r = t.receive(receive_mode::read_once);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, kbus::make_error_code(kbus::connection_errc::peer_sent_invalid_message));
}

TEST(StreamTransport, APeerThatLeftEndsTheConnectionAfterItsLastMessage) {
  socket_pair s({.non_blocking = true});
  stream_transport t(std::move(s.a), fd_passing_info());
  std::vector<std::byte> stream = bytes_of(call(1, "last words"));
  auto second = bytes_of(call(2, "more"));
  stream.insert(stream.end(), second.begin(), second.end());
  write_all(s.b.get(), stream);
  // The peer leaves before anything was read: both messages still come, then the end.
  s.b.reset();
  EXPECT_EQ(text_of(expect_message(t, receive_mode::read_once)), "last words");
  EXPECT_EQ(text_of(expect_message(t, receive_mode::read_once)), "more");
  auto r = t.receive(receive_mode::read_once);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, kbus::make_error_code(kbus::connection_errc::disconnected));
  EXPECT_EQ(r.error().message, "the peer closed the connection");
}

TEST(StreamTransport, APeerThatLeftMidMessageEndsTheConnection) {
  socket_pair s({.non_blocking = true});
  stream_transport t(std::move(s.a), fd_passing_info());
  const auto bytes = bytes_of(call(1, "cut short"));
  write_all(s.b.get(), std::span<const std::byte>(bytes).first(bytes.size() - 3));
  expect_nothing_now(t, receive_mode::read_once);
  s.b.reset();
  auto r = t.receive(receive_mode::read_once);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "the peer closed the connection");
}

TEST(StreamTransport, AFullSocketKeepsOutputQueuedUntilThePeerReads) {
  socket_pair s({.non_blocking = true});
  stream_transport sender(std::move(s.a), fd_passing_info());
  stream_transport receiver(std::move(s.b), fd_passing_info());
  // Far more than a socketpair's buffers hold (a few hundred KiB by default).
  constexpr std::uint32_t count = 64;
  const std::string payload(256 * 1024, 'p');
  std::size_t total = 0;
  for (std::uint32_t serial = 1; serial <= count; ++serial) {
    auto m = call(serial, payload);
    total += m.bytes().size();
    ASSERT_EQ(sender.send(std::move(m), {}).outcome, kbus::detail::send_outcome::ok);
  }
  EXPECT_EQ(sender.queued_bytes(), total);
  EXPECT_FALSE(sender.wants_write());  // queued, not yet tried
  ASSERT_TRUE(sender.flush());
  EXPECT_TRUE(sender.wants_write());
  EXPECT_GT(sender.queued_bytes(), 0u);
  EXPECT_LT(sender.queued_bytes(), total);

  // The peer reads what is there, which makes room for the next flush.
  std::uint32_t received = 0;
  for (int rounds = 0; rounds < 100000 && received < count; ++rounds) {
    auto mode = receive_mode::read_once;
    for (;;) {
      auto r = receiver.receive(mode);
      ASSERT_TRUE(r) << r.error().what();
      if (!*r) break;
      EXPECT_EQ((*r)->serial(), ++received);  // in order, none lost
      mode = receive_mode::buffered;
    }
    ASSERT_TRUE(sender.flush());
  }
  EXPECT_EQ(received, count);
  EXPECT_FALSE(sender.wants_write());
  EXPECT_EQ(sender.queued_bytes(), 0u);
}

TEST(StreamTransport, MessagesOfAnUnknownTypeAreSkipped) {
  socket_pair s({.non_blocking = true});
  stream_transport t(std::move(s.a), fd_passing_info());
  auto unknown = bytes_of(call(1, "from the future"));
  unknown[1] = std::byte{42};  // the message type
  auto known = bytes_of(call(2, "known"));
  unknown.insert(unknown.end(), known.begin(), known.end());
  write_all(s.b.get(), unknown);
  auto m = expect_message(t, receive_mode::read_once);
  EXPECT_EQ(m.serial(), 2u);
  expect_nothing_now(t, receive_mode::buffered);
}

TEST(StreamTransport, LeftoverFromTheHandshakeIsTheStartOfTheStream) {
  socket_pair s({.non_blocking = true});
  const auto first = bytes_of(call(1, "pipelined"));
  // The handshake read the first message and a part of the second.
  auto second = bytes_of(call(2, "after"));
  std::vector<std::byte> leftover(first);
  leftover.insert(leftover.end(), second.begin(), second.begin() + 10);
  stream_transport t(std::move(s.a), fd_passing_info(), leftover);
  EXPECT_TRUE(t.has_pending_input());
  EXPECT_EQ(text_of(expect_message(t, receive_mode::buffered)), "pipelined");
  expect_nothing_now(t, receive_mode::buffered);
  write_all(s.b.get(), std::span<const std::byte>(second).subspan(10));
  EXPECT_EQ(text_of(expect_message(t, receive_mode::read_once)), "after");
}

TEST(StreamTransport, ClosedIsClosed) {
  socket_pair s({.non_blocking = true});
  stream_transport t(std::move(s.a), fd_passing_info());
  t.send(call(1, "queued"), {});
  EXPECT_GT(t.queued_bytes(), 0u);
  t.close();
  EXPECT_EQ(t.wait_fd(), -1);
  EXPECT_FALSE(t.wants_write());
  // What was queued is not written any more, and not dropped: its owner takes it back.
  auto unsent = t.take_unsent();
  ASSERT_EQ(unsent.size(), 1u);
  EXPECT_EQ(unsent[0].serial(), 1u);
  EXPECT_EQ(t.queued_bytes(), 0u);
  EXPECT_TRUE(t.take_unsent().empty());
  auto late = call(2, "late");
  EXPECT_EQ(t.send(std::move(late), {}).outcome, kbus::detail::send_outcome::gone);
  EXPECT_EQ(late.serial(), 2u);  // a message that did not go stays with its sender
  t.close();  // again: nothing happens
  // The peer sees the end.
  char c;
  EXPECT_EQ(::read(s.b.get(), &c, 1), 0);
}

TEST(StreamTransport, InfoAndCapabilitiesComeFromTheHandshake) {
  socket_pair s({.non_blocking = true});
  kbus::connection_info info = fd_passing_info();
  info.address = "unix:abstract=kbus-test";
  info.server_guid = "0123456789abcdef0123456789abcdef";
  stream_transport t(std::move(s.a), info);
  EXPECT_EQ(t.info().address, info.address);
  EXPECT_EQ(t.info().server_guid, info.server_guid);
  EXPECT_EQ(t.info().transport, kbus::transport_names::unix_socket);
  EXPECT_TRUE(t.capabilities().unix_fd_passing);
  EXPECT_FALSE(t.capabilities().answers_bus_driver);
}

}  // namespace
