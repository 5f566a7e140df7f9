#include "cpu_meter.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace kbus_bench {

namespace {

struct proc_stat {
  pid_t parent = 0;
  std::int64_t ticks = 0;  // utime + stime
};

// /proc/PID/stat: "pid (comm) state ppid ..." with utime and stime the 14th and 15th fields;
// comm may hold spaces and parentheses, so the fields are counted after its last ')'.
bool read_stat(const std::filesystem::path& file, proc_stat& out) {
  std::ifstream in(file);
  std::string text;
  if (!std::getline(in, text)) return false;
  const auto close = text.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream fields(text.substr(close + 1));
  std::string field;
  std::int64_t utime = 0, stime = 0;
  for (int i = 3; fields >> field; ++i) {
    if (i == 4) out.parent = static_cast<pid_t>(std::stoll(field));
    if (i == 14) utime = std::stoll(field);
    if (i == 15) {
      stime = std::stoll(field);
      out.ticks = utime + stime;
      return true;
    }
  }
  return false;
}

}  // namespace

std::int64_t process_tree_cpu_ns(pid_t pid) {
  if (pid <= 0) return -1;
  std::map<pid_t, proc_stat> all;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    proc_stat s;
    if (read_stat(entry.path() / "stat", s)) all[static_cast<pid_t>(std::stoll(name))] = s;
  }
  if (!all.count(pid)) return -1;
  std::int64_t ticks = 0;
  std::vector<pid_t> todo{pid};
  while (!todo.empty()) {
    const pid_t p = todo.back();
    todo.pop_back();
    ticks += all[p].ticks;
    for (const auto& [child, s] : all)
      if (s.parent == p) todo.push_back(child);
  }
  return ticks * (1'000'000'000 / ::sysconf(_SC_CLK_TCK));
}

std::int64_t own_cpu_ns() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  auto ns = [](const timeval& t) { return static_cast<std::int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_usec * 1'000; };
  return ns(ru.ru_utime) + ns(ru.ru_stime);
}

cpu_meter::cpu_meter(pid_t server, pid_t bus)
    : server_(server),
      bus_(bus),
      client_start_(own_cpu_ns()),
      server_start_(process_tree_cpu_ns(server)),
      bus_start_(process_tree_cpu_ns(bus)) {}

void cpu_meter::report(benchmark::State& state, std::int64_t operations) const {
  if (operations <= 0) return;
  auto per_op = [&](std::int64_t start, std::int64_t end) { return static_cast<double>(end - start) / static_cast<double>(operations); };
  state.counters["cpu_client_ns"] = per_op(client_start_, own_cpu_ns());
  if (server_start_ >= 0)
    if (const auto end = process_tree_cpu_ns(server_); end >= 0) state.counters["cpu_server_ns"] = per_op(server_start_, end);
  if (bus_start_ >= 0)
    if (const auto end = process_tree_cpu_ns(bus_); end >= 0) state.counters["cpu_bus_ns"] = per_op(bus_start_, end);
}

}  // namespace kbus_bench
