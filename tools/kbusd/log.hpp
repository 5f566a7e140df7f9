// kbusd's log lines on stderr: "2026-12-03T12:00:00.123Z kbusd[pid] LEVEL: text". Debian 12's
// abseil (20220623) predates absl/log, so the lines are formatted with absl's time and string
// formatting here.
#pragma once

#include <absl/strings/str_format.h>
#include <absl/time/clock.h>
#include <absl/time/time.h>

#include <unistd.h>

#include <cstdio>
#include <string_view>

namespace kbusd_log {

inline void line(std::string_view level, std::string_view text) {
  const std::string when = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
  absl::FPrintF(stderr, "%s kbusd[%d] %s: %s\n", when, getpid(), level, text);
}

template <class... Args>
void info(const absl::FormatSpec<Args...>& format, const Args&... args) {
  line("INFO", absl::StrFormat(format, args...));
}
template <class... Args>
void error(const absl::FormatSpec<Args...>& format, const Args&... args) {
  line("ERROR", absl::StrFormat(format, args...));
}

}  // namespace kbusd_log
