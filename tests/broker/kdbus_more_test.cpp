// The kdbus selftest list (kdbus ABI notes §3), part 2: fd passing, endpoints, monitors,
// quotas, synchronous calls, connection info and update, policy, activators, the ping-pongs of
// the benchmarks.
#include "kdbus_util.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include <chrono>
#include <future>
#include <thread>

namespace kbus::test {
namespace {

// A sealed memfd holding `data`.
int sealed_memfd(std::string_view data, bool seal = true) {
  const int fd = memfd_create("kdbus-test", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
  if (seal) {
    EXPECT_EQ(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL), 0);
  }
  return fd;
}

broker::credentials unprivileged(std::uint64_t uid) {
  broker::credentials c = local_device::process_credentials();
  c.ids = kd::creds{uid, uid, uid, uid, uid, uid, uid, uid};
  c.auxgroups.clear();
  c.privileged = false;
  return c;
}

kd::policy_access access(kd::policy_type t, kd::policy_access_kind a, std::uint64_t id = 0) {
  return kd::policy_access{static_cast<std::uint64_t>(t), static_cast<std::uint64_t>(a), id};
}

// 6 fd-passing
TEST(Kdbus, FdPassing) {
  env e;
  auto b = e.hello();
  env::hello_options no_fd;
  no_fd.flags = 0;
  auto nofd = e.hello(no_fd);
  ASSERT_TRUE(b && nofd);
  // kdbus handles and AF_UNIX sockets cannot be passed.
  outgoing o = unicast(b->id, 1);
  o.fds = {e.c->fd};
  EXPECT_EQ(send(*e.c, o), -EOPNOTSUPP);
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  o.fds = {sv[0]};
  EXPECT_EQ(send(*e.c, o), -EOPNOTSUPP);
  close(sv[0]);
  close(sv[1]);
  int pipefd[2];
  ASSERT_EQ(pipe2(pipefd, O_CLOEXEC), 0);
  // A receiver without ACCEPT_FD: ECOMM for fds, memfds are fine.
  o = unicast(nofd->id, 2);
  o.fds = {pipefd[0]};
  EXPECT_EQ(send(*e.c, o), -ECOMM);
  const int mfd = sealed_memfd("memfd data");
  o = unicast(nofd->id, 3);
  o.memfds = {kd::memfd{0, 10, mfd, 0}};
  ASSERT_EQ(send(*e.c, o), 0);
  message m;
  ASSERT_EQ(nofd->recv(m), 0);
  ASSERT_TRUE(m.find(kd::item_type::payload_memfd));
  const int got_mfd = m.find(kd::item_type::payload_memfd)->as<kd::memfd>().fd;
  ASSERT_GE(got_mfd, 0);
  char buf[16]{};
  EXPECT_EQ(pread(got_mfd, buf, 10, 0), 10);
  EXPECT_EQ(std::string(buf), "memfd data");
  close(got_mfd);
  // Unsealed memfds and non-memfds.
  const int unsealed = sealed_memfd("x", false);
  o.memfds = {kd::memfd{0, 1, unsealed, 0}};
  EXPECT_EQ(send(*e.c, o), -ETXTBSY);
  o.memfds = {kd::memfd{0, 1, pipefd[0], 0}};
  EXPECT_EQ(send(*e.c, o), -EMEDIUMTYPE);
  o.memfds = {kd::memfd{0, 100, mfd, 0}};
  EXPECT_EQ(send(*e.c, o), -EFAULT);
  close(unsealed);
  // 16 fds at most, 16 memfds at most.
  o = unicast(b->id, 4);
  o.fds.assign(17, pipefd[0]);
  EXPECT_EQ(send(*e.c, o), -EMFILE);
  o.fds.clear();
  o.memfds.assign(17, kd::memfd{0, 10, mfd, 0});
  EXPECT_EQ(send(*e.c, o), -E2BIG);
  // Broadcasting fds: ENOTUNIQ; memfds: fine.
  ASSERT_EQ(b->add_match_empty(), 0);
  o = broadcast(5);
  o.fds = {pipefd[0]};
  EXPECT_EQ(send(*e.c, o), -ENOTUNIQ);
  o.fds.clear();
  o.memfds = {kd::memfd{0, 10, mfd, 0}};
  ASSERT_EQ(send(*e.c, o), 0);
  ASSERT_EQ(b->recv(m), 0);
  close(m.find(kd::item_type::payload_memfd)->as<kd::memfd>().fd);
  // Received fds work: data written into the pipe comes out of the passed read end.
  o = unicast(b->id, 6);
  o.fds = {pipefd[0]};
  ASSERT_EQ(send(*e.c, o), 0);
  ASSERT_EQ(b->recv(m), 0);
  auto* fds = m.find(kd::item_type::fds);
  ASSERT_TRUE(fds);
  const int passed = fds->as<std::int32_t>();
  ASSERT_GE(passed, 0);
  EXPECT_NE(passed, pipefd[0]);
  ASSERT_EQ(write(pipefd[1], "ping", 4), 4);
  char rb[8]{};
  EXPECT_EQ(read(passed, rb, 4), 4);
  EXPECT_EQ(std::string(rb), "ping");
  close(passed);
  // The in-flight quota: 16 fds from one user in one receiver.
  for (int i = 0; i < 16; ++i) {
    o = unicast(b->id, 100 + i);
    o.fds = {pipefd[0]};
    ASSERT_EQ(send(*e.c, o), 0) << i;
  }
  o = unicast(b->id, 200);
  o.fds = {pipefd[0]};
  EXPECT_EQ(send(*e.c, o), -EMFILE);
  ASSERT_EQ(b->recv(m), 0);
  close(m.find(kd::item_type::fds)->as<std::int32_t>());
  EXPECT_EQ(send(*e.c, o), 0);
  while (b->recv(m) == 0) close(m.find(kd::item_type::fds)->as<std::int32_t>());
  close(mfd);
  close(pipefd[0]);
  close(pipefd[1]);
}

// 7 endpoint
TEST(Kdbus, Endpoint) {
  env e;
  const std::string uid = std::to_string(geteuid());
  const int epfd = e.dev.open(e.bus + "/bus");
  auto make_ep = [&](std::string_view name) {
    command<kd::cmd> c;
    c.head.flags = kd::make::access_world;
    c.add_str(kd::item_type::make_name, name);
    return call(e.dev, epfd, kd::ioctl::endpoint_make, c.build());
  };
  EXPECT_EQ(make_ep(uid + "-" + std::string(70, 'e')), -ENAMETOOLONG);
  EXPECT_EQ(make_ep("9999-foo"), -EINVAL);
  ASSERT_EQ(make_ep(uid + "-ep"), 0);
  // Unprivileged users cannot make endpoints.
  {
    const int other = e.dev.open(e.bus + "/bus", unprivileged(65534));
    ASSERT_GE(other, 0);
    command<kd::cmd> c;
    c.add_str(kd::item_type::make_name, "65534-x");
    EXPECT_EQ(call(e.dev, other, kd::ioctl::endpoint_make, c.build()), -EPERM);
    e.dev.close(other);
  }
  // A monitor on a custom endpoint.
  env::hello_options mon;
  mon.endpoint = uid + "-ep";
  mon.flags = kd::hello::monitor;
  int err = 0;
  EXPECT_FALSE(e.hello(mon, &err));
  EXPECT_EQ(err, -EOPNOTSUPP);
  env::hello_options on_ep;
  on_ep.endpoint = uid + "-ep";
  auto ep_conn = e.hello(on_ep);
  ASSERT_TRUE(ep_conn);
  // ID_ADD reaches it.
  ASSERT_EQ(ep_conn->add_match_id(kd::item_type::id_add, kd::match_id_any), 0);
  ASSERT_EQ(ep_conn->add_match_name(kd::item_type::name_add, kd::match_id_any, kd::match_id_any, "foo.bar.baz", 2), 0);
  auto other = e.hello();
  message m;
  ASSERT_EQ(ep_conn->recv(m), 0);
  ASSERT_TRUE(m.find(kd::item_type::id_add));
  EXPECT_EQ(m.find(kd::item_type::id_add)->as<kd::notify_id_change>().id, other->id);
  // Hidden names: no NAME_ADD, no CONN_INFO, no TALK.
  ASSERT_EQ(e.c->acquire("foo.bar.baz"), 0);
  EXPECT_EQ(ep_conn->recv(m), -EAGAIN);
  auto info = [&](std::uint64_t id, std::string_view name) {
    command<kd::cmd_info> c;
    c.head.id = id;
    if (!name.empty()) c.add_str(kd::item_type::name, name);
    auto* p = c.build();
    const int r = ep_conn->ioctl(kd::ioctl::conn_info, p);
    if (!r) ep_conn->free(p->offset);
    return r;
  };
  EXPECT_EQ(info(0, "foo.bar.baz"), -ESRCH);
  EXPECT_EQ(info(e.c->id, ""), -ENXIO);
  outgoing o = unicast(0, 1);
  o.dst_name = "foo.bar.baz";
  EXPECT_EQ(send(*ep_conn, o), -ESRCH);
  ASSERT_EQ(e.c->release("foo.bar.baz"), 0);
  // The endpoint's policy grants SEE and TALK.
  {
    command<kd::cmd> c;
    c.add_str(kd::item_type::name, "foo.bar.baz");
    auto a = access(kd::policy_type::world, kd::policy_access_kind::talk);
    c.add(kd::item_type::policy_access, &a, sizeof a);
    ASSERT_EQ(call(e.dev, epfd, kd::ioctl::endpoint_update, c.build()), 0);
    command<kd::cmd> bad;
    bad.add_str(kd::item_type::name, "foo.bar.*");
    bad.add(kd::item_type::policy_access, &a, sizeof a);
    EXPECT_EQ(call(e.dev, epfd, kd::ioctl::endpoint_update, bad.build()), -EINVAL);  // no wildcards
  }
  ASSERT_EQ(e.c->acquire("foo.bar.baz"), 0);
  ASSERT_EQ(ep_conn->recv(m), 0);
  ASSERT_TRUE(m.find(kd::item_type::name_add));
  EXPECT_EQ(info(0, "foo.bar.baz"), 0);
  EXPECT_EQ(info(e.c->id, ""), 0);
  ASSERT_EQ(send(*ep_conn, o), 0);
  ASSERT_EQ(e.c->recv(m), 0);
  EXPECT_EQ(m.head.src_id, ep_conn->id);
  // Closing the endpoint owner ends its connections.
  e.dev.close(epfd);
  EXPECT_TRUE(e.dev.poll_events(ep_conn->fd) & POLLHUP);
}

// 8 monitor
TEST(Kdbus, Monitor) {
  env e;
  auto b = e.hello();
  ASSERT_EQ(e.c->add_match_id(kd::item_type::id_add, kd::match_id_any, 1), 0);
  ASSERT_EQ(e.c->add_match_id(kd::item_type::id_remove, kd::match_id_any, 2), 0);
  env::hello_options mo;
  mo.flags = kd::hello::monitor;
  auto mon = e.hello(mo);
  ASSERT_TRUE(mon);
  message m;
  EXPECT_EQ(e.c->recv(m), -EAGAIN);  // no ID_ADD for a monitor
  EXPECT_EQ(mon->acquire("foo.bar.baz"), -EOPNOTSUPP);
  EXPECT_EQ(mon->add_match_empty(), -EOPNOTSUPP);
  // Unicasts and broadcasts reach the monitor.
  ASSERT_EQ(send(*e.c, unicast(b->id, 1)), 0);
  ASSERT_EQ(mon->recv(m), 0);
  EXPECT_EQ(m.head.cookie, 1u);
  EXPECT_EQ(m.head.dst_id, b->id);
  EXPECT_TRUE(m.find(kd::item_type::timestamp));
  EXPECT_TRUE(m.find(kd::item_type::pid_comm));
  ASSERT_EQ(send(*e.c, broadcast(2)), 0);
  ASSERT_EQ(mon->recv(m), 0);
  EXPECT_EQ(m.head.cookie, 2u);
  // Fewer attach flags: TIMESTAMP and CREDS but no PID_COMM.
  command<kd::cmd> up;
  up.add_u64(kd::item_type::attach_flags_recv, kd::attach::timestamp | kd::attach::creds);
  ASSERT_EQ(mon->ioctl(kd::ioctl::update, up.build()), 0);
  ASSERT_EQ(send(*e.c, unicast(b->id, 3)), 0);
  ASSERT_EQ(mon->recv(m), 0);
  EXPECT_TRUE(m.find(kd::item_type::timestamp));
  EXPECT_TRUE(m.find(kd::item_type::creds));
  EXPECT_FALSE(m.find(kd::item_type::pid_comm));
  mon.reset();
  EXPECT_EQ(e.c->recv(m), -EAGAIN);  // no ID_REMOVE either
  // An unprivileged monitor is refused.
  mo.as = unprivileged(65534);
  int err = 0;
  EXPECT_FALSE(e.hello(mo, &err));
  EXPECT_EQ(err, -EPERM);
}

// 15 message-quota
TEST(Kdbus, MessageQuota) {
  env e;
  auto a = e.hello();
  message m;
  // KDBUS_CONN_MAX_MSGS: 256 messages from one user in one receiver.
  for (std::uint64_t i = 0; i < kd::conn_max_msgs; ++i) ASSERT_EQ(send(*a, unicast(e.c->id, i + 1)), 0) << i;
  EXPECT_EQ(send(*a, unicast(e.c->id, 1000)), -ENOBUFS);
  ASSERT_EQ(e.c->recv(m), 0);
  EXPECT_EQ(send(*a, unicast(e.c->id, 1001)), 0);
  while (e.c->recv(m) == 0) {
  }
  // The pool quota: one user gets at most a third of half the pool.
  outgoing big = unicast(e.c->id, 2000);
  big.payload.assign(2 * 1024 * 1024 - 4096, 0x5a);
  ASSERT_EQ(send(*a, big), 0);
  EXPECT_EQ(send(*a, big), -ENOBUFS);
  EXPECT_EQ(send(*a, unicast(e.c->id, 2001)), 0);  // small messages still pass
  // Broadcasts over quota are lost and counted.
  ASSERT_EQ(e.c->add_match_empty(), 0);
  outgoing sig = broadcast(3000);
  sig.payload = big.payload;
  ASSERT_EQ(send(*a, sig), 0);
  ASSERT_EQ(e.c->recv(m), 0);
  EXPECT_EQ(m.head.cookie, 2000u);
  EXPECT_EQ(m.dropped, 1u);
  while (e.c->recv(m) == 0) {
  }
  EXPECT_EQ(m.dropped, 0u);
  // The expected-reply quota: 128 pending calls.
  std::vector<std::unique_ptr<conn>> peers;
  for (int i = 0; i < 2; ++i) peers.push_back(e.hello());
  for (std::uint64_t i = 0; i < kd::conn_max_requests_pending; ++i)
    ASSERT_EQ(send(*a, call_msg(peers[i % 2]->id, 5000 + i, 100000000000ull)), 0) << i;
  EXPECT_EQ(send(*a, call_msg(peers[0]->id, 6000, 100000000000ull)), -EMLINK);
  // A reply frees one.
  ASSERT_EQ(peers[0]->recv(m), 0);
  ASSERT_EQ(send(*peers[0], reply_msg(a->id, 1, m.head.cookie)), 0);
  EXPECT_EQ(send(*a, call_msg(peers[0]->id, 6001, 100000000000ull)), 0);
}

TEST(Kdbus, MessageQuotaActivator) {
  env e;
  env::hello_options ao;
  ao.flags = kd::hello::activator;
  ao.name = "foo.test.activator";
  auto act = e.hello(ao);
  ASSERT_TRUE(act);
  auto sender = e.hello();
  outgoing o = unicast(0, 1);
  o.dst_name = "foo.test.activator";
  for (std::uint64_t i = 0; i < kd::conn_max_msgs; ++i) {
    o.cookie = i + 1;
    ASSERT_EQ(send(*sender, o), 0);
  }
  o.cookie = 999;
  EXPECT_EQ(send(*sender, o), -ENOBUFS);
  EXPECT_EQ(send(*sender, unicast(act->id, 1)), -ENXIO);  // not by id
  // The implementer gets them all on acquisition; released, they go back.
  ASSERT_EQ(e.c->acquire("foo.test.activator", kd::name_flags::replace_existing), 0);
  message m;
  ASSERT_EQ(e.c->recv(m), 0);
  EXPECT_EQ(m.head.cookie, 1u);
  EXPECT_EQ(act->recv(m), -EAGAIN);
  ASSERT_EQ(e.c->release("foo.test.activator"), 0);
  ASSERT_EQ(act->recv(m, kd::recv::peek), 0);
  EXPECT_EQ(m.head.cookie, 2u);
}

TEST(Kdbus, MessageQuotaNotifications) {
  env e;
  // A one-page pool: kernel notifications beyond the quota are lost and counted.
  env::hello_options small;
  small.pool_size = 4096;
  auto r = e.hello(small);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->add_match_empty(), 0);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(e.hello());  // ID_ADD and ID_REMOVE each
  message m;
  command<kd::cmd_recv> rc;
  auto* p = rc.build();
  ASSERT_EQ(r->ioctl(kd::ioctl::recv, p), 0);
  EXPECT_TRUE(p->return_flags & kd::recv::return_dropped_msgs);
  const std::uint64_t lost = p->dropped_msgs;
  EXPECT_GT(lost, 0u);
  EXPECT_EQ(r->free(p->msg.offset), 0);
  std::uint64_t received = 1;
  while (r->recv(m) == 0) ++received;
  EXPECT_EQ(received + lost, 40u);
  EXPECT_EQ(m.dropped, 0u);  // reported once
}

// 16 memory-access
TEST(Kdbus, MemoryAccess) {
  env e;
  auto b = e.hello();
  outgoing o = unicast(b->id, 1);
  o.payload.clear();
  kd::vec v{};
  v.size = 64;
  v.address = 0xffffffff81000000ull;  // a kernel address
  o.raw_vecs = {v};
  EXPECT_EQ(send(*e.c, o), -EFAULT);
  v.address = 8;  // unmapped
  o.raw_vecs = {v};
  EXPECT_EQ(send(*e.c, o), -EFAULT);
  // A bad kdbus_msg pointer and a bad command pointer.
  command<kd::cmd_send> c;
  c.head.msg_address = 0xffffffff81000000ull;
  EXPECT_EQ(e.c->ioctl(kd::ioctl::send, c.build()), -EFAULT);
  EXPECT_EQ(e.c->ioctl(kd::ioctl::send, reinterpret_cast<void*>(0x10000)), -EFAULT);
  message m;
  EXPECT_EQ(b->recv(m), -EAGAIN);
}

// 18 sync-byebye
TEST(Kdbus, SyncByebye) {
  env e;
  auto b = e.hello();
  {
    outgoing o = call_msg(b->id, 1, 5000000000ull);
    o.send_flags = kd::send::sync_reply;
    auto caller = std::async(std::launch::async, [&] { return send(*e.c, o); });
    ASSERT_TRUE(e.dev.wait(b->fd, POLLIN, 2000) & POLLIN);
    command<kd::cmd> bye;
    EXPECT_EQ(e.c->ioctl(kd::ioctl::byebye, bye.build()), 0);  // our own connection goes
    EXPECT_EQ(caller.get(), -ECONNRESET);
  }
  message m;
  ASSERT_EQ(b->recv(m), 0);
  auto c = e.hello();
  {
    outgoing o = call_msg(b->id, 2, 5000000000ull);
    o.send_flags = kd::send::sync_reply;
    auto caller = std::async(std::launch::async, [&] { return send(*c, o); });
    ASSERT_TRUE(e.dev.wait(b->fd, POLLIN, 2000) & POLLIN);
    ASSERT_EQ(b->recv(m), 0);
    command<kd::cmd> bye;
    EXPECT_EQ(b->ioctl(kd::ioctl::byebye, bye.build()), 0);  // the peer goes
    EXPECT_EQ(caller.get(), -EPIPE);
  }
}

// 19 sync-reply
TEST(Kdbus, SyncReply) {
  env e;
  auto b = e.hello();
  auto replier = std::async(std::launch::async, [&] {
    if (!(e.dev.wait(b->fd, POLLIN, 2000) & POLLIN)) return -ETIMEDOUT;
    message m;
    if (const int r = b->recv(m); r) return r;
    if (send(*b, reply_msg(e.c->id, 77, 0xdead)) != -EBADSLT) return -EINVAL;
    outgoing rep = reply_msg(e.c->id, 78, m.head.cookie);
    rep.payload = {'p', 'o', 'n', 'g'};
    return send(*b, rep);
  });
  outgoing o = call_msg(b->id, 5, 5000000000ull);
  o.send_flags = kd::send::sync_reply;
  kd::msg_info reply{};
  ASSERT_EQ(send(*e.c, o, &reply), 0);
  EXPECT_EQ(replier.get(), 0);
  message m;
  m.offset = reply.offset;
  e.c->parse(m);
  EXPECT_EQ(m.head.cookie_reply, 5u);
  EXPECT_EQ(m.head.src_id, b->id);
  EXPECT_EQ(m.payload, (std::vector<std::uint8_t>{'p', 'o', 'n', 'g'}));
  EXPECT_EQ(e.c->free(reply.offset), 0);
  // Unanswered: ETIMEDOUT at the deadline.
  const auto start = std::chrono::steady_clock::now();
  o = call_msg(b->id, 6, 200000000ull);
  o.send_flags = kd::send::sync_reply;
  EXPECT_EQ(send(*e.c, o), -ETIMEDOUT);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(150));
  ASSERT_EQ(b->recv(m), 0);
  // A signal during the wait (SA_RESTART): the wait goes on and ends at the deadline.
  {
    struct sigaction sa {};
    sa.sa_handler = [](int) {};
    sa.sa_flags = SA_RESTART;
    struct sigaction old {};
    ASSERT_EQ(sigaction(SIGUSR1, &sa, &old), 0);
    o = call_msg(b->id, 60, 300000000ull);
    o.send_flags = kd::send::sync_reply;
    std::atomic<pthread_t> caller_thread{};
    auto caller = std::async(std::launch::async, [&] {
      caller_thread = pthread_self();
      return send(*e.c, o);
    });
    ASSERT_TRUE(e.dev.wait(b->fd, POLLIN, 2000) & POLLIN);
    while (!caller_thread.load()) std::this_thread::yield();
    pthread_kill(caller_thread.load(), SIGUSR1);
    EXPECT_EQ(caller.get(), -ETIMEDOUT);
    sigaction(SIGUSR1, &old, nullptr);
    ASSERT_EQ(b->recv(m), 0);
  }
  // A reply after the timeout: no tracker any more.
  EXPECT_EQ(send(*b, reply_msg(e.c->id, 9, 6)), -EBADSLT);
  // SYNC_REPLY without EXPECT_REPLY.
  outgoing plain = unicast(b->id, 7);
  plain.send_flags = kd::send::sync_reply;
  EXPECT_EQ(send(*e.c, plain), -EINVAL);
  // CANCEL_FD: an unsignalled one has no effect; a written one cancels.
  const int efd = eventfd(0, EFD_CLOEXEC);
  {
    auto r2 = std::async(std::launch::async, [&] {
      if (!(e.dev.wait(b->fd, POLLIN, 2000) & POLLIN)) return -ETIMEDOUT;
      message mm;
      if (const int r = b->recv(mm); r) return r;
      return send(*b, reply_msg(e.c->id, 80, mm.head.cookie));
    });
    o = call_msg(b->id, 10, 5000000000ull);
    o.send_flags = kd::send::sync_reply;
    o.cancel_fd = efd;
    ASSERT_EQ(send(*e.c, o, &reply), 0);
    EXPECT_EQ(r2.get(), 0);
    EXPECT_EQ(e.c->free(reply.offset), 0);
  }
  {
    o = call_msg(b->id, 11, 5000000000ull);
    o.send_flags = kd::send::sync_reply;
    o.cancel_fd = efd;
    auto caller = std::async(std::launch::async, [&] { return send(*e.c, o); });
    ASSERT_TRUE(e.dev.wait(b->fd, POLLIN, 2000) & POLLIN);
    const std::uint64_t one = 1;
    ASSERT_EQ(write(efd, &one, 8), 8);
    EXPECT_EQ(caller.get(), -ECANCELED);
    ASSERT_EQ(b->recv(m), 0);
  }
  close(efd);
  // The peer closes: EPIPE.
  {
    o = call_msg(b->id, 12, 5000000000ull);
    o.send_flags = kd::send::sync_reply;
    auto caller = std::async(std::launch::async, [&] { return send(*e.c, o); });
    ASSERT_TRUE(e.dev.wait(b->fd, POLLIN, 2000) & POLLIN);
    b.reset();
    EXPECT_EQ(caller.get(), -EPIPE);
  }
}

