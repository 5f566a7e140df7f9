#include "peer_info.hpp"

#include "kbus/bus.hpp"

#include <fstream>
#include <iterator>
#include <map>
#include <pwd.h>
#include <sstream>
#include <unistd.h>

namespace kbus::cli {
namespace {

std::optional<std::string> read_proc(std::uint32_t pid, const char* file) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/" + file, std::ios::binary);
  if (!in) return std::nullopt;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return std::nullopt;
  return text;
}

std::string chomp(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\0')) s.pop_back();
  return s;
}

}  // namespace

peer_credentials get_credentials(session& s, const std::string& name) {
  peer_credentials c;
  auto creds = driver_value<std::map<std::string, variant>>(s, "GetConnectionCredentials", name);
  if (!creds) {
    // Older buses have only the single-value calls.
    if (auto pid = driver_value<std::uint32_t>(s, "GetConnectionUnixProcessID", name)) c.pid = *pid, c.known = true;
    if (auto uid = driver_value<std::uint32_t>(s, "GetConnectionUnixUser", name)) c.uid = *uid, c.known = true;
    return c;
  }
  c.known = true;
  for (const auto& [key, v] : *creds) {
    if (key == "ProcessID") {
      if (auto p = v.as<std::uint32_t>()) c.pid = *p;
    } else if (key == "UnixUserID") {
      if (auto u = v.as<std::uint32_t>()) c.uid = *u;
    } else if (key == "UnixGroupIDs") {
      if (auto g = v.as<std::vector<std::uint32_t>>()) c.gids = *g;
    } else if (key == "LinuxSecurityLabel") {
      if (auto l = v.as<std::vector<std::uint8_t>>()) c.security_label = chomp(std::string(l->begin(), l->end()));
    }
  }
  return c;
}

std::optional<std::string> proc_comm(std::uint32_t pid) {
  auto t = read_proc(pid, "comm");
  if (!t) return std::nullopt;
  return chomp(*t);
}

std::optional<std::string> proc_exe(std::uint32_t pid) {
  char buf[4096];
  const auto n = ::readlink(("/proc/" + std::to_string(pid) + "/exe").c_str(), buf, sizeof buf);
  if (n <= 0) return std::nullopt;
  return std::string(buf, static_cast<std::size_t>(n));
}

std::optional<std::string> proc_cmdline(std::uint32_t pid) {
  auto t = read_proc(pid, "cmdline");
  if (!t) return std::nullopt;
  std::string text = chomp(*t);
  for (auto& ch : text)
    if (ch == '\0') ch = ' ';
  return text;
}

std::optional<std::uint32_t> proc_ppid(std::uint32_t pid) {
  auto t = read_proc(pid, "status");
  if (!t) return std::nullopt;
  std::istringstream in(*t);
  for (std::string line; std::getline(in, line);)
    if (line.rfind("PPid:", 0) == 0) return static_cast<std::uint32_t>(std::stoul(line.substr(5)));
  return std::nullopt;
}

std::optional<std::string> proc_cgroup(std::uint32_t pid) {
  auto t = read_proc(pid, "cgroup");
  if (!t) return std::nullopt;
  // The unified hierarchy's line: "0::/path".
  std::istringstream in(*t);
  for (std::string line; std::getline(in, line);)
    if (line.rfind("0::", 0) == 0) return line.substr(3);
  return std::nullopt;
}

std::optional<std::string> unit_of_cgroup(const std::string& cgroup) {
  std::optional<std::string> unit;
  std::istringstream in(cgroup);
  for (std::string part; std::getline(in, part, '/');) {
    auto ends = [&](std::string_view suffix) {
      return part.size() > suffix.size() && part.compare(part.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    if (ends(".service") || ends(".scope")) unit = part;
  }
  return unit;
}

std::string user_name(std::uint32_t uid) {
  passwd pw{};
  passwd* found = nullptr;
  char buf[1024];
  if (::getpwuid_r(uid, &pw, buf, sizeof buf, &found) == 0 && found) return found->pw_name;
  return std::to_string(uid);
}

}  // namespace kbus::cli
