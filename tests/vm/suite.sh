#!/bin/sh
# The suite over cuse:, run inside scripts/vm's VM (busybox sh) when it is given no command:
# kbus info (the default list must pick cuse:), kbus_core_tests' tests on the cuse bus kind,
# and kbus_cuse_tests. It fails when a test fails,
# when a program is missing, or when a program ran no test that passed (every cuse test
# skipped: kbusd or CUSE did not work).

failures=""
fail() { echo "vm suite: FAILED: $*"; failures="$failures
  $*"; }

run_gtest() {  # run_gtest PROGRAM ARG...
  program=$1
  if ! command -v "$program" >/dev/null; then
    fail "$program is not in this build"
    return
  fi
  log=/tmp/$program.log
  echo "vm suite: $*"
  # Not a plain pipe into tee: a bus the program started and left behind (it crashed, or the
  # OOM killer took it) would keep the pipe open and the suite waiting. The program runs in a
  # process group of its own, which goes once the program has ended.
  rm -f /tmp/suite.fifo
  mkfifo /tmp/suite.fifo
  tee "$log" </tmp/suite.fifo &
  tee_pid=$!
  setsid "$@" >/tmp/suite.fifo 2>&1 &
  program_pid=$!
  wait "$program_pid"
  status=$?
  kill -9 -- "-$program_pid" 2>/dev/null
  # A process that left the group may still hold the pipe: tee gets 10 s, then goes.
  (sleep 10; kill "$tee_pid" 2>/dev/null) &
  wait "$tee_pid"
  # gtest counts skipped tests apart from passed ones.
  passed=$(sed -n 's/^\[  PASSED  \] \([0-9][0-9]*\) tests\{0,1\}\.$/\1/p' "$log")
  if [ "$status" -ne 0 ]; then
    fail "$program (exit code $status)"
  elif [ "${passed:-0}" -eq 0 ]; then
    fail "$program: no test passed (every test skipped, or none ran)"
  else
    echo "vm suite: $program: $passed tests passed"
  fi
}

echo "vm suite: DBUS_SESSION_BUS_ADDRESS=$DBUS_SESSION_BUS_ADDRESS"
# The default address list picks cuse: (there is no kdbus in this kernel), served by the kbusd
# that init started.
echo "vm suite: kbus info"
kbus info >/tmp/info.txt 2>&1
info_status=$?
cat /tmp/info.txt
if [ "$info_status" -ne 0 ]; then
  fail "kbus info (exit code $info_status)"
elif ! grep -q '^transport: *cuse$' /tmp/info.txt; then
  fail "kbus info: the default address list did not pick cuse:"
fi
# The suites on the cuse bus kind (cuse_emulated runs on the host). Ten thousand calls in flight
# is a throughput test: under TCG emulation it outlasts its deadline; it runs on the host on
# cuse_emulated, and kbusd's CUSE path is counted by the cuse benchmarks instead.
run_gtest kbus_core_tests --gtest_filter='*/cuse:-*TenThousandCallsInFlight*'
run_gtest kbus_cuse_tests

if [ -n "$failures" ]; then
  echo "vm suite: FAILED:$failures"
  exit 1
fi
echo "vm suite: passed"