// 21 connection-info
TEST(Kdbus, ConnectionInfo) {
  env e;
  const auto me = local_device::process_credentials();
  auto info = [&](conn& who, std::uint64_t id, std::string_view name, std::uint64_t attach, std::vector<item_view>& items,
                  kd::info* out = nullptr) {
    command<kd::cmd_info> c;
    c.head.id = id;
    c.head.attach_flags = attach;
    if (!name.empty()) c.add_str(kd::item_type::name, name);
    auto* p = c.build();
    if (const int r = who.ioctl(kd::ioctl::conn_info, p); r) return r;
    kd::info inf{};
    std::memcpy(&inf, who.pool + p->offset, sizeof inf);
    if (out) *out = inf;
    items = who.items_at(p->offset + sizeof inf, inf.size - sizeof inf);
    return who.free(p->offset);
  };
  auto count = [](const std::vector<item_view>& items, kd::item_type t) {
    return std::count_if(items.begin(), items.end(), [&](const item_view& i) { return i.type == kd::to_u64(t); });
  };
  const std::uint64_t valid = kd::attach::names | kd::attach::creds | kd::attach::pids | kd::attach::conn_description;
  std::vector<item_view> items;
  kd::info inf{};
  ASSERT_EQ(info(*e.c, e.c->id, "", valid, items, &inf), 0);
  EXPECT_EQ(inf.id, e.c->id);
  EXPECT_EQ(inf.flags, kd::hello::accept_fd);
  ASSERT_EQ(count(items, kd::item_type::creds), 1);
  for (const auto& i : items)
    if (i.type == kd::to_u64(kd::item_type::creds)) {
      EXPECT_EQ(i.as<kd::creds>().uid, me.ids.uid);
      EXPECT_EQ(i.as<kd::creds>().egid, me.ids.egid);
    } else if (i.type == kd::to_u64(kd::item_type::pids)) {
      EXPECT_EQ(i.as<kd::pids>().pid, me.pids.pid);
    }
  EXPECT_EQ(count(items, kd::item_type::caps), 0);
  EXPECT_EQ(count(items, kd::item_type::owned_name), 0);
  ASSERT_EQ(e.c->acquire("com.example.a"), 0);
  ASSERT_EQ(info(*e.c, e.c->id, "", valid | kd::attach::caps, items), 0);
  EXPECT_EQ(count(items, kd::item_type::owned_name), 1);
  EXPECT_EQ(count(items, kd::item_type::caps), 1);
  ASSERT_EQ(e.c->acquire("com.example.b"), 0);
  ASSERT_EQ(info(*e.c, 0, "com.example.b", valid, items, &inf), 0);
  EXPECT_EQ(inf.id, e.c->id);
  EXPECT_EQ(count(items, kd::item_type::owned_name), 2);
  // A connection made by an unprivileged user reports the credentials of its HELLO.
  env::hello_options uo;
  uo.as = unprivileged(65534);
  uo.description = "unpriv";
  auto u = e.hello(uo);
  ASSERT_TRUE(u);
  ASSERT_EQ(info(*e.c, u->id, "", valid, items), 0);
  for (const auto& i : items) {
    if (i.type == kd::to_u64(kd::item_type::creds)) {
      EXPECT_EQ(i.as<kd::creds>().euid, 65534u);
    }
    if (i.type == kd::to_u64(kd::item_type::conn_description)) {
      EXPECT_EQ(i.str(), "unpriv");
    }
  }
  // A proxy's HELLO with faked credentials (bus owners only): they replace the process's.
  env::hello_options po;
  po.fake_creds = kd::creds{1001, 1001, 1001, 1001, 1002, 1002, 1002, 1002};
  po.fake_pids = kd::pids{4242, 4243, 1};
  auto proxy = e.hello(po);
  ASSERT_TRUE(proxy);
  ASSERT_EQ(info(*e.c, proxy->id, "", valid | kd::attach::pid_comm, items), 0);
  for (const auto& i : items) {
    if (i.type == kd::to_u64(kd::item_type::creds)) {
      EXPECT_EQ(i.as<kd::creds>().uid, 1001u);
      EXPECT_EQ(i.as<kd::creds>().gid, 1002u);
    }
    if (i.type == kd::to_u64(kd::item_type::pids)) {
      EXPECT_EQ(i.as<kd::pids>().pid, 4242u);
    }
  }
  EXPECT_EQ(count(items, kd::item_type::pid_comm), 0);
  message fm;
  ASSERT_EQ(send(*proxy, unicast(e.c->id, 1)), 0);
  ASSERT_EQ(e.c->recv(fm), 0);
  ASSERT_TRUE(fm.find(kd::item_type::creds));
  EXPECT_EQ(fm.find(kd::item_type::creds)->as<kd::creds>().uid, 1001u);
  po.as = unprivileged(65534);
  int perr = 0;
  EXPECT_FALSE(e.hello(po, &perr));
  EXPECT_EQ(perr, -EPERM);
  // Errors.
  EXPECT_EQ(info(*e.c, 0, "com.example.none", valid, items), -ESRCH);
  EXPECT_EQ(info(*e.c, 0x7fffffff, "", valid, items), -ENXIO);
  EXPECT_EQ(info(*e.c, u->id, "com.example.b", valid, items), -ESRCH);  // owned by someone else
  command<kd::cmd_info> c;
  const char unterminated[8] = {'c', 'o', 'm', '.', 'x', '.', 'y', 'z'};
  c.add(kd::item_type::name, unterminated, sizeof unterminated);
  EXPECT_EQ(e.c->ioctl(kd::ioctl::conn_info, c.build()), -EINVAL);
  command<kd::cmd_info> bad;
  bad.head.attach_flags = 1ull << 40;
  EXPECT_EQ(e.c->ioctl(kd::ioctl::conn_info, bad.build()), -EINVAL);
}

