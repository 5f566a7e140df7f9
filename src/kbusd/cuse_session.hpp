// kbusd's device served through CUSE (libfuse3's cuse_lowlevel, notes §5.2): the requests of
// /dev/cuse go to a device_server, one at a time on one thread, and their answers come back —
// at once, or later for a blocking read (a read with nothing to read on a file opened without
// O_NONBLOCK waits for a message or a signal). A file's poll handle is notified when something
// comes for a file that was told nothing waits (device_server::take_wakeups); a reply deadline
// wakes the loop when it is due, and nothing else does.
#pragma once

#include "kbusd/device_server.hpp"

#include <functional>
#include <string>

namespace kbus::kbusd {

struct session_options {
  // The device's name under /dev ("kbus/1000-user" for /dev/kbus/1000-user).
  std::string devname;
  // Called once the device exists (CUSE's init_done): make it reachable, drop privileges, say
  // ready. An exception thrown here ends the session.
  std::function<void()> on_ready;
  // libfuse's debug output of every request.
  bool debug = false;
};

// Serves until SIGINT, SIGTERM or SIGHUP, or until /dev/cuse goes away. Returns 0, or a
// non-zero exit code with the reason written to `why`.
int serve_cuse(device_server& server, const session_options& options, std::string& why);

}  // namespace kbus::kbusd
