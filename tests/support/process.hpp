// Running real peers from tests: a shell command with its output, or a long-lived child
// process whose stdout is read line by line.
#pragma once

#include "support/deadlines.hpp"
#include "support/terminate_child.hpp"

#include <chrono>
#include <functional>
#include <optional>
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

// A condition for child_process::read_until: every one of `texts` is in the output.
std::function<bool(const std::string& output)> contains_all(std::vector<std::string> texts);

struct child_options {
  // Runs it as this uid, with the same gid and no supplementary groups (the test runs as root).
  std::optional<unsigned> as_user;
};

// A program run as a child (argv[0] is its path), its stdout on a pipe; ended with
// terminate_child when destroyed.
class child_process {
 public:
  explicit child_process(std::vector<std::string> argv, child_options options = {});
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  ~child_process();

  // The next line of its output, with its newline; "" at the end of its output, or when no
  // whole line came within `limit`.
  std::string read_line(std::chrono::milliseconds limit = startup_deadline);
  // Reads its output until `done(output)` holds for the output not yet returned, the output
  // ends, or `limit` passes; returns that output.
  std::string read_until(const std::function<bool(const std::string& output)>& done,
                         std::chrono::milliseconds limit = event_deadline);
  // Ends it at once (SIGKILL), as a crash would, and reaps it.
  void kill();

 private:
  // Adds what the pipe holds to unread_ once it is readable, waiting until `deadline` at most;
  // false at the end of the output or when the deadline passed.
  bool read_some(std::chrono::steady_clock::time_point deadline);

  pid_t pid_ = -1;
  int stdout_ = -1;
  std::string unread_;  // read from the pipe, not yet returned
};

}  // namespace kbus::test