// 22 connection-update
TEST(Kdbus, ConnectionUpdate) {
  env e;
  auto b = e.hello();
  message m;
  ASSERT_EQ(send(*e.c, unicast(b->id, 1)), 0);
  ASSERT_EQ(b->recv(m), 0);
  EXPECT_TRUE(m.find(kd::item_type::timestamp));
  command<kd::cmd> up;
  up.add_u64(kd::item_type::attach_flags_recv, kd::attach::all & ~kd::attach::timestamp);
  ASSERT_EQ(b->ioctl(kd::ioctl::update, up.build()), 0);
  ASSERT_EQ(send(*e.c, unicast(b->id, 2)), 0);
  ASSERT_EQ(b->recv(m), 0);
  EXPECT_FALSE(m.find(kd::item_type::timestamp));
  EXPECT_TRUE(m.find(kd::item_type::creds));
  command<kd::cmd> bogus;
  bogus.add_u64(kd::item_type::attach_flags_recv, kd::attach::all + 1);
  EXPECT_EQ(b->ioctl(kd::ioctl::update, bogus.build()), -EINVAL);
  command<kd::cmd> any;
  any.add_u64(kd::item_type::attach_flags_send, kd::attach::any);
  EXPECT_EQ(b->ioctl(kd::ioctl::update, any.build()), 0);
  // Ordinary connections upload no policy.
  command<kd::cmd> pol;
  pol.add_str(kd::item_type::name, "com.example.a");
  EXPECT_EQ(b->ioctl(kd::ioctl::update, pol.build()), -EOPNOTSUPP);
}

