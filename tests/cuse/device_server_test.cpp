// kbusd's device server, driven as the kernel's CUSE drives it: ioctls with their retries,
// send frames in chunks, reads of whole slices or of chunks; and garbage of every kind, which
// gets an errno, never a crash.
#include "kbusd/device_server.hpp"
#include "transport/cuse/protocol.hpp"
#include "transport/kdbus/abi.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <random>
#include <vector>

namespace {

namespace kd = kbus::kdbus;
namespace proto = kbus::detail::cuse;
using kbus::kbusd::device_server;

struct device {
  device_server server{options()};

  static kbus::kbusd::server_options options() {
    static std::atomic<unsigned> counter{0};
    kbus::kbusd::server_options o;
    o.bus_name = std::to_string(::geteuid()) + "-device-server-test-" + std::to_string(counter++);
    return o;
  }
  static kbus::kbusd::caller me() {
    return {static_cast<std::uint32_t>(getuid()), static_cast<std::uint32_t>(getgid()), static_cast<std::uint32_t>(gettid())};
  }

  // An unrestricted ioctl as the kernel runs it (notes §5.1); the number of round trips in
  // `trips`.
  int ioctl(device_server::handle h, std::uint32_t number, void* arg, int* trips = nullptr) {
    std::vector<std::uint8_t> in;
    std::vector<kbus::kbusd::user_range> out;
    std::size_t out_size = 0;
    for (int round = 1; round < 10; ++round) {
      auto step = server.ioctl(h, number, reinterpret_cast<std::uintptr_t>(arg), in, out_size, me());
      if (trips) *trips = round;
      if (!step.retry) {
        if (step.error) return step.error;
        std::size_t at = 0;
        for (const auto& r : out) {
          const std::size_t n = std::min<std::size_t>(static_cast<std::size_t>(r.size), step.output.size() - at);
          std::memcpy(reinterpret_cast<void*>(static_cast<std::uintptr_t>(r.address)), step.output.data() + at, n);
          at += n;
        }
        return 0;
      }
      in.clear();
      for (const auto& r : step.in) {
        const auto* p = reinterpret_cast<const std::uint8_t*>(static_cast<std::uintptr_t>(r.address));
        in.insert(in.end(), p, p + r.size);
      }
      out = step.out;
      out_size = 0;
      for (const auto& r : out) out_size += static_cast<std::size_t>(r.size);
    }
    return ELOOP;
  }

  struct connection {
    device_server::handle h = 0;
    std::uint64_t id = 0;
  };
  connection hello() {
    connection c;
    EXPECT_EQ(server.open(me(), c.h), 0);
    kd::cmd_hello head{};
    head.pool_size = 4 << 20;  // one sender may fill a sixth of it (kdbus's quota)
    head.attach_flags_recv = 0;
    auto words = kd::command_words(head, {});
    EXPECT_EQ(ioctl(c.h, proto::command_number(kd::ioctl::hello, head.size), words.data()), 0);
    std::memcpy(&head, words.data(), sizeof head);
    c.id = head.id;
    return c;
  }

  // The send frame of a message from `from` to `to` carrying `payload`.
  static std::vector<std::uint8_t> frame_to(const connection& to, const std::vector<std::uint8_t>& payload,
                                            std::vector<std::uint64_t>& msg_words) {
    std::vector<std::uint8_t> items;
    kd::item_writer w(items);
    kd::vec v{};
    v.size = payload.size();
    v.address = reinterpret_cast<std::uintptr_t>(payload.data());
    w.add_struct(kd::item_type::payload_vec, v);
    kd::msg head{};
    head.payload_type = kd::payload_dbus;
    head.dst_id = to.id;
    head.cookie = 7;
    msg_words = kd::command_words(head, items);
    kd::cmd_send send{};
    send.size = sizeof send;
    send.msg_address = reinterpret_cast<std::uintptr_t>(msg_words.data());
    const auto* cmd = reinterpret_cast<const std::uint8_t*>(&send);
    const proto::region regions[] = {
        {send.msg_address, {reinterpret_cast<const std::uint8_t*>(msg_words.data()), static_cast<std::size_t>(head.size)}},
        {v.address, payload}};
    return proto::encode_send_frame({cmd, sizeof send}, regions);
  }

  static std::vector<std::uint8_t> chunk(std::uint64_t frame_id, const std::vector<std::uint8_t>& frame, std::size_t from,
                                         std::size_t n) {
    proto::write_header h;
    h.frame_id = frame_id;
    h.frame_size = frame.size();
    h.chunk_offset = from;
    std::vector<std::uint8_t> out(sizeof h + n);
    std::memcpy(out.data(), &h, sizeof h);
    if (n) std::memcpy(out.data() + sizeof h, frame.data() + from, n);
    return out;
  }

