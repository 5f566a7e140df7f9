// kbus status [DEST|PID]: the credentials of a peer as the bus reports them (and what /proc
// adds on this machine), of a process, or of the bus itself; KEY=VALUE lines as busctl prints.
#include "context.hpp"
#include "names_arg.hpp"
#include "peer_info.hpp"
#include "session.hpp"

#include "kbus/dbus_names.hpp"

#include <nlohmann/json.hpp>

#include <charconv>

namespace kbus::cli {
namespace {

using fields = std::vector<std::pair<std::string, std::string>>;

void add_process(fields& f, std::uint32_t pid) {
  f.emplace_back("PID", std::to_string(pid));
  if (auto ppid = proc_ppid(pid)) f.emplace_back("PPID", std::to_string(*ppid));
}

void add_proc_details(fields& f, std::uint32_t pid) {
  if (auto comm = proc_comm(pid)) f.emplace_back("Comm", *comm);
  if (auto exe = proc_exe(pid)) f.emplace_back("Exe", *exe);
  if (auto cmd = proc_cmdline(pid)) f.emplace_back("CommandLine", *cmd);
  if (auto cg = proc_cgroup(pid)) {
    f.emplace_back("CGroup", *cg);
    if (auto unit = unit_of_cgroup(*cg)) f.emplace_back("Unit", *unit);
  }
}

void add_credentials(fields& f, const peer_credentials& c) {
  if (c.pid) add_process(f, *c.pid);
  if (c.uid) f.emplace_back("UID", std::to_string(*c.uid));
  if (!c.gids.empty()) {
    std::string text;
    for (auto g : c.gids) text += (text.empty() ? "" : " ") + std::to_string(g);
    f.emplace_back("UnixGroupIDs", text);  // all of them, as the bus reports (busctl shows /proc's supplementary ones)
  }
  if (c.pid) add_proc_details(f, *c.pid);
  if (c.security_label) f.emplace_back("Label", *c.security_label);
}

void print(const context& ctx, const fields& f) {
  if (ctx.opt.json != json_mode::off) {
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    for (const auto& [k, v] : f) j[k] = v;
    ctx.out << ctx.json_text(j.dump()) << "\n";
    return;
  }
  for (const auto& [k, v] : f) ctx.out << k << "=" << v << "\n";
}

std::optional<std::uint32_t> as_pid(const std::string& text) {
  std::uint32_t pid = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), pid);
  if (ec != std::errc() || end != text.data() + text.size() || pid == 0) return std::nullopt;
  return pid;
}

}  // namespace

int status_command(context& ctx) {
  if (!ctx.arg_count(0, 1, "status [DEST|PID]")) return 2;
  fields f;
  if (!ctx.args.empty()) {
    if (auto pid = as_pid(ctx.args[0])) {
      // A process, not a peer: what /proc says.
      if (!proc_comm(*pid)) return ctx.fail("no process " + ctx.args[0] + " is visible here");
      add_process(f, *pid);
      add_proc_details(f, *pid);
      print(ctx, f);
      return 0;
    }
    auto dest = name_arg<bus_name>(ctx, ctx.args[0], "DEST");
    if (!dest) return 2;
    session s(ctx);
    if (!s.connect()) return 1;
    std::string unique = dest->str();
    if (unique[0] != ':') {
      auto owner = driver_value<std::string>(s, "GetNameOwner", unique);
      if (!owner) {
        s.call(bus::driver_call("GetNameOwner", unique));  // reports why
        return 1;
      }
      unique = *owner;
    }
    const auto creds = get_credentials(s, unique);
    if (!creds.known) return ctx.fail("the bus reports no credentials of " + dest->str());
    add_credentials(f, creds);
    f.emplace_back("UniqueName", unique);
    print(ctx, f);
    return 0;
  }
  // The bus itself.
  session s(ctx);
  if (!s.connect()) return 1;
  const auto info = s.conn().info();
  // The server's GUID from the handshake, as busctl's BusID (a daemon's GetId may differ).
  std::string id = info.server_guid;
  if (id.empty()) id = driver_value<std::string>(s, "GetId").value_or("");
  f = {{"BusAddress", info.address}, {"BusID", id}, {"Transport", info.transport}};
  // A bus daemon reports itself; on a device bus there is no driver process to describe.
  const auto creds = get_credentials(s, std::string(dbus_names::driver_name));
  if (creds.known) add_credentials(f, creds);
  print(ctx, f);
  return 0;
}

}  // namespace kbus::cli