// 24 policy
TEST(Kdbus, Policy) {
  env e;
  auto holder = [&](std::string name, kd::policy_access a, int* err) {
    env::hello_options o;
    o.flags = kd::hello::policy_holder;
    o.name = name;
    o.policy = {{name, {a}}};
    return e.hello(o, err);
  };
  const auto world_own = access(kd::policy_type::world, kd::policy_access_kind::own);
  int err = 0;
  EXPECT_FALSE(holder("foo", world_own, &err));
  EXPECT_EQ(err, -EINVAL);
  EXPECT_FALSE(holder("foo.bar..baz", world_own, &err));
  EXPECT_EQ(err, -EINVAL);
  auto h1 = holder("com.example.a", world_own, &err);
  ASSERT_TRUE(h1) << err;
  EXPECT_FALSE(holder("com.example.a", world_own, &err));
  EXPECT_EQ(err, -EEXIST);
  auto h2 = holder("com.example.*", world_own, &err);  // a wildcard beside the specific name
  ASSERT_TRUE(h2) << err;
  // Policy holders cannot send.
  EXPECT_EQ(send(*h1, unicast(e.c->id, 1)), -EOPNOTSUPP);
  // Updates with invalid names.
  command<kd::cmd> up;
  up.add_str(kd::item_type::name, "foo");
  up.add(kd::item_type::policy_access, &world_own, sizeof world_own);
  EXPECT_EQ(h1->ioctl(kd::ioctl::update, up.build()), -EINVAL);
  command<kd::cmd> dup;
  dup.add_str(kd::item_type::name, "com.example.*");
  dup.add(kd::item_type::policy_access, &world_own, sizeof world_own);
  EXPECT_EQ(h1->ioctl(kd::ioctl::update, dup.build()), -EEXIST);
  // The holder's disconnect drops its entries.
  h2.reset();
  EXPECT_TRUE(holder("com.example.*", world_own, &err)) << err;
}

