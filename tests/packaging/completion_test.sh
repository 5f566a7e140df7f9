#!/usr/bin/env bash
# Drives tools/bash-completion/kbus in bash as bash would: commands, options, and bus names from
# `kbus list` on a private dbus-daemon where kbus-demo-service owns org.kbus.Demo. The commands
# offered must be those `kbus --help` lists.
# Usage: completion_test.sh TOOLS_DIR COMPLETION_FILE   (TOOLS_DIR holds kbus, kbus-demo-service)
set -uo pipefail
tools=$1
completion=$2
export PATH="$tools:$PATH"
work=$(mktemp -d)
bus_pid= demo_PID=
cleanup() {
  [ -z "$demo_PID" ] || kill "$demo_PID" 2>/dev/null
  [ -z "$bus_pid" ] || kill "$bus_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

bus_out=$(dbus-daemon --session --fork --print-address=1 --print-pid=1 --address="unix:path=$work/bus") || exit 1
address=$(grep '^unix:' <<<"$bus_out")
bus_pid=$(grep -E '^[0-9]+$' <<<"$bus_out")
coproc demo { exec kbus-demo-service --address "$address"; }
read -r ready <&"${demo[0]}"
[ "$ready" = READY ] || { echo "kbus-demo-service did not start" >&2; exit 1; }

# shellcheck source=/dev/null
source "$completion"
[ "$(complete -p kbus)" = "complete -F _kbus kbus" ] || fail "kbus has no completion function"
COMP_WORDBREAKS=${COMP_WORDBREAKS:-$' \t\n"\'><=;|&(:'}

# What bash offers for LINE (the cursor at its end), sorted, space-separated. COMP_WORDS is
# split as bash splits it: at blanks and at COMP_WORDBREAKS characters.
complete_line() {
  COMP_LINE=$1
  COMP_POINT=${#1}
  COMP_WORDS=()
  local rest=$1 word=
  local i c
  for ((i = 0; i < ${#rest}; i++)); do
    c=${rest:i:1}
    if [[ $c == [[:space:]] ]]; then
      [ -n "$word" ] && COMP_WORDS+=("$word")
      word=
    elif [[ $c != [[:space:]] && $COMP_WORDBREAKS == *"$c"* ]]; then
      [ -n "$word" ] && COMP_WORDS+=("$word")
      COMP_WORDS+=("$c")
      word=
    else
      word+=$c
    fi
  done
  COMP_WORDS+=("$word")
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMPREPLY=()
  _kbus kbus "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
  printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ' | sed 's/ $//'
}

expect() {  # expect LINE WANTED
  local got
  got=$(complete_line "$1")
  [ "$got" = "$2" ] || fail "'$1' offers '$got', expected '$2'"
}
expect_has() {  # expect_has LINE WORD
  local got
  got=$(complete_line "$1")
  [[ " $got " == *" $2 "* ]] || fail "'$1' offers '$got', without '$2'"
}

# The commands are those of `kbus --help`.
listed=$(kbus --help | sed -n '/^Subcommands:/,/^$/p' | awk 'NF > 1 && $1 != "Subcommands:" {print $1}' | sort | tr '\n' ' ' | sed 's/ $//')
[ -n "$listed" ] || fail "kbus --help lists no subcommands"
expect "kbus " "$listed"
expect "kbus --system " "$listed"
expect "kbus ca" "call capture"
expect "kbus get" "get-property"
expect "kbus --no" "--no-legend"
expect "kbus list --u" "--unique --user"
expect "kbus --address " ""

# Bus names, from the bus the line names.
expect "kbus --address $address call org.kbus.D" "org.kbus.Demo"
expect "kbus --address=$address introspect org.kbus." "org.kbus.Demo"
expect_has "kbus --address $address tree org.kbus.Demo " "org.freedesktop.DBus"
expect "kbus --address $address emit --destination org.kbus.D" "org.kbus.Demo"
# A unique name: bash replaces only what follows the ':'.
unique=$(kbus --address "$address" --no-legend list --unique | awk '$1 ~ /^:/ {print $1; exit}')
[ -n "$unique" ] || fail "no unique name on the bus"
expect_has "kbus --address $address status :" "${unique#:}"
# Only where a destination goes: not after it, not for commands without one.
expect "kbus --address $address call org.kbus.Demo /org/kbus/D" ""
expect "kbus --address $address emit /org/kbus/D" ""

if [ "$failures" -ne 0 ]; then
  echo "$failures completion checks failed" >&2
  exit 1
fi
echo "bash completion: commands, options and bus names as expected"
