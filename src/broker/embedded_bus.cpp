#include "kbus/embedded_bus.hpp"

#include "broker/device.hpp"
#include "broker/local_device_handle.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <system_error>
#include <vector>

namespace kbus {

namespace kd = kbus::kdbus;

struct embedded_bus::impl {
  // Shared with the connections' handles: the bus may end before they do.
  std::shared_ptr<broker::local_device> device = std::make_shared<broker::local_device>();
  std::string node;  // "<uid>-<name>/bus"
  std::string path;  // the path in address(), known only to this process
  std::string address;
  int control = -1;
  std::uint64_t source_token = 0;  // in the transport's device sources
};

embedded_bus::embedded_bus(embedded_bus_options options) : impl_(std::make_unique<impl>()) {
  static std::atomic<unsigned> counter{0};
  const std::string bus = std::to_string(::geteuid()) + "-" + options.name;
  impl_->control = impl_->device->open("control");
  if (impl_->control < 0) throw std::system_error(errno, std::generic_category(), "kbusd's control node");
  // BUS_MAKE (kdbus ABI notes §2.2): bloom parameters, attach flags, name.
  std::vector<std::uint8_t> items;
  kd::item_writer w(items);
  w.add_struct(kd::item_type::bloom_parameter, kd::bloom_parameter{options.bloom_size, options.bloom_hashes});
  w.add_u64(kd::item_type::attach_flags_send, kd::attach::all);
  w.add_string(kd::item_type::make_name, bus);
  kd::cmd head{};
  head.flags = kd::make::access_world;
  auto buf = kd::command_words(head, items);
  if (impl_->device->ioctl(impl_->control, kd::ioctl::bus_make, buf.data()) != 0)
    throw std::system_error(errno, std::generic_category(), "making the embedded bus " + bus);
  impl_->node = bus + "/bus";
  impl_->path = "/kbus-embedded/" + std::to_string(::getpid()) + "." + std::to_string(counter++) + "/" + impl_->node;
  impl_->address = "kernel:path=" + impl_->path;
  // The kdbus transport opens this bus's path through us: a handle that shares the device.
  impl_->source_token = detail::add_device_source(
      [path = impl_->path, node = impl_->node, device = std::weak_ptr<broker::local_device>(impl_->device)](
          const std::string& wanted) -> std::optional<result<std::unique_ptr<detail::kdbus_device>>> {
        if (wanted != path) return std::nullopt;
        auto alive = device.lock();
        if (!alive) return std::nullopt;
        auto handle = broker::local_device_handle::open(std::move(alive), node);
        if (!handle) return result<std::unique_ptr<detail::kdbus_device>>(handle.error());
        return result<std::unique_ptr<detail::kdbus_device>>(std::unique_ptr<detail::kdbus_device>(std::move(*handle)));
      });
}

embedded_bus::~embedded_bus() {
  detail::remove_device_source(impl_->source_token);
  if (impl_->control >= 0) impl_->device->close(impl_->control);
}

const std::string& embedded_bus::address() const noexcept { return impl_->address; }

}  // namespace kbus