// 25 policy-priv, with the credentials of other users supplied to the device (no setuid).
TEST(Kdbus, PolicyPriv) {
  env e;
  env::hello_options uo;
  uo.as = unprivileged(65534);
  auto u1 = e.hello(uo);
  auto u1b = e.hello(uo);
  env::hello_options u2o;
  u2o.as = unprivileged(65533);
  auto u2 = e.hello(u2o);
  ASSERT_TRUE(u1 && u1b && u2);
  // Secure by default: no OWN, no policy holders for unprivileged users.
  EXPECT_EQ(u1->acquire("com.example.owned"), -EPERM);
  env::hello_options ho;
  ho.flags = kd::hello::policy_holder;
  ho.name = "com.example.owned";
  ho.policy = {{"com.example.owned", {access(kd::policy_type::world, kd::policy_access_kind::own)}}};
  ho.as = unprivileged(65534);
  int err = 0;
  EXPECT_FALSE(e.hello(ho, &err));
  EXPECT_EQ(err, -EPERM);
  // Owners may always acquire and talk.
  EXPECT_EQ(e.c->acquire("com.example.root"), 0);
  EXPECT_EQ(send(*e.c, unicast(u1->id, 1)), 0);
  // TALK: denied between different uids, allowed for the same uid.
  EXPECT_EQ(send(*u1, unicast(e.c->id, 2)), -EPERM);
  EXPECT_EQ(send(*u1, unicast(u2->id, 3)), -EPERM);
  EXPECT_EQ(send(*u1, unicast(u1b->id, 4)), 0);
  // A policy: OWN for uid 65534 (which implies TALK), TALK for world on another name, SEE only
  // for a third one.
  // HELLO carries one NAME; the holder's whole policy comes with UPDATE (NAME multiple).
  ho.as.reset();
  ho.policy = {{"com.example.owned", {access(kd::policy_type::user, kd::policy_access_kind::own, 65534)}}};
  auto holder = e.hello(ho, &err);
  ASSERT_TRUE(holder) << err;
  {
    command<kd::cmd> up;
    auto add = [&](std::string_view name, std::vector<kd::policy_access> list) {
      up.add_str(kd::item_type::name, name);
      for (const auto& a : list) up.add(kd::item_type::policy_access, &a, sizeof a);
    };
    add("com.example.owned", {access(kd::policy_type::user, kd::policy_access_kind::own, 65534)});
    add("com.example.talk", {access(kd::policy_type::world, kd::policy_access_kind::talk),
                             access(kd::policy_type::group, kd::policy_access_kind::own, 65533)});
    add("com.example.see", {access(kd::policy_type::world, kd::policy_access_kind::see),
                            access(kd::policy_type::user, kd::policy_access_kind::own, 65533)});
    ASSERT_EQ(holder->ioctl(kd::ioctl::update, up.build()), 0);
  }
  EXPECT_EQ(u2->acquire("com.example.owned"), -EPERM);
  ASSERT_EQ(u1->acquire("com.example.owned"), 0);
  EXPECT_EQ(send(*u2, unicast(u1->id, 5)), -EPERM);  // OWN for 65534 gives 65533 nothing
  ASSERT_EQ(u2->acquire("com.example.see"), 0);
  EXPECT_EQ(send(*u1, unicast(u2->id, 6)), -EPERM);  // SEE is not TALK
  ASSERT_EQ(u2->acquire("com.example.talk"), 0);  // GROUP OWN
  EXPECT_EQ(send(*u1, unicast(u2->id, 7)), 0);    // WORLD TALK on a name u2 owns
  // Broadcasts: unprivileged receivers need TALK towards the sender.
  ASSERT_EQ(u1->add_match_empty(), 0);
  ASSERT_EQ(u2->add_match_empty(), 0);
  ASSERT_EQ(e.c->add_match_empty(), 0);
  message m;
  while (u1->recv(m) == 0) {
  }
  while (u2->recv(m) == 0) {
  }
  ASSERT_EQ(send(*u2, broadcast(8)), 0);
  ASSERT_EQ(u1->recv(m), 0);  // u1 may talk to u2 (com.example.talk)
  EXPECT_EQ(m.head.cookie, 8u);
  ASSERT_EQ(e.c->recv(m), 0);  // the privileged owner receives everything it matches
  ASSERT_EQ(u2->recv(m), 0);  // the sender's own broadcast
  EXPECT_EQ(m.head.cookie, 8u);
  ASSERT_EQ(send(*u1, broadcast(9)), 0);
  EXPECT_EQ(u2->recv(m), -EAGAIN);  // u2 may not talk to u1
  // The policy goes with its holder: TALK is gone.
  holder.reset();
  EXPECT_EQ(send(*u1, unicast(u2->id, 10)), -EPERM);
}