  // A message of `payload` from `from` to `to`, written in one chunk: the write's result.
  std::int64_t send(const connection& from, const connection& to, const std::vector<std::uint8_t>& payload) {
    std::vector<std::uint64_t> msg;
    const auto frame = frame_to(to, payload, msg);
    return server.write(from.h, chunk(next_frame++, frame, 0, frame.size()), me());
  }

  // What `c` reads: the headers and the slice put together; `last` is the last read's header.
  int read_all(const connection& c, proto::read_header& first, std::vector<std::uint8_t>& slice, int& reads,
               proto::read_header* last = nullptr) {
    slice.clear();
    reads = 0;
    for (;;) {
      std::vector<std::uint8_t> out;
      const int r = server.read(c.h, proto::max_transfer, me(), out);
      if (r) return r;
      ++reads;
      proto::read_header h{};
      std::memcpy(&h, out.data(), sizeof h);
      if (slice.empty()) first = h;
      if (last) *last = h;
      EXPECT_EQ(h.chunk_offset, slice.size());
      slice.insert(slice.end(), out.begin() + sizeof h, out.end());
      if (slice.size() >= h.msg_size) return 0;
      EXPECT_TRUE(h.flags & proto::read_more) << "a chunk before the last says that more waits";
    }
  }

  // Whether the file `c` gets a poll notification now (the wakeups are taken).
  bool notified(const connection& c) {
    bool yes = false;
    for (const auto& w : server.take_wakeups()) yes |= w.h == c.h && w.notify;
    return yes;
  }

  std::uint64_t next_frame = 100;
};

bool contains(const std::vector<std::uint8_t>& haystack, const std::vector<std::uint8_t>& needle) {
  return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end()) != haystack.end();
}

TEST(DeviceServer, AControlCommandTakesTwoRoundTripsWithItsSizeInTheNumberAndThreeWithout) {
  device d;
  auto a = d.hello();
  ASSERT_NE(a.id, 0u);
  kd::cmd_list list{};
  list.flags = kd::list::unique;
  auto words = kd::command_words(list, {});
  int trips = 0;
  ASSERT_EQ(d.ioctl(a.h, proto::command_number(kd::ioctl::list, list.size), words.data(), &trips), 0);
  EXPECT_EQ(trips, 2);
  // kdbus's own number says only the fixed part: the server asks again for the rest.
  std::vector<std::uint8_t> items;
  kd::item_writer w(items);
  w.add_string(kd::item_type::name, "org.kbus.Three");
  kd::cmd acquire{};
  auto name_words = kd::command_words(acquire, items);
  ASSERT_EQ(d.ioctl(a.h, kd::ioctl::name_acquire, name_words.data(), &trips), 0);
  EXPECT_EQ(trips, 3);
}

TEST(DeviceServer, AMessageGoesOutInChunksAndComesBackWhole) {
  device d;
  auto a = d.hello(), b = d.hello();
  std::vector<std::uint8_t> payload(300 * 1024);
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<std::uint8_t>(i * 31 + 7);
  std::vector<std::uint64_t> msg;
  const auto frame = device::frame_to(b, payload, msg);
  const std::size_t step = proto::max_transfer - sizeof(proto::write_header);
  for (std::size_t at = 0; at < frame.size(); at += step) {
    const auto c = device::chunk(1, frame, at, std::min(step, frame.size() - at));
    EXPECT_EQ(d.server.write(a.h, c, device::me()), static_cast<std::int64_t>(c.size()));
  }
  proto::read_header first{};
  std::vector<std::uint8_t> slice;
  int reads = 0;
  ASSERT_EQ(d.read_all(b, first, slice, reads), 0);
  EXPECT_EQ(reads, 3);  // 300 KiB in transfers of 124 KiB
  EXPECT_EQ(slice.size(), first.msg_size);
  EXPECT_TRUE(contains(slice, payload));
  std::vector<std::uint8_t> out;
  EXPECT_EQ(d.server.read(b.h, proto::max_transfer, device::me(), out), EAGAIN);
}

