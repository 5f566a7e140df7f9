#include "peers.hpp"

namespace kbus_bench {

std::string tick_rule(const std::string& emitter) {
  return "type='signal',sender='" + emitter + "',path='" + echo_path + "',interface='" + echo_interface +
         "',member='" + tick_member + "'";
}

std::string own_echo_service(const peer& p) {
  std::string service = std::string(echo_name) + ".";
  // A bus name has no '+': "sdbus-c++" serves as org.kbus.Bench.sdbus-cpp.
  for (const char* c = p.name(); *c; ++c) service += *c == '+' ? 'p' : *c;
  return service;
}

std::vector<std::unique_ptr<peer>> all_peers() {
  std::vector<std::unique_ptr<peer>> v;
  v.push_back(make_kbus_peer());
  v.push_back(make_sdbus_peer());
  v.push_back(make_sdbuscpp_peer());
  v.push_back(make_libdbus_peer());
  v.push_back(make_gdbus_peer());
  return v;
}

}  // namespace kbus_bench