// 35 activator
TEST(Kdbus, Activator) {
  env e;
  env::hello_options ao;
  ao.flags = kd::hello::activator;
  ao.name = "foo.test.activator";
  ao.policy = {{"foo.test.activator", {access(kd::policy_type::user, kd::policy_access_kind::own, geteuid()),
                                       access(kd::policy_type::world, kd::policy_access_kind::talk)}}};
  auto act = e.hello(ao);
  ASSERT_TRUE(act);
  int err = 0;
  EXPECT_FALSE(e.hello(ao, &err));  // a second activator
  EXPECT_EQ(err, -EEXIST);
  std::uint64_t flags = 0;
  ASSERT_TRUE(e.c->name_listed("foo.test.activator", act->id, &flags));
  EXPECT_EQ(flags, kd::name_flags::activator | kd::name_flags::primary);
  auto client = e.hello();
  ASSERT_EQ(e.c->add_match_name(kd::item_type::name_change, kd::match_id_any, kd::match_id_any, "foo.test.activator"), 0);
  outgoing o = unicast(0, 42);
  o.dst_name = "foo.test.activator";
  o.flags = kd::msg_flags::no_auto_start;
  EXPECT_EQ(send(*client, o), -EADDRNOTAVAIL);
  o.flags = 0;
  ASSERT_EQ(send(*client, o), 0);
  outgoing call = call_msg(0, 43, 10000000000ull);
  call.dst_name = "foo.test.activator";
  ASSERT_EQ(send(*client, call), 0);  // a call: its reply tracker moves with it
  ASSERT_TRUE(e.dev.wait(act->fd, POLLIN, 1000) & POLLIN);  // wakes the activator
  // The implementer takes the name and the message.
  std::uint64_t ret = 0;
  ASSERT_EQ(e.c->acquire("foo.test.activator", kd::name_flags::replace_existing, &ret), 0);
  EXPECT_EQ(ret, kd::name_flags::acquired | kd::name_flags::primary);
  // The moved message and the NAME_CHANGE notification (moved messages come first, as the
  // kernel flushes notifications after the hand-over).
  message m, note;
  ASSERT_EQ(e.c->recv(m), 0);
  EXPECT_EQ(m.head.cookie, 42u);
  EXPECT_EQ(m.head.src_id, client->id);
  message moved_call;
  ASSERT_EQ(e.c->recv(moved_call), 0);
  EXPECT_EQ(moved_call.head.cookie, 43u);
  ASSERT_EQ(e.c->recv(note), 0);
  ASSERT_TRUE(note.find(kd::item_type::name_change));
  auto nc = note.find(kd::item_type::name_change)->as<kd::notify_name_change>();
  EXPECT_EQ(nc.old_id.id, act->id);
  EXPECT_TRUE(nc.old_id.flags & kd::name_flags::activator);
  EXPECT_EQ(nc.new_id.id, e.c->id);
  ASSERT_EQ(send(*e.c, reply_msg(client->id, 44, 43)), 0);
  ASSERT_EQ(client->recv(m), 0);
  EXPECT_EQ(m.head.cookie_reply, 43u);
  EXPECT_EQ(act->recv(m), -EAGAIN);
  // Unprivileged users may TALK to the activator (WORLD) but not own the name.
  env::hello_options uo;
  uo.as = unprivileged(65534);
  auto u = e.hello(uo);
  ASSERT_EQ(e.c->release("foo.test.activator"), 0);
  EXPECT_EQ(send(*u, o), 0);
  EXPECT_EQ(u->acquire("foo.test.activator"), -EPERM);
  ASSERT_EQ(act->recv(m), 0);
  EXPECT_EQ(m.head.src_id, u->id);
}

