#include "support/process.hpp"
#include "support/readable.hpp"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <utility>

namespace kbus::test {

command_result run(const std::string& command) {
  std::FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (!p) return {-1, "popen failed"};
  std::string out;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  const int status = ::pclose(p);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

bool have(const char* path) { return ::access(path, X_OK) == 0; }

std::function<bool(const std::string& output)> contains_all(std::vector<std::string> texts) {
  return [texts = std::move(texts)](const std::string& output) {
    for (const auto& t : texts)
      if (output.find(t) == std::string::npos) return false;
    return true;
  };
}

child_process::child_process(std::vector<std::string> argv, child_options options) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return;
  pid_ = ::fork();
  if (pid_ == 0) {
    ::dup2(out[1], 1);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    if (options.as_user) {
      const auto id = *options.as_user;
      if (::setgroups(0, nullptr) != 0 || ::setresgid(id, id, id) != 0 || ::setresuid(id, id, id) != 0) ::_exit(126);
    }
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(out[1]);
  stdout_ = out[0];
}

void child_process::kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

child_process::~child_process() {
  terminate_child(pid_);
  if (stdout_ >= 0) ::close(stdout_);
}

bool child_process::read_some(std::chrono::steady_clock::time_point deadline) {
  if (stdout_ < 0) return false;
  char buf[4096];
  ssize_t n;
  do {
    if (!readable_before(stdout_, deadline)) return false;
    n = ::read(stdout_, buf, sizeof buf);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) return false;
  unread_.append(buf, static_cast<std::size_t>(n));
  return true;
}

std::string child_process::read_line(std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  auto newline = unread_.find('\n');
  while (newline == std::string::npos) {
    if (!read_some(deadline)) return {};
    newline = unread_.find('\n');
  }
  std::string line = unread_.substr(0, newline + 1);
  unread_.erase(0, newline + 1);
  return line;
}

std::string child_process::read_until(const std::function<bool(const std::string& output)>& done,
                                      std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done(unread_) && read_some(deadline)) {
  }
  return std::exchange(unread_, {});
}

}  // namespace kbus::test
