// Bad input never crashes kbusd's core: random and mutated commands of every kind, on handles
// in every state, with kdbus_msg bytes served from a fake caller memory. Not a selftest entry:
// the core's own check that every size and offset from a caller is checked before use.
#include "broker/domain.hpp"
#include "kdbus_util.hpp"

#include <random>

namespace kbus::test {
namespace {

// Caller memory: one buffer at a fake address.
class fake_io final : public broker::peer_io {
 public:
  static constexpr std::uint64_t base = 0x100000;
  std::vector<std::uint8_t> memory;
  int read_user(std::uint64_t address, void* out, std::size_t size) override {
    if (address < base || address - base > memory.size() || size > memory.size() - (address - base)) return EFAULT;
    if (size) std::memcpy(out, memory.data() + (address - base), size);
    return 0;
  }
  int take_fd(int, broker::file_ref&) override { return EBADF; }
  int take_memfd(int, std::uint64_t, std::uint64_t, broker::file_ref&) override { return EBADF; }
  int install_fd(const broker::file_ref&) override { return -1; }
};

std::vector<std::uint8_t> bytes_of(const void* p, std::size_t n) {
  const auto* b = static_cast<const std::uint8_t*>(p);
  return {b, b + n};
}

TEST(KdbusCore, BadInputNeverCrashes) {
  broker::domain d;
  broker::credentials who = local_device::process_credentials();
  fake_io io;
  const std::string bus = std::to_string(who.ids.euid) + "-robust";
  broker::handle_id control = 0, owner_ep = 0;
  ASSERT_EQ(d.open("control", who, control), 0);
  {
    command<kd::cmd> c;
    kd::bloom_parameter bp{64, 1};
    c.add(kd::item_type::bloom_parameter, &bp, sizeof bp);
    c.add_str(kd::item_type::make_name, bus);
    auto* p = c.build();
    auto v = bytes_of(p, p->size);
    ASSERT_EQ(d.ioctl(control, kd::ioctl::bus_make, v, who, io), 0);
  }
  auto connect = [&](std::uint64_t flags = kd::hello::accept_fd) {
    broker::handle_id h = 0;
    EXPECT_EQ(d.open(bus + "/bus", who, h), 0);
    command<kd::cmd_hello> c;
    c.head.flags = flags;
    c.head.pool_size = 1024 * 1024;
    c.head.attach_flags_recv = kd::attach::all;
    auto* p = c.build();
    auto v = bytes_of(p, p->size);
    EXPECT_EQ(d.ioctl(h, kd::ioctl::hello, v, who, io), 0);
    return h;
  };
  std::vector<broker::handle_id> handles = {control, connect(), connect(), connect()};
  ASSERT_EQ(d.open(bus + "/bus", who, owner_ep), 0);
  handles.push_back(owner_ep);

  static constexpr std::uint32_t numbers[] = {
      kd::ioctl::bus_make, kd::ioctl::endpoint_make, kd::ioctl::endpoint_update, kd::ioctl::hello,
      kd::ioctl::update, kd::ioctl::byebye, kd::ioctl::free, kd::ioctl::conn_info, kd::ioctl::bus_creator_info,
      kd::ioctl::list, kd::ioctl::send, kd::ioctl::recv, kd::ioctl::name_acquire, kd::ioctl::name_release,
      kd::ioctl::match_add, kd::ioctl::match_remove};
  static constexpr std::uint64_t item_types[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                                 0x1000, 0x1001, 0x2000, 0x8000, 0x8001, 0x8002, 0x8003, 0x8004};
  std::mt19937_64 rng(20151101);
  auto pick = [&](std::uint64_t n) { return static_cast<std::size_t>(rng() % n); };

  // A plausible item with a random type and a payload of random length and content.
  auto random_items = [&](std::vector<std::uint8_t>& out) {
    const std::size_t n = pick(5);
    for (std::size_t i = 0; i < n; ++i) {
      std::vector<std::uint8_t> payload(pick(48));
      for (auto& b : payload) b = static_cast<std::uint8_t>(pick(4) == 0 ? rng() : (pick(3) ? 'a' : 0));
      if (!payload.empty() && pick(2)) payload.back() = 0;
      kd::item_writer(out).add_raw(item_types[pick(std::size(item_types))], payload.data(), payload.size());
    }
  };
  for (int round = 0; round < 20000; ++round) {
    const std::uint32_t number = numbers[pick(std::size(numbers))];
    const std::size_t fixed = kd::ioctl_fixed_size(number);
    std::vector<std::uint8_t> cmd(fixed, 0);
    for (std::size_t i = 8; i < fixed; ++i) cmd[i] = pick(4) == 0 ? static_cast<std::uint8_t>(rng()) : 0;
    if (pick(2)) {  // sane flags now and then
      std::uint64_t flags = pick(3) == 0 ? rng() : pick(8);
      std::memcpy(cmd.data() + 8, &flags, 8);
    }
    random_items(cmd);
    if (pick(10) == 0) cmd.resize(pick(cmd.size() + 16));
    std::uint64_t size = cmd.size();
    if (pick(20) == 0) size = rng();
    if (cmd.size() >= 8) std::memcpy(cmd.data(), &size, 8);
    // A SEND points at a random or mutated kdbus_msg in the fake memory.
    if (number == kd::ioctl::send && cmd.size() >= sizeof(kd::cmd_send)) {
      std::vector<std::uint8_t> msg(sizeof(kd::msg), 0);
      kd::msg m{};
      m.flags = pick(8);
      m.dst_id = pick(3) == 0 ? kd::dst_id_broadcast : pick(8);
      m.payload_type = pick(4) ? kd::payload_dbus : rng();
      m.cookie = rng();
      m.timeout_ns = pick(2) ? 0 : rng();
      std::memcpy(msg.data(), &m, sizeof m);
      random_items(msg);
      if (pick(3) == 0) {  // a vec into the fake memory or anywhere
        kd::vec v{};
        v.size = pick(64) + 1;
        v.address = pick(2) ? fake_io::base + pick(256) : rng();
        kd::item_writer(msg).add_struct(kd::item_type::payload_vec, v);
      }
      std::uint64_t msize = pick(10) == 0 ? rng() : msg.size();
      std::memcpy(msg.data(), &msize, 8);
      io.memory = msg;
      io.memory.resize(msg.size() + 256, 0x55);
      const std::uint64_t addr = pick(10) == 0 ? rng() : fake_io::base;
      std::memcpy(cmd.data() + offsetof(kd::cmd_send, msg_address), &addr, 8);
      const std::uint64_t send_flags = pick(4) == 0 ? kd::send::sync_reply : 0;
      std::memcpy(cmd.data() + 8, &send_flags, 8);
    }
    const broker::handle_id h = handles[pick(handles.size())];
    std::uint64_t ticket = 0;
    if (size != cmd.size()) {
      continue;  // the front never passes a command whose size field disagrees with its bytes
    }
    const int r = d.ioctl(h, number, cmd, who, io, &ticket);
    if (r == broker::in_progress) {
      d.sync_abort(ticket, ETIMEDOUT);
      EXPECT_EQ(d.sync_result(ticket, cmd, io), ETIMEDOUT);
    } else {
      EXPECT_GE(r, 0);
    }
    d.expire(UINT64_MAX - 1);
    // Keep the queues moving.
    if (round % 50 == 0) {
      for (auto hh : handles) {
        command<kd::cmd_recv> rc;
        auto* p = rc.build();
        auto v = bytes_of(p, p->size);
        while (d.ioctl(hh, kd::ioctl::recv, v, who, io) == 0) {
          kd::cmd_recv out{};
          std::memcpy(&out, v.data(), sizeof out);
          command<kd::cmd_free> fc;
          fc.head.offset = out.msg.offset;
          auto* fp = fc.build();
          auto fv = bytes_of(fp, fp->size);
          d.ioctl(hh, kd::ioctl::free, fv, who, io);
        }
      }
    }
    // Connections that went away come back.
    for (std::size_t i = 1; i < 4; ++i)
      if (!d.connected(handles[i])) {
        d.close(handles[i]);
        handles[i] = connect(pick(2) ? kd::hello::accept_fd : 0);
      }
  }
}

// Every limit of §1.8 that a test can reach cheaply, on the core directly (heap pools).
TEST(KdbusCore, Limits) {
  broker::domain d;
  broker::credentials who = local_device::process_credentials();
  broker::null_io io;
  auto run = [&](broker::handle_id h, std::uint32_t number, auto& cmd) {
    auto* p = cmd.build();
    std::span<std::uint8_t> bytes(reinterpret_cast<std::uint8_t*>(p), p->size);
    return d.ioctl(h, number, bytes, who, io);
  };
  auto make_bus = [&](std::string_view name) {
    broker::handle_id h = 0;
    EXPECT_EQ(d.open("control", who, h), 0);
    command<kd::cmd> c;
    kd::bloom_parameter bp{8, 1};
    c.add(kd::item_type::bloom_parameter, &bp, sizeof bp);
    c.add_str(kd::item_type::make_name, name);
    return run(h, kd::ioctl::bus_make, c);
  };
  const std::string uid = std::to_string(who.ids.euid);
  // KDBUS_USER_MAX_BUSES.
  for (std::size_t i = 0; i < kd::user_max_buses; ++i) ASSERT_EQ(make_bus(uid + "-b" + std::to_string(i)), 0);
  EXPECT_EQ(make_bus(uid + "-one-too-many"), EMFILE);
  // Bloom sizes: at least 8, a multiple of 8, at most KDBUS_BUS_BLOOM_MAX_SIZE.
  for (std::uint64_t size : {std::uint64_t{0}, std::uint64_t{4}, std::uint64_t{12}, kd::bus_bloom_max_size + 8}) {
    broker::handle_id h = 0;
    ASSERT_EQ(d.open("control", who, h), 0);
    command<kd::cmd> c;
    kd::bloom_parameter bp{size, 1};
    c.add(kd::item_type::bloom_parameter, &bp, sizeof bp);
    c.add_str(kd::item_type::make_name, uid + "-bloom");
    EXPECT_EQ(run(h, kd::ioctl::bus_make, c), EINVAL) << size;
  }
  auto connect = [&](int* err = nullptr) {
    broker::handle_id h = 0;
    EXPECT_EQ(d.open(uid + "-b0/bus", who, h), 0);
    command<kd::cmd_hello> c;
    c.head.pool_size = 4096;
    const int r = run(h, kd::ioctl::hello, c);
    if (err) *err = r;
    return h;
  };
  // KDBUS_USER_MAX_CONN.
  std::vector<broker::handle_id> conns;
  for (std::size_t i = 0; i < kd::user_max_conn; ++i) {
    int err = 0;
    conns.push_back(connect(&err));
    ASSERT_EQ(err, 0) << i;
  }
  int err = 0;
  connect(&err);
  EXPECT_EQ(err, EMFILE);
  for (std::size_t i = 2; i < conns.size(); ++i) d.close(conns[i]);
  const auto c0 = conns[0];
  // KDBUS_CONN_MAX_NAMES.
  for (std::size_t i = 0; i < kd::conn_max_names; ++i) {
    command<kd::cmd> c;
    c.add_str(kd::item_type::name, "com.example.n" + std::to_string(i));
    ASSERT_EQ(run(c0, kd::ioctl::name_acquire, c), 0) << i;
  }
  command<kd::cmd> name;
  name.add_str(kd::item_type::name, "com.example.toomany");
  EXPECT_EQ(run(c0, kd::ioctl::name_acquire, name), E2BIG);
  // KDBUS_NAME_MAX_LEN.
  command<kd::cmd> long_name;
  long_name.add_str(kd::item_type::name, "com.example." + std::string(kd::name_max_len, 'x'));
  EXPECT_EQ(run(conns[1], kd::ioctl::name_acquire, long_name), EINVAL);
  // KDBUS_MATCH_MAX.
  for (std::size_t i = 0; i < kd::match_max; ++i) {
    command<kd::cmd_match> c;
    c.head.cookie = i;
    ASSERT_EQ(run(c0, kd::ioctl::match_add, c), 0) << i;
  }
  command<kd::cmd_match> match;
  EXPECT_EQ(run(c0, kd::ioctl::match_add, match), EMFILE);
  match.head.flags = kd::match::replace;  // replacing stays within the limit
  EXPECT_EQ(run(c0, kd::ioctl::match_add, match), 0);
  // KDBUS_CMD_MAX_SIZE.
  command<kd::cmd_match> huge;
  std::vector<std::uint8_t> pad(kd::cmd_max_size, 0);
  huge.add(kd::item_type::bloom_mask, pad.data(), pad.size());
  EXPECT_EQ(run(c0, kd::ioctl::match_add, huge), EMSGSIZE);
}

}  // namespace
}  // namespace kbus::test