// 36-37 benchmark, benchmark-nomemfds: a ping-pong of 4 KiB messages, each checked on both
// ends (the timing of selftest 38, benchmark-uds, is bench/'s kdbus/ping_pong_4KiB_vec/bare).
// The payload travels in a sealed memfd (passed back by the ponger) or in a PAYLOAD_VEC whose
// bytes change every round, so a stale or misplaced slice shows.
std::string round_data(int round) {
  std::string data(4096, '\0');
  for (std::size_t i = 0; i < data.size(); ++i)
    data[i] = static_cast<char>('a' + (static_cast<std::size_t>(round) + i) % 26);
  return data;
}

// The 4 KiB that `m` carries: its PAYLOAD_VEC bytes, or what its one memfd holds (its fd is
// returned in `memfd` and stays open).
std::string received_data(const message& m, bool memfds, int& memfd) {
  if (!memfds) return std::string(m.payload.begin(), m.payload.end());
  EXPECT_EQ(m.count(kd::item_type::payload_memfd), 1u);
  EXPECT_TRUE(m.payload.empty());
  const auto* item = m.find(kd::item_type::payload_memfd);
  if (!item) return {};
  const auto mf = item->as<kd::memfd>();
  memfd = mf.fd;
  EXPECT_GE(memfd, 0);
  EXPECT_EQ(mf.size, 4096u);
  std::string data(static_cast<std::size_t>(mf.size), '\0');
  EXPECT_EQ(pread(memfd, data.data(), data.size(), static_cast<off_t>(mf.start)), static_cast<ssize_t>(data.size()));
  return data;
}

