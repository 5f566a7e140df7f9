// --from-bus: the introspection of a running service's objects, read through kbus's own
// connection (Introspect on each path, and on the child nodes with --recursive).
#pragma once

#include "model.hpp"

#include <string>
#include <vector>

namespace kbus::codegen {

struct bus_source {
  std::string address;  // empty: the session bus (or the system bus with `system`)
  bool system = false;
  std::string destination;
  std::vector<std::string> paths;
  bool recursive = false;
};

// One document per object that has interfaces besides the standard org.freedesktop.DBus.*
// ones (which are left out); `source` of each is "<stem>.xml" with the stem of object_stem().
// Throws input_error (a bad reply) or std::runtime_error (no bus, a failed call).
std::vector<document_model> read_from_bus(const bus_source& source);
// "/org/kbus/Demo" -> "org_kbus_Demo"; "/" -> "root".
std::string object_stem(const std::string& path);

}  // namespace kbus::codegen
