// Helpers for the kdbus selftest list (kdbus ABI notes §3) against kbusd's core through the
// in-process device: buses, connections with a mapped pool, commands built as bytes.
#pragma once

#include "broker/device.hpp"
#include "transport/kdbus/abi.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kbus::test {

namespace kd = kbus::kdbus;
using broker::local_device;

inline constexpr std::uint64_t test_pool_size = 16 * 1024 * 1024;  // TEST_CREATE_CONN
inline constexpr std::uint64_t test_bloom_size = 64;              // TEST_CREATE_BUS
inline constexpr std::uint64_t test_bloom_hashes = 1;

inline std::uint64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<std::uint64_t>(ts.tv_nsec);
}

// A command: the fixed struct T followed by items, 8-aligned, `size` set.
template <class T>
struct command {
  std::vector<std::uint64_t> words;  // 8-aligned storage
  std::vector<std::uint8_t> items;
  T head{};

  void add(kd::item_type t, const void* data, std::size_t n) {
    kd::item_writer w(items);
    w.add_raw(kd::to_u64(t), data, n);
  }
  void add_u64(kd::item_type t, std::uint64_t v) { add(t, &v, 8); }
  void add_str(kd::item_type t, std::string_view s) {
    std::string z(s);
    add(t, z.c_str(), z.size() + 1);
  }
  // Lays the command out; returns the pointer to pass to ioctl.
  T* build() {
    words = kd::command_words(head, items);
    return reinterpret_cast<T*>(words.data());
  }
  T* get() { return reinterpret_cast<T*>(words.data()); }
};

inline int call(local_device& dev, int fd, unsigned long req, void* arg) {
  return dev.ioctl(fd, req, arg) == 0 ? 0 : -errno;
}

struct item_view {
  std::uint64_t type;
  std::vector<std::uint8_t> payload;
  std::string str() const {
    const auto* p = reinterpret_cast<const char*>(payload.data());
    return std::string(p, strnlen(p, payload.size()));
  }
  template <class T>
  T as() const {
    T v{};
    std::memcpy(&v, payload.data(), std::min(sizeof(T), payload.size()));
    return v;
  }
};

// A received message, copied out of the pool.
struct message {
  kd::msg head{};
  std::uint64_t offset = 0, slice_size = 0, return_flags = 0;
  std::vector<item_view> items;
  std::vector<std::uint8_t> payload;  // the data of the PAYLOAD_OFF items, concatenated
  std::uint64_t dropped = 0;

  const item_view* find(kd::item_type t) const {
    for (const auto& i : items)
      if (i.type == kd::to_u64(t)) return &i;
    return nullptr;
  }
  std::size_t count(kd::item_type t) const {
    std::size_t n = 0;
    for (const auto& i : items) n += i.type == kd::to_u64(t);
    return n;
  }
};

struct conn {
  local_device* dev = nullptr;
  int fd = -1;
  std::uint64_t id = 0;
  const std::uint8_t* pool = nullptr;
  std::uint64_t pool_size = 0;
  std::uint64_t hello_offset = 0;
  ~conn() {
    if (pool) munmap(const_cast<std::uint8_t*>(pool), pool_size);
    if (fd >= 0) dev->close(fd);
  }
  int ioctl(unsigned long req, void* arg) { return call(*dev, fd, req, arg); }

  int free(std::uint64_t offset) {
    command<kd::cmd_free> c;
    c.head.offset = offset;
    return ioctl(kd::ioctl::free, c.build());
  }

  std::vector<item_view> items_at(std::uint64_t offset, std::uint64_t size) const {
    std::vector<item_view> out;
    kd::for_each_item(std::span<const std::uint8_t>(pool + offset, size), [&](const kd::item_ref& it) {
      out.push_back({it.type, std::vector<std::uint8_t>(it.payload.begin(), it.payload.end())});
      return 0;
    });
    return out;
  }

  // RECV: 0 and `out`, or -errno (the dropped count is reported in `out` either way).
  int recv(message& out, std::uint64_t flags = 0, std::int64_t priority = 0, bool free_it = true) {
    command<kd::cmd_recv> c;
    c.head.flags = flags;
    c.head.priority = priority;
    auto* cmd = c.build();
    const int r = ioctl(kd::ioctl::recv, cmd);
    out.dropped = cmd->dropped_msgs;
    if (r) return r;
    out.offset = cmd->msg.offset;
    out.slice_size = cmd->msg.msg_size;
    out.return_flags = cmd->msg.return_flags;
    if (flags & kd::recv::drop) return 0;
    parse(out);
    if (free_it && !(flags & kd::recv::peek)) {
      EXPECT_EQ(free(out.offset), 0);
    }
    return 0;
  }