void ping_pong(bool memfds, int rounds) {
  env e;
  auto b = e.hello();
  const std::string sealed = round_data(0);
  const int mfd = memfds ? sealed_memfd(sealed) : -1;
  int pings = 0, pongs = 0;
  for (int i = 0; i < rounds; ++i) {
    const std::uint64_t cookie = static_cast<std::uint64_t>(i + 1);
    const std::string data = memfds ? sealed : round_data(i);
    outgoing ping = unicast(b->id, cookie);
    ping.payload.clear();
    if (memfds) ping.memfds = {kd::memfd{0, data.size(), mfd, 0}};
    else ping.payload.assign(data.begin(), data.end());
    ASSERT_EQ(send(*e.c, ping), 0);
    message m;
    ASSERT_EQ(b->recv(m), 0);
    ASSERT_EQ(m.head.src_id, e.c->id);
    ASSERT_EQ(m.head.dst_id, b->id);
    ASSERT_EQ(m.head.cookie, cookie);
    int got_fd = -1;
    ASSERT_EQ(received_data(m, memfds, got_fd), data) << "ping " << i;
    ++pings;
    // The pong carries the same bytes back: the memfd the ponger received, or a copy.
    outgoing pong = unicast(e.c->id, cookie);
    pong.payload.clear();
    if (memfds) pong.memfds = {kd::memfd{0, data.size(), got_fd, 0}};
    else pong.payload.assign(data.begin(), data.end());
    ASSERT_EQ(send(*b, pong), 0);
    if (got_fd >= 0) close(got_fd);
    ASSERT_EQ(e.c->recv(m), 0);
    ASSERT_EQ(m.head.src_id, b->id);
    ASSERT_EQ(m.head.cookie, cookie);
    int back_fd = -1;
    ASSERT_EQ(received_data(m, memfds, back_fd), data) << "pong " << i;
    if (back_fd >= 0) close(back_fd);
    ++pongs;
  }
  EXPECT_EQ(pings, rounds);
  EXPECT_EQ(pongs, rounds);
  // Nothing more on either side.
  message rest;
  EXPECT_EQ(b->recv(rest), -EAGAIN);
  EXPECT_EQ(e.c->recv(rest), -EAGAIN);
  if (mfd >= 0) close(mfd);
}

TEST(Kdbus, Benchmark) { ping_pong(true, 500); }
TEST(Kdbus, BenchmarkNomemfds) { ping_pong(false, 500); }

}  // namespace
}  // namespace kbus::test
