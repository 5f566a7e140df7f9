// Runs the built kbus-codegen and collects its exit status and what it printed.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <string>
#include <vector>

namespace kbus::test {

struct codegen_run {
  int status = -1;     // the exit status
  std::string output;  // stdout and stderr
};

inline std::string shell_quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

inline codegen_run run_codegen(const std::vector<std::string>& args) {
  std::string cmd = shell_quoted(KBUS_CODEGEN_PROGRAM);
  for (const auto& a : args) cmd += " " + shell_quoted(a);
  cmd += " 2>&1";
  codegen_run r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  const int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

}  // namespace kbus::test
