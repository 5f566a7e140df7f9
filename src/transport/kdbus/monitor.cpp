// BecomeMonitor on kdbus: the kernel makes a monitor only at HELLO (KDBUS_HELLO_MONITOR), so the
// transport opens a monitor connection on the same bus and goes on with it; the old connection
// closes (its names go, as BecomeMonitor's do). kdbus allows that to the bus owner's uid.
#include "kbus/dbus_names.hpp"
#include "transport/kdbus/driver.hpp"
#include "transport/kdbus/kdbus_transport.hpp"

#include <cerrno>
#include <system_error>

namespace kbus::detail {

result<void> kdbus_transport::reopen_as_monitor() {
  if (!open_) return kbus::error(std::error_code(ESHUTDOWN, std::system_category()), "the kdbus connection is closed");
  if (options_.path.empty())
    return kbus::error(std::error_code(ENOTSUP, std::system_category()),
                       "this kdbus connection was not opened by path: no monitor connection can be opened beside it");
  auto device = options_.reopen(options_.path);
  if (!device) return kbus::error(device.error().code, "cannot open the kdbus bus again: " + device.error().message);
  kdbus_options as_monitor = options_;
  as_monitor.hello_flags = kdbus::hello::accept_fd | kdbus::hello::monitor;
  auto monitor = open_link(std::move(*device), as_monitor);
  if (!monitor) return kbus::error(monitor.error().code, "cannot become a kdbus monitor: " + monitor.error().message);
  link_.device->close();
  link_ = std::move(*monitor);
  options_.hello_flags = as_monitor.hello_flags;
  return {};
}

void kdbus_driver::become_monitor(driver_answer& a) {
  auto args = a.call().read<std::vector<std::string>, std::uint32_t>();
  if (!args) return a.fail(dbus_errors::invalid_args, "BecomeMonitor takes (as, u): " + args.error().message);
  std::vector<match_rule> rules;
  for (const auto& text : std::get<0>(*args)) {
    auto rule = match_rule::parse(text);
    if (!rule) return a.fail(dbus_errors::match_rule_invalid, rule.error().message);
    rules.push_back(std::move(*rule));
  }
  if (auto r = t_.reopen_as_monitor(); !r) {
    const bool denied = r.error().code == std::errc::operation_not_permitted;
    return a.fail(denied ? dbus_errors::access_denied : dbus_errors::failed, r.error().message);
  }
  monitor_with(std::move(rules));
  a.reply();
}

void kdbus_driver::monitor_with(std::vector<match_rule> rules) {
  rules_.clear();
  index_ = match_index();
  next_cookie_ = kdbus_first_rule_cookie;
  monitoring_ = true;
  for (auto& r : rules) index_.add(std::move(r));
}

}  // namespace kbus::detail
