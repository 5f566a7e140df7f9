// An open file on one of a domain's nodes: the control node, a bus owner's, an endpoint, an
// endpoint owner's, or a connection (after HELLO).
#pragma once

#include "broker/bus_connection.hpp"
#include "broker/credentials.hpp"

#include <memory>

namespace kbus::broker {

struct bus;
struct endpoint;

enum class handle_kind { control, bus_owner, endpoint, endpoint_owner, connection, dead };

struct handle {
  handle_kind kind = handle_kind::control;
  credentials opener;
  bus* b = nullptr;
  endpoint* ep = nullptr;
  std::unique_ptr<bus_connection> conn;
  bool byebye = false;  // a connection that is gone (ECONNRESET)
};

}  // namespace kbus::broker
