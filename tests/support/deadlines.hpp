// How long a test waits for something before it fails. A passing test never comes near these:
// it goes on as soon as what it waits for happens. They are generous because the machines that
// run the suite may be loaded and have slow virtual CPUs.
#pragma once

#include <chrono>

namespace kbus::test {

// A message, a reply, a signal, a change: what a bus or a peer does at once.
inline constexpr std::chrono::seconds event_deadline{10};
// Tens of MiB through a bus and back: copies that a sanitized build with libc++ makes byte by
// byte, on a loaded machine.
inline constexpr std::chrono::seconds bulk_deadline{120};
// A program ready to serve: a bus listening, a peer owning its name (Python peers import GLib
// first, which alone can take seconds on a loaded machine).
inline constexpr std::chrono::seconds startup_deadline{60};
// A program asked to end (SIGTERM) before it is killed.
inline constexpr std::chrono::seconds exit_deadline{5};

}  // namespace kbus::test
