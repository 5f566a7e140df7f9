// kbusd's device commands (kbusd/device_server.hpp): a sequence of writes, reads, ioctl steps,
// opens and closes from the input, on a bus with two connected clients. Whatever comes, the
// server answers with data or an errno, never crashes, and goes on serving: at the end a message
// from one client to the other still arrives.
#include "kbusd/device_server.hpp"
#include "transport/cuse/protocol.hpp"
#include "transport/kdbus/abi.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

namespace kd = kbus::kdbus;
namespace proto = kbus::detail::cuse;
using kbus::kbusd::device_server;

struct reader {
  const std::uint8_t* p;
  std::size_t left;
  std::uint8_t byte() {
    if (!left) return 0;
    --left;
    return *p++;
  }
  std::vector<std::uint8_t> bytes(std::size_t n) {
    n = std::min(n, left);
    std::vector<std::uint8_t> out(p, p + n);
    p += n;
    left -= n;
    return out;
  }
};

const kbus::kbusd::caller me{0, 0, 1};

// HELLO through the ioctl steps (the caller's memory is this process's).
std::uint64_t hello(device_server& s, device_server::handle h) {
  kd::cmd_hello head{};
  head.pool_size = 1 << 20;
  auto words = kd::command_words(head, {});
  std::vector<std::uint8_t> in;
  std::size_t out_size = 0;
  for (int round = 0; round < 4; ++round) {
    auto step = s.ioctl(h, proto::command_number(kd::ioctl::hello, head.size), reinterpret_cast<std::uintptr_t>(words.data()), in,
                        out_size, me);
    if (!step.retry) {
      if (step.error || step.output.size() < sizeof head) return 0;
      std::memcpy(&head, step.output.data(), sizeof head);
      return head.id;
    }
    in.assign(reinterpret_cast<const std::uint8_t*>(words.data()), reinterpret_cast<const std::uint8_t*>(words.data()) + head.size);
    out_size = static_cast<std::size_t>(head.size);
  }
  return 0;
}

// A whole send frame from `h` to connection `to`, in one chunk.
std::int64_t send(device_server& s, device_server::handle h, std::uint64_t to, const std::vector<std::uint8_t>& payload,
                  std::uint64_t frame_id) {
  std::vector<std::uint8_t> items;
  kd::item_writer w(items);
  kd::vec v{};
  v.size = payload.size();
  v.address = 0x10000;
  if (!payload.empty()) w.add_struct(kd::item_type::payload_vec, v);
  kd::msg head{};
  head.payload_type = kd::payload_dbus;
  head.dst_id = to;
  head.cookie = frame_id;
  auto msg = kd::command_words(head, items);
  kd::cmd_send cmd{};
  cmd.size = sizeof cmd;
  cmd.msg_address = 0x20000;
  const proto::region regions[] = {{cmd.msg_address, {reinterpret_cast<const std::uint8_t*>(msg.data()), static_cast<std::size_t>(head.size)}},
                                   {v.address, payload}};
  const auto frame = proto::encode_send_frame({reinterpret_cast<const std::uint8_t*>(&cmd), sizeof cmd}, regions);
  proto::write_header wh;
  wh.frame_id = frame_id;
  wh.frame_size = frame.size();
  std::vector<std::uint8_t> chunk(sizeof wh + frame.size());
  std::memcpy(chunk.data(), &wh, sizeof wh);
  std::memcpy(chunk.data() + sizeof wh, frame.data(), frame.size());
  return s.write(h, chunk, me);
}

}  // namespace

extern "C" int kbus_fuzz_kbusd_device(const std::uint8_t* data, std::size_t size) {
  static std::atomic<unsigned> counter{0};
  kbus::kbusd::server_options options;
  options.bus_name = std::to_string(::geteuid()) + "-fuzz-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  // The caller's /proc is not what is fuzzed.
  options.credentials_of = [](const kbus::kbusd::caller& c) {
    kbus::broker::credentials who;
    who.ids = kd::creds{c.uid, c.uid, c.uid, c.uid, c.gid, c.gid, c.gid, c.gid};
    who.pids.pid = who.pids.tid = c.pid;
    return who;
  };
  device_server s(std::move(options));
  device_server::handle a = 0, b = 0;
  if (s.open(me, a) || s.open(me, b)) std::abort();
  const std::uint64_t id_a = hello(s, a), id_b = hello(s, b);
  if (!id_a || !id_b) std::abort();
  std::vector<device_server::handle> handles = {a, b};
  reader r{data, size};
  std::uint64_t frame_id = 1000;
  while (r.left) {
    const std::uint8_t op = r.byte();
    const device_server::handle h = handles[r.byte() % handles.size()];
    switch (op % 6) {
      case 0: {  // raw bytes written
        auto bytes = r.bytes(r.byte() * 2u);
        s.write(h, bytes, me);
        break;
      }
      case 1: {  // raw bytes after a write header that fits them
        auto bytes = r.bytes(r.byte());
        proto::write_header wh;
        wh.frame_id = r.byte();
        wh.frame_size = bytes.size() + r.byte() % 3 * 8;
        wh.chunk_offset = r.byte() % 2 ? 0 : r.byte();
        std::vector<std::uint8_t> chunk(sizeof wh + bytes.size());
        std::memcpy(chunk.data(), &wh, sizeof wh);
        if (!bytes.empty()) std::memcpy(chunk.data() + sizeof wh, bytes.data(), bytes.size());
        s.write(h, chunk, me);
        break;
      }
      case 2: {  // an ioctl step with input bytes of the caller's
        static const std::uint32_t numbers[] = {kd::ioctl::hello,       kd::ioctl::list,      kd::ioctl::name_acquire,
                                                kd::ioctl::name_release, kd::ioctl::match_add, kd::ioctl::match_remove,
                                                kd::ioctl::conn_info,   kd::ioctl::free,      kd::ioctl::update,
                                                kd::ioctl::byebye,      proto::slice_ioctl,   0xdeadbeefu};
        const std::uint32_t number = numbers[r.byte() % (sizeof numbers / sizeof numbers[0])];
        auto in = r.bytes(r.byte() * 2u);
        const std::size_t out_size = r.byte() * 64u;
        s.ioctl(h, number, 0x30000 + r.byte() * 8u, in, out_size, me);
        break;
      }
      case 3: {  // a read
        std::vector<std::uint8_t> out;
        s.read(h, r.byte() * 1024u, me, out);
        break;
      }
      case 4: {  // a valid message to the other client
        auto payload = r.bytes(r.byte());
        send(s, h, h == a ? id_b : id_a, payload, frame_id++);
        break;
      }
      case 5: {  // an open or a close of a third file
        device_server::handle extra = 0;
        if (handles.size() > 2) {
          s.release(handles.back());
          handles.pop_back();
        } else if (!s.open(me, extra)) {
          handles.push_back(extra);
        }
        break;
      }
    }
    s.answer_poll(h);
    s.take_wakeups();
  }
  // Still serving: drain b, then a message from a arrives at b (unless a was disconnected by
  // its own BYEBYE, which the input may have asked for).
  std::vector<std::uint8_t> out;
  for (int i = 0; i < 1000 && s.read(b, proto::max_read, me, out) == 0; ++i) {
  }
  if (send(s, a, id_b, {'o', 'k'}, frame_id++) >= 0) {
    if (s.read(b, proto::max_read, me, out) != 0 && s.poll(b).hangup == false) std::abort();
  }
  return 0;
}
