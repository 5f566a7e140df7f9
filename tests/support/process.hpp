// Running real peers from tests: a shell command with its output, or a long-lived child
// process whose stdout is read line by line.
#pragma once

#include <cstdio>
#include <string>
#include <sys/types.h>
#include <vector>

namespace kbus::test {

struct command_result {
  int status;       // the exit code, -1 when the command did not exit normally
  std::string out;  // stdout and stderr, trailing newlines removed
};
command_result run(const std::string& command);

// Whether an executable exists at `path`.
bool have(const char* path);

// A program run as a child (argv[0] is its path), its stdout on a pipe; SIGTERM when destroyed.
class child_process {
 public:
  explicit child_process(std::vector<std::string> argv);
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  ~child_process();
  // The next line of its output ("" at the end).
  std::string read_line();

 private:
  pid_t pid_ = -1;
  std::FILE* stdout_ = nullptr;
};

}  // namespace kbus::test
