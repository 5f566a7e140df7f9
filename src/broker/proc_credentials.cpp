#include "broker/proc_credentials.hpp"

#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

namespace kbus::broker {

namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string first_line(std::string s) {
  if (auto nl = s.find('\n'); nl != std::string::npos) s.resize(nl);
  return s;
}

// The numbers after "Key:" on the status line that starts with it.
std::vector<std::uint64_t> status_numbers(const std::string& status, const char* key, int base = 10) {
  std::vector<std::uint64_t> out;
  std::istringstream lines(status);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(key, 0) != 0) continue;
    std::istringstream fields(line.substr(std::strlen(key)));
    std::string f;
    while (fields >> f) {
      try {
        out.push_back(std::stoull(f, nullptr, base));
      } catch (...) {
        break;
      }
    }
    break;
  }
  return out;
}

std::uint64_t at_or_zero(const std::vector<std::uint64_t>& v, std::size_t i) { return i < v.size() ? v[i] : 0; }

void read_ids(const std::string& status, credentials& c) {
  const auto uid = status_numbers(status, "Uid:");
  const auto gid = status_numbers(status, "Gid:");
  c.ids = kdbus::creds{at_or_zero(uid, 0), at_or_zero(uid, 1), at_or_zero(uid, 2), at_or_zero(uid, 3),
                       at_or_zero(gid, 0), at_or_zero(gid, 1), at_or_zero(gid, 2), at_or_zero(gid, 3)};
  c.auxgroups = status_numbers(status, "Groups:");
}

// Capabilities: four 64-bit masks, as two u32 words each; CAP_IPC_OWNER makes a caller
// privileged (notes §2.3).
void read_caps(const std::string& status, credentials& c) {
  const auto inh = status_numbers(status, "CapInh:", 16), prm = status_numbers(status, "CapPrm:", 16),
             eff = status_numbers(status, "CapEff:", 16), bnd = status_numbers(status, "CapBnd:", 16);
  if (inh.empty() || prm.empty() || eff.empty() || bnd.empty()) return;
  const std::string last = first_line(read_text("/proc/sys/kernel/cap_last_cap"));
  try {
    c.last_cap = last.empty() ? 40 : static_cast<std::uint32_t>(std::stoul(last));
  } catch (...) {
    c.last_cap = 40;
  }
  for (std::uint64_t v : {inh[0], prm[0], eff[0], bnd[0]}) {
    c.caps.push_back(static_cast<std::uint32_t>(v));
    c.caps.push_back(static_cast<std::uint32_t>(v >> 32));
  }
  constexpr int cap_ipc_owner = 15;  // CAP_IPC_OWNER
  c.privileged = (eff[0] >> cap_ipc_owner) & 1;
}

}  // namespace

std::optional<credentials> read_proc_credentials(pid_t tid) {
  if (tid == 0) tid = gettid();
  const std::string thread = "/proc/" + std::to_string(tid);
  const std::string status = read_text(thread + "/status");
  if (status.empty()) return std::nullopt;
  credentials c;
  const auto tgid = at_or_zero(status_numbers(status, "Tgid:"), 0);
  const std::string process = "/proc/" + std::to_string(tgid ? tgid : static_cast<std::uint64_t>(tid));
  c.pids = kdbus::pids{tgid, static_cast<std::uint64_t>(tid), at_or_zero(status_numbers(status, "PPid:"), 0)};
  read_ids(status, c);
  read_caps(status, c);
  c.tid_comm = first_line(read_text(thread + "/comm"));
  c.pid_comm = first_line(read_text(process + "/comm"));
  char exe[4096];
  const ssize_t len = readlink((process + "/exe").c_str(), exe, sizeof exe - 1);
  if (len > 0) c.exe.assign(exe, static_cast<std::size_t>(len));
  std::string cmdline = read_text(process + "/cmdline");
  if (auto nul = cmdline.find('\0'); nul != std::string::npos) cmdline.resize(nul);
  c.cmdline = cmdline;
  std::string cg = first_line(read_text(process + "/cgroup"));
  if (auto colon = cg.rfind(':'); colon != std::string::npos) c.cgroup = cg.substr(colon + 1);
  const std::string session = first_line(read_text(process + "/sessionid"));
  const std::string login = first_line(read_text(process + "/loginuid"));
  if (!session.empty() && !login.empty()) {
    try {
      c.audit = kdbus::audit{static_cast<std::uint32_t>(std::stoul(session)), static_cast<std::uint32_t>(std::stoul(login))};
    } catch (...) {
    }
  }
  return c;
}

}  // namespace kbus::broker
