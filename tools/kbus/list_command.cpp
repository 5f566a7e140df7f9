// kbus list: the names on the bus with busctl's columns (NAME PID PROCESS USER CONNECTION UNIT
// SESSION DESCRIPTION [MACHINE]); activatable names that nobody owns say "(activatable)".
#include "context.hpp"
#include "peer_info.hpp"
#include "session.hpp"
#include "table.hpp"

#include "kbus/bus.hpp"
#include "kbus/dbus_names.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <set>

namespace kbus::cli {
namespace {

struct row {
  std::string name;
  std::optional<std::uint32_t> pid;
  std::string process, user, connection, unit, machine;
  bool activatable_only = false;
};

row describe(session& s, const std::string& name, bool running, bool machine) {
  row r{name, {}, "-", "-", "-", "-", "-", false};
  if (!running) {
    r.connection = "(activatable)";
    r.activatable_only = true;
    return r;
  }
  if (name[0] == ':') r.connection = name;
  else if (name != dbus_names::driver_name)
    if (auto owner = driver_value<std::string>(s, "GetNameOwner", name)) r.connection = *owner;
  const auto creds = get_credentials(s, name);
  r.pid = creds.pid;
  if (creds.uid) r.user = user_name(*creds.uid);
  if (creds.pid) {
    if (auto comm = proc_comm(*creds.pid)) r.process = *comm;
    if (auto cg = proc_cgroup(*creds.pid))
      if (auto unit = unit_of_cgroup(*cg)) r.unit = *unit;
  }
  if (machine) {
    auto reply = s.call(message_builder::method_call(bus_name::unchecked(name), object_path::unchecked("/"),
                                                     interface_name::unchecked(dbus_names::peer_interface),
                                                     member_name::unchecked("GetMachineId"))
                            .flags(message_flags::no_auto_start)
                            .build(),
                        false);
    if (reply)
      if (auto id = reply->read<std::string>()) r.machine = std::get<0>(*id);
  }
  return r;
}

}  // namespace

int list_command(context& ctx) {
  if (!ctx.arg_count(0, 0, "list [--unique] [--acquirable] [--activatable] [--show-machine]")) return 2;
  session s(ctx);
  if (!s.connect()) return 1;
  auto names = driver_value<std::vector<std::string>>(s, "ListNames");
  if (!names) {
    s.call(bus::driver_call("ListNames"));  // reports why
    return 1;
  }
  const std::set<std::string> running(names->begin(), names->end());
  std::set<std::string> activatable;
  if (auto names = driver_value<std::vector<std::string>>(s, "ListActivatableNames"))
    activatable.insert(names->begin(), names->end());
  std::set<std::string> all = running;
  all.insert(activatable.begin(), activatable.end());

  std::vector<row> rows;
  for (const auto& name : all) {
    const bool unique = name[0] == ':';
    if (ctx.opt.unique && !unique) continue;
    if (ctx.opt.acquirable && unique) continue;
    if (ctx.opt.activatable && !activatable.count(name)) continue;
    // As busctl: --activatable lists names as activatable, whether or not they run now.
    rows.push_back(describe(s, name, running.count(name) > 0 && !ctx.opt.activatable, ctx.opt.show_machine));
  }

  if (ctx.opt.json != json_mode::off) {
    nlohmann::ordered_json j = nlohmann::ordered_json::array();
    for (const auto& r : rows) {
      auto text = [](const std::string& t) { return t == "-" ? nlohmann::ordered_json() : nlohmann::ordered_json(t); };
      nlohmann::ordered_json o{{"name", r.name},
                               {"pid", r.pid ? nlohmann::ordered_json(*r.pid) : nlohmann::ordered_json()},
                               {"process", text(r.process)},
                               {"user", text(r.user)},
                               {"connection", text(r.connection)},
                               {"unit", text(r.unit)},
                               {"session", nullptr},
                               {"description", nullptr},
                               {"activatable", r.activatable_only}};
      if (ctx.opt.show_machine) o["machine"] = text(r.machine);
      j.push_back(std::move(o));
    }
    ctx.out << ctx.json_text(j.dump()) << "\n";
    return 0;
  }
  std::vector<std::string> headers = {"NAME", "PID", "PROCESS", "USER", "CONNECTION", "UNIT", "SESSION", "DESCRIPTION"};
  if (ctx.opt.show_machine) headers.push_back("MACHINE");
  table t(headers);
  t.align_right(1);
  for (const auto& r : rows) {
    // PROCESS is shortened as busctl's (the kernel's comm is 15 bytes anyway) unless --full.
    std::string process = r.process;
    if (!ctx.opt.full && process.size() > 15) process.resize(15);
    std::vector<std::string> cells = {r.name, r.pid ? std::to_string(*r.pid) : "-", process, r.user, r.connection,
                                      r.unit, "-", "-"};
    if (ctx.opt.show_machine) cells.push_back(r.machine);
    t.add(std::move(cells));
  }
  t.print(ctx.out, !ctx.opt.no_legend);
  return 0;
}

}  // namespace kbus::cli
