#!/usr/bin/env bash
# compare_libcs.sh GLIBC_TOOLS MUSL_TOOLS
#
# kbus built against glibc and against musl speak to each other as to themselves: the same kbus
# commands are sent to kbus-demo-service on a private dbus-daemon by each pairing of client and
# service (glibc to glibc, musl to glibc, glibc to musl), and their outputs and exit codes must be
# the same. Each folder holds a kbus and a kbus-demo-service. Exit code 0 when they agree.
set -euo pipefail

glibc=$1
musl=$2
dir=$(mktemp -d)
bus_pid=
service_pid=
cleanup() {
  [ -n "$service_pid" ] && kill "$service_pid" 2>/dev/null || true
  [ -n "$bus_pid" ] && kill "$bus_pid" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

cat >"$dir/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=$dir/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default"><allow send_destination="*"/><allow receive_sender="*"/><allow own="*"/></policy>
</busconfig>
CONF
# --fork returns once the bus listens, having printed its address and pid.
{ read -r address; read -r bus_pid; } < <(dbus-daemon --config-file="$dir/bus.conf" --fork --print-address=1 --print-pid=1 2>/dev/null)

# The service prints READY once it owns org.kbus.Demo.
start_service() {
  coproc service { exec "$1" --address "$address"; }
  service_pid=$service_PID
  local line
  read -r line <&"${service[0]}"
  [ "$line" = READY ] || { echo "compare_libcs: $1 did not get ready ($line)" >&2; exit 1; }
}
stop_service() {
  kill "$service_pid"
  wait "$service_pid" 2>/dev/null || true
  service_pid=
}

# Calls whose answers do not change with time (Counter ticks every second: never shown).
commands=(
  "call org.kbus.Demo /org/kbus/Demo org.kbus.Demo1 Add ii 2 40"
  "call org.kbus.Demo /org/kbus/Demo org.kbus.Demo1 Echo v s héllo"
  "--json=short call org.kbus.Demo /org/kbus/Demo org.kbus.Demo1 Echo v a{sv} 2 pi d 3.25 tags as 2 a b"
  "call org.kbus.Demo /org/kbus/Demo org.kbus.Demo1 Fail"
  "get-property org.kbus.Demo /org/kbus/Demo org.kbus.Demo1 Label"
  "get-property org.kbus.Demo /org/kbus/Demo org.kbus.Demo1 Version"
  "introspect org.kbus.Demo /org/kbus/Demo org.freedesktop.DBus.Properties"
  "call org.kbus.Demo /org/kbus/Demo org.kbus.Demo1 NoSuchMethod"
)

# The answers of `kbus` in $1, one block per command: output, then the exit code.
answers_of() {
  local kbus=$1 cmd status
  for cmd in "${commands[@]}"; do
    echo "== kbus $cmd"
    status=0
    # shellcheck disable=SC2086 # each command is a list of words
    "$kbus" --address="$address" $cmd 2>&1 || status=$?
    echo "== exit $status"
  done
}

start_service "$glibc/kbus-demo-service"
answers_of "$glibc/kbus" >"$dir/glibc-glibc"
answers_of "$musl/kbus" >"$dir/musl-glibc"
stop_service
start_service "$musl/kbus-demo-service"
answers_of "$glibc/kbus" >"$dir/glibc-musl"
stop_service

ok=true
for pair in musl-glibc glibc-musl; do
  if diff -u "$dir/glibc-glibc" "$dir/$pair"; then
    echo "kbus ${pair%-*} client -> ${pair#*-} service: the same answers as glibc -> glibc (${#commands[@]} commands)"
  else
    ok=false
  fi
done
grep -qx 'i 42' "$dir/glibc-glibc" || { echo "compare_libcs: Add did not answer 42:" >&2; cat "$dir/glibc-glibc" >&2; ok=false; }
$ok
