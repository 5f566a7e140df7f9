// Close-on-exec, SIGPIPE, peer credentials and abstract names: the way this system has, and the
// fallbacks that also compile here (fcntl instead of SOCK_CLOEXEC / MSG_CMSG_CLOEXEC).
#include "kbus_config.hpp"
#include "platform/abstract_socket.hpp"
#include "platform/cloexec.hpp"
#include "platform/control_messages.hpp"
#include "platform/no_sigpipe.hpp"
#include "platform/peer_credentials.hpp"
#include "support/send_with_fd.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace {

using kbus::detail::cloexec_via;

bool is_cloexec(int fd) { return (::fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0; }

class CloseOnExec : public testing::TestWithParam<cloexec_via> {};

TEST_P(CloseOnExec, SocketpairEndsAreCloseOnExec) {
  int pair[2];
  ASSERT_EQ(kbus::detail::socketpair_cloexec(AF_UNIX, SOCK_STREAM, 0, pair, GetParam()), 0) << std::strerror(errno);
  EXPECT_TRUE(is_cloexec(pair[0]));
  EXPECT_TRUE(is_cloexec(pair[1]));
  ::close(pair[0]);
  ::close(pair[1]);
}

// An fd passed with SCM_RIGHTS arrives close-on-exec, though the sender's copy is not.
TEST_P(CloseOnExec, ReceivedFdsAreCloseOnExec) {
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  ASSERT_FALSE(is_cloexec(pipe_fds[0]));

  const char byte = 'x';
  ASSERT_EQ(kbus::test::send_with_fd(pair[0], &byte, 1, pipe_fds[0]), 1);

  char got = 0;
  iovec in_iov{&got, 1};
  alignas(cmsghdr) char in_control[CMSG_SPACE(sizeof(int))]{};
  msghdr in{};
  in.msg_iov = &in_iov;
  in.msg_iovlen = 1;
  in.msg_control = in_control;
  in.msg_controllen = sizeof in_control;
  ASSERT_EQ(kbus::detail::recvmsg_cloexec(pair[1], &in, 0, GetParam()), 1);
  int received = -1;
  kbus::detail::for_each_passed_fd(&in, [&](int fd) { received = fd; });
  ASSERT_NE(received, -1);
  EXPECT_TRUE(is_cloexec(received));
  for (int fd : {pair[0], pair[1], pipe_fds[0], pipe_fds[1], received}) ::close(fd);
}

INSTANTIATE_TEST_SUITE_P(Ways, CloseOnExec, testing::Values(cloexec_via::atomic_flags, cloexec_via::fcntl),
                         [](const auto& info) { return info.param == cloexec_via::fcntl ? "fcntl" : "atomic_flags"; });

TEST(CloseOnExec, TheBestWayIsTheAtomicOneWhereTheSystemHasIt) {
  EXPECT_EQ(kbus::detail::best_cloexec == cloexec_via::atomic_flags,
            KBUS_HAVE_SOCK_CLOEXEC && KBUS_HAVE_MSG_CMSG_CLOEXEC);
}

// A write to a socket whose peer has gone gives EPIPE and the process lives on, with SIGPIPE
// at its default disposition (which would end the process).
TEST(NoSigpipe, WritingToAClosedPeerGivesEpipe) {
  ASSERT_EQ(::signal(SIGPIPE, SIG_DFL), SIG_DFL);
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
  EXPECT_TRUE(kbus::detail::prepare_no_sigpipe(pair[0]));
  ::close(pair[1]);
  const char byte = 'x';
  EXPECT_EQ(::send(pair[0], &byte, 1, kbus::detail::no_sigpipe_send_flags), -1);
  EXPECT_EQ(errno, EPIPE);
  EXPECT_EQ(kbus::detail::send_credentials_byte(pair[0]), -1);
  EXPECT_EQ(errno, EPIPE);
  ::close(pair[0]);
}

TEST(PeerCredentials, ALocalSocketTellsItsPeersUidGidAndPid) {
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
  EXPECT_TRUE(kbus::detail::is_local_socket(pair[0]));
  const auto c = kbus::detail::peer_credentials_of(pair[0]);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->uid, ::geteuid());
  EXPECT_EQ(c->gid, ::getegid());
  // SO_PEERCRED and LOCAL_PEEREID tell the pid; getpeereid does not (-1).
  if (KBUS_HAVE_SO_PEERCRED || KBUS_HAVE_LOCAL_PEEREID) {
    EXPECT_EQ(c->pid, ::getpid());
  }
  ::close(pair[0]);
  ::close(pair[1]);
}

// The client's first byte arrives as one nul byte, whatever rides with it.
TEST(PeerCredentials, TheCredentialsByteIsOneNulByte) {
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
  ASSERT_EQ(kbus::detail::send_credentials_byte(pair[0]), 1);
  char got = 'x';
  ASSERT_EQ(::recv(pair[1], &got, 1, 0), 1);
  EXPECT_EQ(got, '\0');
  ::close(pair[0]);
  ::close(pair[1]);
}

TEST(AbstractSockets, AnAbstractNameIsANulByteThenTheNameOrAClearError) {
  auto p = kbus::detail::abstract_socket_path("kbus-test");
  if (KBUS_HAVE_ABSTRACT_SOCKETS) {
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_EQ(*p, std::string("\0kbus-test", 10));
  } else {
    ASSERT_FALSE(p);
    EXPECT_NE(p.error().message.find("abstract socket namespace"), std::string::npos);
  }
}

}  // namespace
