// Kernel notifications (notes §2.14, §2.15) as the driver's messages: NAME_ADD / NAME_REMOVE /
// NAME_CHANGE and ID_ADD / ID_REMOVE become NameOwnerChanged (and NameAcquired / NameLost for
// our own names), REPLY_TIMEOUT / REPLY_DEAD a NoReply error for the call.
#include "kbus/dbus_names.hpp"
#include "transport/kdbus/driver.hpp"
#include "transport/kdbus/driver_messages.hpp"
#include "transport/kdbus/kdbus_transport.hpp"

namespace kbus::detail {

// NameOwnerChanged is a broadcast: it also reaches us through the entries that tell us of our
// own names, and only a rule decides whether we get it.
void kdbus_transport::queue_if_wanted(message driver_broadcast) {
  if (driver_->wanted(driver_broadcast, nullptr)) local_.push_back(std::move(driver_broadcast));
}

void kdbus_transport::take_notification(const kdbus::item_ref& it, std::uint64_t cookie_reply) {
  using namespace driver_signals;
  switch (it.kind()) {
    case kdbus::item_type::name_add:
    case kdbus::item_type::name_remove:
    case kdbus::item_type::name_change: {
      kdbus::notify_name_change nc{};
      if (!kdbus::load(it.payload, 0, nc)) return;
      kdbus::item_ref rest = it;
      rest.payload = it.payload.subspan(sizeof nc);
      std::string_view name;
      if (!rest.as_string(name) || !kdbus::is_valid_well_known_name(name)) return;
      // An owner that is only queued, or an activator, is no owner (notes §2.10, §2.15).
      const std::uint64_t not_owner = kdbus::name_flags::in_queue | kdbus::name_flags::activator;
      const bool has_old = it.kind() != kdbus::item_type::name_add && nc.old_id.id != 0 && !(nc.old_id.flags & not_owner);
      const bool has_new = it.kind() != kdbus::item_type::name_remove && nc.new_id.id != 0 && !(nc.new_id.flags & not_owner);
      const std::string old_owner = has_old ? kdbus_unique_name(nc.old_id.id) : std::string();
      const std::string new_owner = has_new ? kdbus_unique_name(nc.new_id.id) : std::string();
      if (old_owner == new_owner) return;
      queue_if_wanted(driver_signal(name_owner_changed, {}, std::string(name), old_owner, new_owner));
      if (has_old && nc.old_id.id == link_.id) local_.push_back(driver_signal(name_lost, link_.unique_name, std::string(name)));
      if (has_new && nc.new_id.id == link_.id)
        local_.push_back(driver_signal(name_acquired, link_.unique_name, std::string(name)));
      return;
    }
    case kdbus::item_type::id_add:
    case kdbus::item_type::id_remove: {
      kdbus::notify_id_change ic{};
      if (!it.as(ic) || ic.id == 0) return;
      const std::string n = kdbus_unique_name(ic.id);
      if (it.kind() == kdbus::item_type::id_add)
        queue_if_wanted(driver_signal(name_owner_changed, {}, n, std::string(), n));
      else
        queue_if_wanted(driver_signal(name_owner_changed, {}, n, n, std::string()));
      return;
    }
    case kdbus::item_type::reply_timeout:
    case kdbus::item_type::reply_dead: {
      if (cookie_reply == 0 || cookie_reply > UINT32_MAX) return;
      message_builder b(message_type::error);
      b.error_name(error_name::unchecked(dbus_errors::no_reply));
      b.reply_serial(static_cast<std::uint32_t>(cookie_reply));
      b.sender(bus_name::unchecked(dbus_names::driver_name));
      b.destination(bus_name::unchecked(link_.unique_name));
      message e = b.build(std::string(it.kind() == kdbus::item_type::reply_timeout ? "Method call timed out"
                                                                                    : "Method call peer died"));
      e.set_serial(kdbus_synthetic_serial);
      local_.push_back(std::move(e));
      return;
    }
    default: return;
  }
}

}  // namespace kbus::detail
