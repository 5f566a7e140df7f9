#include "transport/registry.hpp"

#include "kbus/address.hpp"
#include "transport/cuse/connector.hpp"
#include "transport/kdbus/connector.hpp"
#include "transport/socket/connectors.hpp"

namespace kbus::detail {

namespace {

struct scheme_connector {
  std::string_view scheme;
  connector_fn connect;
};

// Every transport built into this library, by the scheme of its addresses.
constexpr scheme_connector connectors[] = {
    {transport_names::unix_socket, &connect_unix},
    {transport_names::launchd, &connect_launchd},
    {transport_names::tcp, &connect_tcp},
    {transport_names::nonce_tcp, &connect_nonce_tcp},
    {transport_names::unixexec, &connect_unixexec},
    {transport_names::kernel, &kdbus::connect},
    {transport_names::cuse, &cuse::connect},
};

}  // namespace

connector_fn find_connector(std::string_view scheme) noexcept {
  for (const auto& c : connectors)
    if (c.scheme == scheme) return c.connect;
  return nullptr;
}

}  // namespace kbus::detail
