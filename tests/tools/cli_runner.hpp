// Running the kbus program in this process (kbus::cli::run), as the tests of a bus embedded in
// the test process must: its kernel: address is reachable only from inside.
#pragma once

#include "cli.hpp"
#include "support/notifier.hpp"

#include <functional>
#include <mutex>
#include <ostream>
#include <sstream>
#include <streambuf>
#include <string>
#include <thread>
#include <vector>

namespace kbus::test {

// An output stream another thread may watch while the program writes to it.
class watched_output : private std::streambuf, public std::ostream {
 public:
  watched_output() : std::ostream(static_cast<std::streambuf*>(this)) {}
  std::string text() {
    std::lock_guard lock(mu_);
    return text_;
  }
  // Until `done(text)` holds for what was written; false when the deadline passed first.
  bool wait_until(const std::function<bool(const std::string&)>& done) {
    return changed_.wait_until([&] {
      std::lock_guard lock(mu_);
      return done(text_);
    });
  }

 private:
  int overflow(int c) override {
    if (c != std::streambuf::traits_type::eof()) {
      const char ch = static_cast<char>(c);
      xsputn(&ch, 1);
    }
    return c;
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    {
      std::lock_guard lock(mu_);
      text_.append(s, static_cast<std::size_t>(n));
    }
    changed_.notify();
    return n;
  }
  std::mutex mu_;
  std::string text_;  // guarded by mu_
  notifier changed_;
};

struct cli_result {
  int status;
  std::string out, err;
};

// `kbus ARGS...` to completion.
inline cli_result run_cli(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  const int status = kbus::cli::run(args, out, err);
  return {status, out.str(), err.str()};
}

// A command that runs until stopped (monitor, capture, wait), on a thread of its own.
class background_cli {
 public:
  explicit background_cli(std::vector<std::string> args) {
    hooks_.started = [this](std::function<void()> stop) {
      started_.update([&] { stop_ = std::move(stop); });
    };
    thread_ = std::thread([this, args = std::move(args)] {
      const int status = kbus::cli::run(args, out, err, hooks_);
      started_.update([&] {
        status_ = status;
        finished_ = true;
      });
    });
  }
  ~background_cli() {
    stop();
    if (thread_.joinable()) thread_.join();
  }
  // Until the command listens (or ended without listening): whether it listens.
  bool wait_started() {
    started_.wait_until([&] { return stop_ != nullptr || finished_; });
    return started_.wait_until([&] { return stop_ != nullptr; }, std::chrono::milliseconds(0));
  }
  // Stops the command (as SIGINT would) and waits for it: its exit code.
  int finish() {
    stop();
    if (thread_.joinable()) thread_.join();
    return status_;
  }
  // Waits for the command to end by itself: its exit code, or -1 when it did not end in time.
  int wait_exit() {
    if (!started_.wait_until([&] { return finished_; })) return -1;
    if (thread_.joinable()) thread_.join();
    return status_;
  }

  watched_output out, err;

 private:
  void stop() {
    started_.update([&] {
      if (stop_) stop_();
    });
  }
  kbus::cli::run_hooks hooks_;
  notifier started_;
  std::function<void()> stop_;  // guarded by started_
  bool finished_ = false;       // guarded by started_
  int status_ = -1;             // written before finished_
  std::thread thread_;
};

}  // namespace kbus::test