  void parse(message& out) const {
    std::memcpy(&out.head, pool + out.offset, sizeof out.head);
    out.items = items_at(out.offset + sizeof(kd::msg), out.head.size - sizeof(kd::msg));
    out.payload.clear();
    for (const auto& i : out.items) {
      if (i.type != kd::to_u64(kd::item_type::payload_off)) continue;
      auto v = i.as<kd::vec>();
      if (v.offset == ~0ull) {
        out.payload.insert(out.payload.end(), v.size, 0);
      } else {
        out.payload.insert(out.payload.end(), pool + out.offset + v.offset, pool + out.offset + v.offset + v.size);
      }
    }
  }

  int acquire(std::string_view name, std::uint64_t flags = 0, std::uint64_t* ret = nullptr) {
    command<kd::cmd> c;
    c.head.flags = flags;
    c.add_str(kd::item_type::name, name);
    auto* p = c.build();
    const int r = ioctl(kd::ioctl::name_acquire, p);
    if (ret) *ret = p->return_flags;
    return r;
  }
  int release(std::string_view name) {
    command<kd::cmd> c;
    c.add_str(kd::item_type::name, name);
    return ioctl(kd::ioctl::name_release, c.build());
  }

  int add_match_empty(std::uint64_t cookie = 0) {
    command<kd::cmd_match> c;
    c.head.cookie = cookie;
    return ioctl(kd::ioctl::match_add, c.build());
  }
  int add_match_id(kd::item_type t, std::uint64_t id, std::uint64_t cookie = 1, std::uint64_t flags = 0) {
    command<kd::cmd_match> c;
    c.head.cookie = cookie;
    c.head.flags = flags;
    kd::notify_id_change ic{id, 0};
    c.add(t, &ic, sizeof ic);
    return ioctl(kd::ioctl::match_add, c.build());
  }
  int add_match_name(kd::item_type t, std::uint64_t old_id, std::uint64_t new_id, std::string_view name,
                     std::uint64_t cookie = 1) {
    command<kd::cmd_match> c;
    c.head.cookie = cookie;
    std::vector<std::uint8_t> p(sizeof(kd::notify_name_change) + name.size() + 1, 0);
    kd::notify_name_change nc{{old_id, 0}, {new_id, 0}};
    std::memcpy(p.data(), &nc, sizeof nc);
    std::memcpy(p.data() + sizeof nc, name.data(), name.size());
    c.add(t, p.data(), p.size());
    return ioctl(kd::ioctl::match_add, c.build());
  }
  int remove_match(std::uint64_t cookie) {
    command<kd::cmd_match> c;
    c.head.cookie = cookie;
    return ioctl(kd::ioctl::match_remove, c.build());
  }

  struct listed {
    std::uint64_t id, flags;
    std::string name;
    std::uint64_t name_flags;
  };
  int list(std::uint64_t flags, std::vector<listed>& out) {
    command<kd::cmd_list> c;
    c.head.flags = flags;
    auto* p = c.build();
    if (const int r = ioctl(kd::ioctl::list, p); r) return r;
    std::uint64_t pos = 0;
    while (pos < p->list_size) {
      kd::info inf{};
      std::memcpy(&inf, pool + p->offset + pos, sizeof inf);
      listed l{inf.id, inf.flags, {}, 0};
      for (const auto& it : items_at(p->offset + pos + sizeof inf, inf.size - sizeof inf))
        if (it.type == kd::to_u64(kd::item_type::owned_name)) {
          l.name_flags = it.as<kd::name>().flags;
          const auto* s = reinterpret_cast<const char*>(it.payload.data() + 8);
          l.name = std::string(s, strnlen(s, it.payload.size() - 8));
        }
      out.push_back(l);
      pos += kd::align8(inf.size);
    }
    return free(p->offset);
  }
  // Whether `name` is listed with `flags` for `id`.
  bool name_listed(std::string_view name, std::uint64_t id, std::uint64_t* flags = nullptr) {
    std::vector<listed> l;
    if (list(kd::list::names | kd::list::queued | kd::list::activators, l)) return false;
    for (const auto& x : l)
      if (x.name == name && x.id == id) {
        if (flags) *flags = x.name_flags;
        return true;
      }
    return false;
  }
};