TEST(DeviceServer, EachReadSaysWhetherAnotherWouldFindSomething) {
  device d;
  auto a = d.hello(), b = d.hello();
  ASSERT_GT(d.send(a, b, {'o', 'n', 'e'}), 0);
  ASSERT_GT(d.send(a, b, {'t', 'w', 'o'}), 0);
  proto::read_header first{}, last{};
  std::vector<std::uint8_t> slice;
  int reads = 0;
  ASSERT_EQ(d.read_all(b, first, slice, reads, &last), 0);
  EXPECT_TRUE(contains(slice, {'o', 'n', 'e'}));
  EXPECT_TRUE(last.flags & proto::read_more) << "the second message waits";
  ASSERT_EQ(d.read_all(b, first, slice, reads, &last), 0);
  EXPECT_TRUE(contains(slice, {'t', 'w', 'o'}));
  EXPECT_FALSE(last.flags & proto::read_more) << "nothing waits";
  // The client skips this read; asked anyway, the server says the same.
  std::vector<std::uint8_t> out;
  EXPECT_EQ(d.server.read(b.h, proto::max_transfer, device::me(), out), EAGAIN);
}

// The kernel polls a file again for each notification: a file is notified only when it was
// told last that nothing waits (by a read or a POLL) and something comes, and only once.
TEST(DeviceServer, AFileIsNotifiedWhenSomethingComesAfterItWasToldNothingWaitsAndOnlyThen) {
  device d;
  auto a = d.hello(), b = d.hello();
  d.server.take_wakeups();
  ASSERT_GT(d.send(a, b, {1}), 0);
  EXPECT_TRUE(d.notified(b)) << "a new file has been told nothing";
  ASSERT_GT(d.send(a, b, {2}), 0);
  EXPECT_FALSE(d.notified(b)) << "notified already, and not told anything since";
  EXPECT_FALSE(d.notified(a)) << "the sender has nothing new";

  proto::read_header first{}, last{};
  std::vector<std::uint8_t> slice;
  int reads = 0;
  ASSERT_EQ(d.read_all(b, first, slice, reads, &last), 0);
  EXPECT_FALSE(d.notified(b)) << "told that more waits";
  ASSERT_GT(d.send(a, b, {3}), 0);
  EXPECT_FALSE(d.notified(b)) << "told that more waits, and it reads on";
  ASSERT_EQ(d.read_all(b, first, slice, reads, &last), 0);
  ASSERT_EQ(d.read_all(b, first, slice, reads, &last), 0);
  ASSERT_FALSE(last.flags & proto::read_more);
  EXPECT_FALSE(d.notified(b)) << "its own read changed nothing it was not told";
  ASSERT_GT(d.send(a, b, {4}), 0);
  EXPECT_TRUE(d.notified(b)) << "told by its last read that nothing waits";

  // A POLL tells too: readable, then nothing more is needed; not readable, then the next
  // message is notified.
  EXPECT_TRUE(d.server.answer_poll(b.h).readable);
  ASSERT_GT(d.send(a, b, {5}), 0);
  EXPECT_FALSE(d.notified(b));
  ASSERT_EQ(d.read_all(b, first, slice, reads, &last), 0);
  ASSERT_EQ(d.read_all(b, first, slice, reads, &last), 0);
  EXPECT_FALSE(d.server.answer_poll(b.h).readable);
  EXPECT_FALSE(d.notified(b));
  ASSERT_GT(d.send(a, b, {6}), 0);
  EXPECT_TRUE(d.notified(b)) << "told by a POLL that nothing waits";

  // A read answered EAGAIN tells as much.
  EXPECT_TRUE(d.server.answer_poll(b.h).readable);
  ASSERT_EQ(d.read_all(b, first, slice, reads, &last), 0);
  std::vector<std::uint8_t> out;
  ASSERT_EQ(d.server.read(b.h, proto::max_transfer, device::me(), out), EAGAIN);
  EXPECT_FALSE(d.notified(b));
  ASSERT_GT(d.send(a, b, {7}), 0);
  EXPECT_TRUE(d.notified(b)) << "told by an EAGAIN that nothing waits";
}

TEST(DeviceServer, AChunkWrittenAgainAfterAnInterruptionIsTakenOnce) {
  device d;
  auto a = d.hello(), b = d.hello();
  const std::vector<std::uint8_t> payload = {'o', 'n', 'c', 'e', '!'};
  std::vector<std::uint64_t> msg;
  const auto frame = device::frame_to(b, payload, msg);
  const auto head = device::chunk(5, frame, 0, 40), tail = device::chunk(5, frame, 40, frame.size() - 40);
  EXPECT_EQ(d.server.write(a.h, head, device::me()), static_cast<std::int64_t>(head.size()));
  EXPECT_EQ(d.server.write(a.h, head, device::me()), static_cast<std::int64_t>(head.size()));
  EXPECT_EQ(d.server.write(a.h, tail, device::me()), static_cast<std::int64_t>(tail.size()));
  proto::read_header first{};
  std::vector<std::uint8_t> slice;
  int reads = 0;
  ASSERT_EQ(d.read_all(b, first, slice, reads), 0);
  EXPECT_TRUE(contains(slice, payload));
  std::vector<std::uint8_t> out;
  EXPECT_EQ(d.server.read(b.h, proto::max_transfer, device::me(), out), EAGAIN) << "delivered twice";
}

