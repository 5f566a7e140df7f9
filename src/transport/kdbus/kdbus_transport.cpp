#include "transport/kdbus/kdbus_transport.hpp"

#include "kbus/address.hpp"
#include "transport/kdbus/driver.hpp"

#include <cerrno>
#include <charconv>
#include <system_error>

namespace kbus::detail {

namespace {

kbus::error sys_error(int e, const std::string& what) {
  const std::error_code code(e, std::system_category());
  return kbus::error(code, what + ": " + code.message());
}

// The core keeps calls beyond what one kdbus connection may await (KDBUS_CONN_MAX_REQUESTS_
// PENDING, notes §1.8) in its own backlog.
const transport_capabilities kdbus_capabilities{
    .unix_fd_passing = true, .answers_bus_driver = true, .max_awaited_replies = kdbus::conn_max_requests_pending};

}  // namespace

std::string kdbus_unique_name(std::uint64_t id) { return ":1." + std::to_string(id); }

std::optional<std::uint64_t> kdbus_parse_unique_name(std::string_view name) {
  if (name.size() < 4 || name.substr(0, 3) != ":1.") return std::nullopt;
  const auto digits = name.substr(3);
  if (digits.size() > 1 && digits[0] == '0') return std::nullopt;
  std::uint64_t id = 0;
  const auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
  if (ec != std::errc() || p != digits.data() + digits.size() || id == 0) return std::nullopt;
  return id;
}

result<std::unique_ptr<kdbus_transport>> kdbus_transport::connect(std::unique_ptr<kdbus_device> device,
                                                                  const kdbus_options& options) {
  auto l = open_link(std::move(device), options);
  if (!l) return l.error();
  std::unique_ptr<kdbus_transport> t(new kdbus_transport());
  t->link_ = std::move(*l);
  t->options_ = options;
  t->options_.monitor_rules.clear();  // the driver keeps them
  t->capabilities_ = kdbus_capabilities;
  t->capabilities_.unix_fd_passing = options.passes_fds;
  t->open_ = true;
  t->driver_ = std::make_unique<kdbus_driver>(*t);
  if (options.hello_flags & kdbus::hello::monitor) t->driver_->monitor_with(options.monitor_rules);
  return t;
}

kdbus_transport::~kdbus_transport() { close(); }

int kdbus_transport::wait_fd() const noexcept { return open_ && link_.device ? link_.device->fd() : -1; }

void kdbus_transport::close() noexcept {
  if (link_.device) link_.device->close();
  open_ = false;
}

const transport_capabilities& kdbus_transport::capabilities() const noexcept { return capabilities_; }

connection_info kdbus_transport::info() const {
  connection_info i;
  i.address = options_.address;
  i.transport = options_.transport_name;
  i.unix_fd_passing = capabilities_.unix_fd_passing;
  return i;
}

std::string kdbus_transport::bus_id() const {
  static constexpr char hex[] = "0123456789abcdef";
  std::string s;
  for (const auto b : link_.id128) {
    s += hex[b >> 4];
    s += hex[b & 15];
  }
  return s;
}

result<received_slice> kdbus_transport::pool_slice(std::uint64_t offset, std::uint64_t size) {
  // Checked here too: the device's offsets are not trusted, whatever the device checks itself.
  if (offset > link_.pool_size || size > link_.pool_size - offset)
    return sys_error(EFAULT, "the kdbus device gave a slice outside the pool");
  return link_.device->slice(offset, size);
}

int kdbus_transport::free_slice(std::uint64_t offset) noexcept {
  kdbus::cmd_free c{};
  c.offset = offset;
  return command(kdbus::ioctl::free, c);
}

int kdbus_transport::take_pool() {
  for (;;) {
    // The RECV that would say EAGAIN is spared where the device can tell without it.
    if (!link_.device->may_have_messages()) return 0;
    kdbus::cmd_recv c{};
    const int r = command(kdbus::ioctl::recv, c);
    if (c.return_flags & kdbus::recv::return_dropped_msgs) dropped_ += c.dropped_msgs;
    if (r == EAGAIN) return 0;
    if (r != 0) return r;
    take_slice(c.msg.offset, c.msg.msg_size);
    free_slice(c.msg.offset);
  }
}

void kdbus_transport::take_pool_before_local_answer() {
  // Whatever the bus queued for us before this call comes before the answer, as a bus
  // daemon's reply comes after the messages it sent earlier.
  if (!open_) return;
  if (const int r = take_pool(); r != 0 && recv_error_ == 0) recv_error_ = r;
}

result<std::optional<message>> kdbus_transport::receive(receive_mode mode) {
  if (mode == receive_mode::read_once) {
    if (!open_ && local_.empty()) return sys_error(ESHUTDOWN, "the kdbus connection is closed");
    // One read of the device: everything its pool holds now (a message the rules drop does
    // not end it, and a wakeup takes all that woke it).
    if (open_)
      if (const int r = take_pool(); r != 0 && recv_error_ == 0) recv_error_ = r;
  }
  if (local_.empty()) {
    if (recv_error_ != 0) return sys_error(std::exchange(recv_error_, 0), "kdbus RECV failed");
    return std::optional<message>();
  }
  message m = std::move(local_.front());
  local_.pop_front();
  return std::optional<message>(std::move(m));
}

}  // namespace kbus::detail