// A message to send.
struct outgoing {
  std::uint64_t dst_id = kd::dst_id_broadcast;
  std::uint64_t cookie = 0;
  std::uint64_t flags = 0;
  std::uint64_t timeout_or_reply = 0;
  std::int64_t priority = 0;
  std::string dst_name;
  std::vector<std::uint8_t> payload;
  std::optional<std::vector<std::uint64_t>> bloom;  // words; set for signals
  std::uint64_t bloom_generation = 0;
  std::vector<int> fds;
  std::vector<kd::memfd> memfds;
  std::vector<kd::vec> raw_vecs;  // extra PAYLOAD_VEC items as given
  std::uint64_t send_flags = 0;
  std::optional<int> cancel_fd;
  std::uint64_t payload_type = kd::payload_dbus;
};

// SEND: 0 or -errno; a sync reply's msg_info in `reply`.
inline int send(conn& c, const outgoing& o, kd::msg_info* reply = nullptr) {
  std::vector<std::uint8_t> items;
  kd::item_writer w(items);
  if (!o.dst_name.empty()) w.add_string(kd::item_type::dst_name, o.dst_name);
  if (!o.payload.empty()) {
    kd::vec v{};
    v.size = o.payload.size();
    v.address = reinterpret_cast<std::uintptr_t>(o.payload.data());
    w.add_struct(kd::item_type::payload_vec, v);
  }
  for (const auto& v : o.raw_vecs) w.add_struct(kd::item_type::payload_vec, v);
  for (const auto& m : o.memfds) w.add_struct(kd::item_type::payload_memfd, m);
  if (o.bloom) {
    std::vector<std::uint64_t> f{o.bloom_generation};
    f.insert(f.end(), o.bloom->begin(), o.bloom->end());
    w.add_raw(kd::to_u64(kd::item_type::bloom_filter), f.data(), f.size() * 8);
  }
  if (!o.fds.empty()) w.add_raw(kd::to_u64(kd::item_type::fds), o.fds.data(), o.fds.size() * 4);
  std::vector<std::uint64_t> msgbuf((sizeof(kd::msg) + items.size() + 7) / 8, 0);
  kd::msg m{};
  m.size = sizeof(kd::msg) + items.size();
  m.flags = o.flags;
  m.priority = o.priority;
  m.dst_id = o.dst_id;
  m.payload_type = o.payload_type;
  m.cookie = o.cookie;
  m.timeout_ns = o.timeout_or_reply;
  std::memcpy(msgbuf.data(), &m, sizeof m);
  if (!items.empty()) std::memcpy(reinterpret_cast<std::uint8_t*>(msgbuf.data()) + sizeof m, items.data(), items.size());
  command<kd::cmd_send> cmd;
  cmd.head.flags = o.send_flags;
  cmd.head.msg_address = reinterpret_cast<std::uintptr_t>(msgbuf.data());
  if (o.cancel_fd) {
    std::int32_t fd = *o.cancel_fd;
    cmd.add(kd::item_type::cancel_fd, &fd, 4);
  }
  auto* p = cmd.build();
  const int r = c.ioctl(kd::ioctl::send, p);
  if (reply) *reply = p->reply;
  return r;
}

// The signal helpers of the selftests: an all-ones bloom filter of the test bus's size.
inline std::vector<std::uint64_t> full_bloom() { return std::vector<std::uint64_t>(test_bloom_size / 8, ~0ull); }

inline outgoing broadcast(std::uint64_t cookie) {
  outgoing o;
  o.cookie = cookie;
  o.flags = kd::msg_flags::signal;
  o.bloom = full_bloom();
  o.payload = {'h', 'e', 'l', 'l', 'o'};
  return o;
}

inline outgoing unicast(std::uint64_t dst, std::uint64_t cookie) {
  outgoing o;
  o.dst_id = dst;
  o.cookie = cookie;
  o.payload = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  return o;
}

inline outgoing call_msg(std::uint64_t dst, std::uint64_t cookie, std::uint64_t timeout_rel_ns) {
  outgoing o = unicast(dst, cookie);
  o.flags = kd::msg_flags::expect_reply;
  o.timeout_or_reply = now_ns() + timeout_rel_ns;
  return o;
}