TEST(DeviceServer, BadWritesAndIoctlsGetAnErrno) {
  device d;
  auto a = d.hello(), b = d.hello();
  const auto me = device::me();
  std::vector<std::uint8_t> tiny(8);
  EXPECT_EQ(d.server.write(a.h, tiny, me), -EPROTO);
  std::vector<std::uint64_t> msg;
  const auto frame = device::frame_to(b, {1, 2, 3}, msg);
  auto bad_magic = device::chunk(1, frame, 0, frame.size());
  bad_magic[0] ^= 0xff;
  EXPECT_EQ(d.server.write(a.h, bad_magic, me), -EPROTO);
  EXPECT_EQ(d.server.write(a.h, device::chunk(2, frame, 8, 8), me), -EPROTO);  // a new frame not at 0
  auto huge = device::chunk(3, frame, 0, 8);
  const std::uint64_t size = std::uint64_t{1} << 40;
  std::memcpy(huge.data() + 16, &size, 8);
  EXPECT_EQ(d.server.write(a.h, huge, me), -EMSGSIZE);
  // A frame whose parts lie: refused whole.
  auto lying = frame;
  std::memset(lying.data(), 0xff, 8);
  const auto lie = device::chunk(4, lying, 0, lying.size());
  EXPECT_EQ(d.server.write(a.h, lie, me), -EPROTO);
  EXPECT_EQ(d.server.write(999, lie, me), -EBADF);

  std::uint64_t words[8] = {};
  EXPECT_EQ(d.ioctl(a.h, 0x12345678u, words), ENOTTY);
  EXPECT_EQ(d.ioctl(a.h, kd::ioctl::send, words), EOPNOTSUPP);  // messages go by write and read
  EXPECT_EQ(d.ioctl(a.h, kd::ioctl::free, reinterpret_cast<std::uint8_t*>(words) + 4), EFAULT);
  words[0] = 8;  // smaller than the command
  EXPECT_EQ(d.ioctl(a.h, kd::ioctl::name_acquire, words), EINVAL);
  words[0] = std::uint64_t{1} << 20;
  EXPECT_EQ(d.ioctl(a.h, kd::ioctl::name_acquire, words), EMSGSIZE);
  proto::slice_request q{5 << 20, 16, reinterpret_cast<std::uintptr_t>(words)};
  EXPECT_EQ(d.ioctl(a.h, proto::slice_ioctl, &q), EFAULT);  // beyond the pool
  q = {0, proto::max_transfer + 8, reinterpret_cast<std::uintptr_t>(words)};
  EXPECT_EQ(d.ioctl(a.h, proto::slice_ioctl, &q), EINVAL);
  std::vector<std::uint8_t> out;
  EXPECT_EQ(d.server.read(a.h, 4, me, out), EINVAL);

  // And still at work: a message goes through.
  const auto good = device::chunk(9, frame, 0, frame.size());
  EXPECT_EQ(d.server.write(a.h, good, me), static_cast<std::int64_t>(good.size()));
  EXPECT_EQ(d.server.read(b.h, proto::max_transfer, me, out), 0);
}

// Random writes and ioctl steps (a fixed seed: the same inputs every run).
TEST(DeviceServer, RandomInputIsRefusedWithoutACrash) {
  device d;
  auto a = d.hello();
  std::mt19937_64 random(20261203);
  for (int i = 0; i < 3000; ++i) {
    std::vector<std::uint8_t> bytes(random() % 256);
    for (auto& b : bytes) b = static_cast<std::uint8_t>(random());
    if (bytes.size() >= 4 && i % 2) std::memcpy(bytes.data(), &proto::write_magic, 4);
    d.server.write(a.h, bytes, device::me());
    const std::uint32_t numbers[] = {kd::ioctl::hello, kd::ioctl::list, kd::ioctl::name_acquire, kd::ioctl::match_add,
                                     kd::ioctl::conn_info, kd::ioctl::free, proto::slice_ioctl};
    alignas(8) std::uint8_t arg[256];
    for (auto& b : arg) b = static_cast<std::uint8_t>(random());
    d.server.ioctl(a.h, numbers[random() % 7], reinterpret_cast<std::uintptr_t>(arg), bytes, random() % 512, device::me());
  }
  std::vector<std::uint8_t> out;
  const int r = d.server.read(a.h, proto::max_transfer, device::me(), out);
  EXPECT_TRUE(r == 0 || r == EAGAIN) << r;
}

}  // namespace
