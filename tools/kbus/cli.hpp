// The `kbus` program as a function: tests drive it in-process (a kdbus bus embedded in the test
// process is reachable only from inside it), main() runs it on std::cout and std::cerr.
#pragma once

#include <functional>
#include <ostream>
#include <string>
#include <vector>

namespace kbus::cli {

// For commands that run until stopped (monitor, capture, wait): `started` is called once they
// listen, with a function that stops them from any thread, as SIGINT does (and does nothing
// once they have ended).
struct run_hooks {
  std::function<void(std::function<void()> stop)> started;
};

// Runs `kbus ARGS...` (args without the program name); the exit code: 0 success, 1 a D-Bus
// error or a failed operation, 2 bad usage. Errors go to `err` as "kbus COMMAND: reason".
int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err, const run_hooks& hooks = {});

}  // namespace kbus::cli
