// The kdbus transport against a device that lies: every offset and size it reports (HELLO's
// slice, RECV's slice, the kdbus_msg size, items, PAYLOAD_OFF vectors, notification payloads)
// is checked before use. Bad messages are dropped and counted, never a crash. The device either
// maps its pool or reads slices out of it (as a CUSE device must): the transport is the same.
#include "transport/kdbus/abi.hpp"
#include "transport/kdbus/device.hpp"
#include "transport/kdbus/kdbus_transport.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <memory>
#include <span>
#include <system_error>
#include <vector>

namespace {

namespace kd = kbus::kdbus;
using kbus::detail::kdbus_transport;
using kbus::detail::receive_mode;

constexpr std::uint64_t fake_pool_size = 64 * 1024;
constexpr std::uint64_t fake_id = 7;

// A message slice the fake RECV reports: where, how big, and the bytes to put there.
struct scripted {
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
  std::vector<std::uint8_t> bytes;
};

class fake_device final : public kbus::detail::kdbus_device {
 public:
  std::vector<std::uint64_t> pool = std::vector<std::uint64_t>(fake_pool_size / 8, 0);
  std::deque<scripted> queue;
  std::uint64_t hello_offset = 0, hello_size = 0;
  bool bad_bloom = false;
  bool reads = false;  // slices are copies read from the pool, not views into it
  bool pool_open = false;
  std::size_t slices_outside_pool = 0;  // asked for although the transport could tell

  std::uint8_t* bytes() { return reinterpret_cast<std::uint8_t*>(pool.data()); }

