// The machine's id as D-Bus defines it: 32 lowercase hex digits in the file dbus-uuidgen (or
// systemd) writes. The bus driver and every object answer org.freedesktop.DBus.Peer.GetMachineId
// with it.
#pragma once

#include <optional>
#include <string>

namespace kbus::detail {

// Read once; nullopt when neither file holds a valid id.
const std::optional<std::string>& machine_id();

}  // namespace kbus::detail
