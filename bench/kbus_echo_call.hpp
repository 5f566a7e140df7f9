// The Echo(s) call of the call benchmarks, built with kbus: sent by kbus's peer and, marshalled
// once, by the bare client.
#pragma once

#include "peers.hpp"

#include "kbus/message.hpp"
#include "kbus/names.hpp"

#include <string>

namespace kbus_bench {

inline kbus::message echo_call(const kbus::bus_name& service, const std::string& s) {
  return kbus::message_builder::method_call(service, kbus::object_path::unchecked(echo_path),
                                            kbus::interface_name::unchecked(echo_interface),
                                            kbus::member_name::unchecked("Echo"))
      .build(s);
}

}  // namespace kbus_bench