  int ioctl(unsigned long request, void* arg) noexcept override {
    if (request == kd::ioctl::hello) {
      auto* h = static_cast<kd::cmd_hello*>(arg);
      h->id = fake_id;
      // The HELLO slice: one BLOOM_PARAMETER item at the start of the pool.
      std::vector<std::uint8_t> items;
      kd::item_writer(items).add_struct(kd::item_type::bloom_parameter,
                                        kd::bloom_parameter{bad_bloom ? 12u : 64u, 8});
      std::memcpy(bytes(), items.data(), items.size());
      h->offset = hello_offset;
      h->items_size = hello_size ? hello_size : items.size();
      return 0;
    }
    if (request == kd::ioctl::recv) {
      auto* c = static_cast<kd::cmd_recv*>(arg);
      if (queue.empty()) return EAGAIN;
      auto s = std::move(queue.front());
      queue.pop_front();
      if (!s.bytes.empty() && s.offset < fake_pool_size && s.bytes.size() <= fake_pool_size - s.offset)
        std::memcpy(bytes() + s.offset, s.bytes.data(), s.bytes.size());
      c->msg.offset = s.offset;
      c->msg.msg_size = s.size;
      return 0;
    }
    return 0;  // FREE, MATCH_ADD: fine
  }
  int open_pool(std::uint64_t size) noexcept override {
    if (size != fake_pool_size) return EINVAL;
    pool_open = true;
    return 0;
  }
  kbus::result<kbus::detail::received_slice> slice(std::uint64_t offset, std::uint64_t size) override {
    if (!pool_open) return kbus::error(std::error_code(EBADF, std::system_category()), "no pool");
    if (offset > fake_pool_size || size > fake_pool_size - offset) {
      ++slices_outside_pool;
      return kbus::error(std::error_code(EFAULT, std::system_category()), "outside the pool");
    }
    const std::span<const std::uint8_t> at(bytes() + offset, static_cast<std::size_t>(size));
    if (!reads) return kbus::detail::received_slice::view(at);
    return kbus::detail::received_slice::copy(std::vector<std::uint8_t>(at.begin(), at.end()));
  }
  int fd() const noexcept override { return -1; }
  void close() noexcept override {}
};

std::unique_ptr<kdbus_transport> connect(fake_device*& dev, bool reads = false) {
  auto d = std::make_unique<fake_device>();
  d->reads = reads;
  dev = d.get();
  kbus::detail::kdbus_options o;
  o.pool_size = fake_pool_size;
  auto t = kdbus_transport::connect(std::move(d), o);
  EXPECT_TRUE(t) << t.error().what();
  return t ? std::move(*t) : nullptr;
}

// A kdbus_msg with `items`, its size as given (0: the real size).
std::vector<std::uint8_t> msg_bytes(const kd::msg& head_in, const std::vector<std::uint8_t>& items,
                                    std::uint64_t size = 0) {
  kd::msg head = head_in;
  head.size = size ? size : sizeof head + items.size();
  std::vector<std::uint8_t> out(sizeof head + items.size());
  std::memcpy(out.data(), &head, sizeof head);
  if (!items.empty()) std::memcpy(out.data() + sizeof head, items.data(), items.size());
  return out;
}

TEST(KdbusTransportRobust, BadHelloSlicesAndBloomAreRefused) {
  {
    auto d = std::make_unique<fake_device>();
    d->hello_offset = fake_pool_size - 8;
    d->hello_size = 64;
    kbus::detail::kdbus_options o;
    o.pool_size = fake_pool_size;
    auto t = kdbus_transport::connect(std::move(d), o);
    EXPECT_FALSE(t);
  }
  {
    auto d = std::make_unique<fake_device>();
    d->bad_bloom = true;
    kbus::detail::kdbus_options o;
    o.pool_size = fake_pool_size;
    auto t = kdbus_transport::connect(std::move(d), o);
    EXPECT_FALSE(t);
  }
}

TEST(KdbusTransportRobust, LyingSlicesAreDroppedAndCounted) {
  fake_device* dev = nullptr;
  auto t = connect(dev);
  ASSERT_TRUE(t);
  kd::msg head{};
  head.src_id = 9;
  head.payload_type = kd::payload_dbus;
  head.cookie = 1;

  // The slice lies outside the pool.
  dev->queue.push_back({fake_pool_size - 16, 64, {}});
  dev->queue.push_back({~std::uint64_t{0} - 8, 64, {}});
  // kdbus_msg.size beyond the slice, and below the header.
  dev->queue.push_back({4096, 128, msg_bytes(head, {}, 4096)});
  dev->queue.push_back({4096, 128, msg_bytes(head, {}, 8)});
  // An item whose size runs past the message.
  {
    std::vector<std::uint8_t> items(32, 0);
    const kd::item bad{1000, kd::to_u64(kd::item_type::payload_off)};
    std::memcpy(items.data(), &bad, sizeof bad);
    auto b = msg_bytes(head, items);
    dev->queue.push_back({4096, b.size(), b});
  }
  // PAYLOAD_OFF pointing outside the slice, with a huge size, and with an overflowing offset.
  for (const auto& v : {kd::vec{64, {1u << 20}}, kd::vec{~std::uint64_t{0}, {64}}, kd::vec{16, {~std::uint64_t{0} - 4}}}) {
    std::vector<std::uint8_t> items;
    kd::item_writer(items).add_struct(kd::item_type::payload_off, v);
    auto b = msg_bytes(head, items);
    dev->queue.push_back({8192, b.size(), b});
  }
  // A payload that is not a D-Bus message.
  {
    std::vector<std::uint8_t> items;
    kd::item_writer(items).add_struct(kd::item_type::payload_off, kd::vec{8, {0}});
    auto b = msg_bytes(head, items);
    dev->queue.push_back({8192, b.size(), b});
  }
  // Kernel notifications with short or unterminated payloads are ignored.
  {
    kd::msg k{};
    k.src_id = kd::src_id_kernel;
    std::vector<std::uint8_t> items;
    kd::item_writer w(items);
    w.add_raw(kd::to_u64(kd::item_type::name_change), "abc", 3);
    auto b = msg_bytes(k, items);
    dev->queue.push_back({12288, b.size(), b});
    std::vector<std::uint8_t> items2;
    kd::notify_name_change nc{{1, 0}, {2, 0}};
    std::vector<std::uint8_t> payload(sizeof nc + 4, 'x');
    std::memcpy(payload.data(), &nc, sizeof nc);
    kd::item_writer(items2).add_raw(kd::to_u64(kd::item_type::name_add), payload.data(), payload.size());
    auto b2 = msg_bytes(k, items2);
    dev->queue.push_back({12288, b2.size(), b2});
  }
  const std::size_t scripted_count = dev->queue.size();
  for (std::size_t i = 0; i < scripted_count; ++i) {  // one RECV each
    auto r = t->receive(receive_mode::read_once);
    ASSERT_TRUE(r) << r.error().what();
    EXPECT_FALSE(r->has_value());
  }
  EXPECT_TRUE(dev->queue.empty());
  EXPECT_GE(t->bad_messages(), scripted_count - 2);  // the two notifications are just ignored
  EXPECT_EQ(dev->slices_outside_pool, 0u);            // the transport checked them first
}

// Everything RECV gives until the device has nothing more, one RECV at a time.
std::vector<kbus::message> drain(kdbus_transport& t, fake_device& dev) {
  std::vector<kbus::message> got;
  while (!dev.queue.empty()) {
    auto r = t.receive(receive_mode::read_once);
    EXPECT_TRUE(r) << r.error().what();
    if (!r) break;
    if (*r) got.push_back(std::move(**r));
  }
  auto last = t.receive(receive_mode::read_once);
  EXPECT_TRUE(last && !last->has_value());
  return got;
}

void a_good_message_after_bad_ones(bool reads) {
  fake_device* dev = nullptr;
  auto t = connect(dev, reads);
  ASSERT_TRUE(t);
  using namespace kbus::literals;
  auto m = kbus::message_builder::signal("/a"_path, "org.kbus.A"_iface, "B"_member).build(std::string("ok"));
  m.set_serial(5);
  kd::msg head{};
  head.src_id = 9;
  head.payload_type = kd::payload_dbus;
  head.cookie = 5;
  std::vector<std::uint8_t> items;
  const std::uint64_t data_at = kd::align8(sizeof head + kd::item_space(sizeof(kd::vec)));
  kd::item_writer(items).add_struct(kd::item_type::payload_off, kd::vec{m.bytes().size(), {data_at}});
  auto b = msg_bytes(head, items);
  b.resize(data_at);
  const auto* p = reinterpret_cast<const std::uint8_t*>(m.bytes().data());
  b.insert(b.end(), p, p + m.bytes().size());
  dev->queue.push_back({fake_pool_size, 64, {}});  // bad
  dev->queue.push_back({1024, b.size(), b});
  // The same message with a cookie that disagrees with the header's serial is dropped.
  auto b2 = b;
  kd::msg h2 = head;
  h2.cookie = 6;
  std::memcpy(b2.data(), &h2, sizeof(std::uint64_t) * 7);
  dev->queue.push_back({1024, b2.size(), b2});
  auto got = drain(*t, *dev);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].sender(), ":1.9");
  EXPECT_EQ(got[0].read<std::string>().value(), std::make_tuple(std::string("ok")));
  EXPECT_EQ(t->bad_messages(), 2u);
  EXPECT_EQ(dev->slices_outside_pool, 0u);
}

TEST(KdbusTransportRobust, AGoodMessageAfterBadOnes) { a_good_message_after_bad_ones(false); }

// A device that cannot map memory (CUSE) copies each slice out of its pool: the same messages.
TEST(KdbusTransportRobust, AGoodMessageFromADeviceThatReadsInsteadOfMapping) { a_good_message_after_bad_ones(true); }

}  // namespace
