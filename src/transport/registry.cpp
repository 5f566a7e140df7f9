#include "transport/registry.hpp"

#include "kbus/address.hpp"
#include "kbus_config.hpp"
#include "transport/socket/connectors.hpp"
#if KBUS_WITH_KDBUS
#include "transport/kdbus/connector.hpp"
#endif
#if KBUS_WITH_CUSE
#include "transport/cuse/connector.hpp"
#endif

namespace kbus::detail {

namespace {

struct scheme_connector {
  std::string_view scheme;
  connector_fn connect;
};

// Every transport built into this library, by the scheme of its addresses. A transport whose
// KBUS_WITH_* option is off has no line here: its entries are skipped with "not built in".
constexpr scheme_connector connectors[] = {
    {transport_names::unix_socket, &connect_unix},
    {transport_names::launchd, &connect_launchd},
    {transport_names::tcp, &connect_tcp},
    {transport_names::nonce_tcp, &connect_nonce_tcp},
    {transport_names::unixexec, &connect_unixexec},
#if KBUS_WITH_KDBUS
    {transport_names::kernel, &kdbus::connect},
#endif
#if KBUS_WITH_CUSE
    {transport_names::cuse, &cuse::connect},
#endif
};

}  // namespace

connector_fn find_connector(std::string_view scheme) noexcept {
  for (const auto& c : connectors)
    if (c.scheme == scheme) return c.connect;
  return nullptr;
}

}  // namespace kbus::detail