inline outgoing reply_msg(std::uint64_t dst, std::uint64_t cookie, std::uint64_t reply_to) {
  outgoing o = unicast(dst, cookie);
  o.timeout_or_reply = reply_to;
  return o;
}

// A test bus (TEST_CREATE_BUS): "<uid>-<name>", bloom 64 bytes / 1 hash, ACCESS_WORLD.
struct env {
  local_device dev;
  std::string bus;
  int control = -1;
  std::unique_ptr<conn> c;  // TEST_CREATE_CONN

  explicit env(bool with_conn = true, std::string_view suffix = "test") {
    bus = std::to_string(geteuid()) + "-" + std::string(suffix);
    control = dev.open("control");
    EXPECT_GE(control, 0);
    EXPECT_EQ(make_bus(control, bus), 0);
    if (with_conn) c = hello();
  }
  ~env() {
    c.reset();
    if (control >= 0) dev.close(control);
  }

  int make_bus(int fd, std::string_view name, std::uint64_t flags = kd::make::access_world,
               std::uint64_t bloom_size = test_bloom_size) {
    command<kd::cmd> c;
    c.head.flags = flags;
    kd::bloom_parameter bp{bloom_size, test_bloom_hashes};
    c.add(kd::item_type::bloom_parameter, &bp, sizeof bp);
    c.add_u64(kd::item_type::attach_flags_send, kd::attach::all);
    c.add_str(kd::item_type::make_name, name);
    return call(dev, fd, kd::ioctl::bus_make, c.build());
  }

  struct hello_options {
    std::uint64_t flags = kd::hello::accept_fd;
    std::uint64_t attach_send = kd::attach::all;
    std::uint64_t attach_recv = kd::attach::all;
    std::uint64_t pool_size = test_pool_size;
    std::string name;  // ACTIVATOR / POLICY_HOLDER
    std::vector<std::pair<std::string, std::vector<kd::policy_access>>> policy;
    std::optional<broker::credentials> as;
    std::string endpoint = "bus";
    std::string description;
    std::optional<kd::creds> fake_creds;  // a proxy's HELLO (bus owners only)
    std::optional<kd::pids> fake_pids;
  };

  // HELLO: the connection with its pool mapped, or null with `err` set.
  std::unique_ptr<conn> hello(const hello_options& o, int* err = nullptr) {
    const std::string node = bus + "/" + o.endpoint;
    const int fd = o.as ? dev.open(node, *o.as) : dev.open(node);
    if (fd < 0) {
      if (err) *err = -errno;
      return nullptr;
    }
    command<kd::cmd_hello> c;
    c.head.flags = o.flags;
    c.head.attach_flags_send = o.attach_send;
    c.head.attach_flags_recv = o.attach_recv;
    c.head.pool_size = o.pool_size;
    if (!o.description.empty()) c.add_str(kd::item_type::conn_description, o.description);
    if (o.fake_creds) c.add(kd::item_type::creds, &*o.fake_creds, sizeof *o.fake_creds);
    if (o.fake_pids) c.add(kd::item_type::pids, &*o.fake_pids, sizeof *o.fake_pids);
    if (!o.name.empty()) c.add_str(kd::item_type::name, o.name);
    for (const auto& [n, acc] : o.policy) {
      if (n != o.name) c.add_str(kd::item_type::name, n);
      for (const auto& a : acc) c.add(kd::item_type::policy_access, &a, sizeof a);
    }
    auto* p = c.build();
    if (const int r = call(dev, fd, kd::ioctl::hello, p); r) {
      if (err) *err = r;
      dev.close(fd);
      return nullptr;
    }
    auto out = std::make_unique<conn>();
    out->dev = &dev;
    out->fd = fd;
    out->id = p->id;
    out->pool_size = o.pool_size;
    out->hello_offset = p->offset;
    void* m = dev.mmap(nullptr, o.pool_size, PROT_READ, MAP_SHARED, fd, 0);
    EXPECT_NE(m, MAP_FAILED);
    out->pool = static_cast<const std::uint8_t*>(m);
    EXPECT_EQ(out->free(p->offset), 0);
    if (err) *err = 0;
    return out;
  }
  std::unique_ptr<conn> hello() { return hello(hello_options{}); }
};

}  // namespace kbus::test
