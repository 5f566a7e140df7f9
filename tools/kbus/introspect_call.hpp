// Introspect and GetAll on a remote object, for introspect and tree.
#pragma once

#include "session.hpp"

#include "kbus/introspection.hpp"
#include "kbus/value.hpp"

#include <map>
#include <optional>
#include <string>

namespace kbus::cli {

// The XML the object returns; nullopt after reporting why when `report`.
std::optional<std::string> introspect_xml(session& s, const bus_name& dest, const object_path& path, bool report = true);
// The properties of `iface` with their values (GetAll); empty when the call fails.
std::map<std::string, value> get_all(session& s, const bus_name& dest, const object_path& path, const std::string& iface);
// The path of child `name` (which may have several elements) of `parent`.
std::string child_path(const std::string& parent, const std::string& name);

}  // namespace kbus::cli
