// Unix fds in messages: 'h' values index the message's own descriptors, which it owns.
#include "kbus/message.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

namespace {

using namespace kbus::literals;

bool is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

TEST(UnixFd, TypedRoundTripOwnsCopies) {
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  kbus::unix_fd read_end(p[0]), write_end(p[1]);
  auto m = kbus::message_builder::method_call("org.kbus.T"_bus, "/t"_path, "org.kbus.T"_iface, "Pass"_member)
               .build(read_end, std::string("with a pipe"), write_end);
  m.set_serial(3);
  EXPECT_EQ(m.signature(), "hsh");
  EXPECT_EQ(m.unix_fd_count(), 2u);
  ASSERT_EQ(m.fds().size(), 2u);
  // The message holds its own duplicates, close-on-exec.
  EXPECT_NE(m.fds()[0].get(), read_end.get());
  EXPECT_TRUE(::fcntl(m.fds()[0].get(), F_GETFD) & FD_CLOEXEC);

  // As received: the bytes and the descriptors that came with them.
  std::vector<kbus::unix_fd> received;
  for (const auto& fd : m.fds()) received.push_back(fd.dup());
  const int received_fd = received[0].get();
  auto parsed = kbus::message::parse({m.bytes().begin(), m.bytes().end()}, std::move(received));
  ASSERT_TRUE(parsed) << parsed.error().what();
  auto [r, text, w] = parsed->read<kbus::unix_fd, std::string, kbus::unix_fd>().value();
  EXPECT_EQ(text, "with a pipe");
  ASSERT_TRUE(r.valid());
  ASSERT_TRUE(w.valid());
  // The descriptors work: what goes into the write end comes out of the read end.
  ASSERT_EQ(::write(w.get(), "x", 1), 1);
  char c = 0;
  ASSERT_EQ(::read(r.get(), &c, 1), 1);
  EXPECT_EQ(c, 'x');
  // When the message dies, so do its descriptors.
  EXPECT_TRUE(is_open(received_fd));
  parsed = kbus::error{};
  EXPECT_FALSE(is_open(received_fd));
}

TEST(UnixFd, MissingDescriptorsAreAnError) {
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  kbus::unix_fd a(p[0]), b(p[1]);
  auto m = kbus::message_builder::signal("/t"_path, "org.kbus.T"_iface, "S"_member).build(a, b);
  m.set_serial(1);
  std::vector<kbus::unix_fd> one;
  one.push_back(a.dup());
  auto parsed = kbus::message::parse({m.bytes().begin(), m.bytes().end()}, std::move(one));
  ASSERT_FALSE(parsed);
  EXPECT_EQ(parsed.error(), kbus::errc::unix_fds_missing);
}

TEST(UnixFd, EncodingRefusesBadStrings) {
  auto b = kbus::message_builder::signal("/t"_path, "org.kbus.T"_iface, "S"_member);
  EXPECT_THROW(std::move(b).build(std::string("bad \xff utf-8")), kbus::exception);
  auto b2 = kbus::message_builder::signal("/t"_path, "org.kbus.T"_iface, "S"_member);
  EXPECT_THROW(std::move(b2).build(std::string("nul\0inside", 10)), kbus::exception);
}

}  // namespace
