#!/bin/sh
# Counts the CUSE requests (each a round trip from the kernel into kbusd and back) that one
# message costs, in cuse/sync_64B and cuse/fanout_10: kbus_cuse_bench runs against a kbusd of
# its own that logs every request (--debug), and the requests between two sends of the
# benchmark's caller or emitter (the cycle of median length) are counted by kind and process.
# Runs inside scripts/vm's VM (busybox sh), as root; prints one line per workload.
set -eu

log=/tmp/kbusd-requests.log
kbusd --bus requests --foreground --debug 2>"$log" &
kbusd_pid=$!
i=0
until [ -e /dev/kbus/0-requests ]; do
  [ $i -lt 100 ] || { echo "cuse_requests: kbusd did not start" >&2; exit 1; }
  sleep 0.1
  i=$((i + 1))
done
export KBUS_BENCH_KBUSD_ADDRESS=cuse:path=/dev/kbus/0-requests

# count WORKLOAD WHAT: runs the workload on kbusd alone; WHAT names one of its messages.
count() {
  start=$(wc -l <"$log")
  kbus_cuse_bench --benchmark_filter="^$1/kbusd" --benchmark_min_time=0.5 >/dev/null 2>&1 &
  bench=$!
  wait "$bench" || { echo "cuse_requests: kbus_cuse_bench failed on $1" >&2; return 1; }
  tail -n +"$((start + 1))" "$log" | tr -d '\000' | awk -v bench="$bench" -v workload="$1" -v what="$2" '
    /opcode:/ {
      n++
      match($0, /unique: [0-9]+/); id[n] = substr($0, RSTART + 8, RLENGTH - 8)
      match($0, /opcode: [A-Z_]+/); op[n] = substr($0, RSTART + 8, RLENGTH - 8)
      match($0, /pid: [0-9]+/); pid[n] = substr($0, RSTART + 5, RLENGTH - 5)
      row[id[n]] = n
      if (op[n] == "WRITE" && pid[n] == bench) sends[++s] = n
      next
    }
    /unique: [0-9]+, error: -11/ { match($0, /unique: [0-9]+/); empty[row[substr($0, RSTART + 8, RLENGTH - 8)]] = 1 }
    END {
      if (s < 2) { print workload ": too few messages to count (" s ")"; exit 1 }
      # The cycle of median length: cycles that straddle a connection set-up are left out.
      for (a = 1; a < s; a++) {
        below = 0
        for (b = 1; b < s; b++)
          if (sends[b + 1] - sends[b] < sends[a + 1] - sends[a]) below++
        if (below <= int((s - 1) / 2)) k = a
        if (below == int((s - 1) / 2)) break
      }
      total = 0
      for (j = sends[k]; j < sends[k + 1]; j++) {
        who = pid[j] == bench ? "benchmark" : "server"
        kind = op[j] == "READ" && empty[j] ? "empty READ" : op[j]
        c[who ", " kind]++
        total++
      }
      line = workload "/kbusd: " total " CUSE requests per " what ":"
      split("benchmark server", whos, " ")
      split("WRITE|READ|empty READ|POLL|IOCTL", kinds, "|")
      for (w = 1; w <= 2; w++)
        for (q = 1; q <= 5; q++)
          if (c[whos[w] ", " kinds[q]]) line = line " " whos[w] " " c[whos[w] ", " kinds[q]] " " kinds[q] ","
      sub(/,$/, "", line)
      print line
    }'
}

status=0
count cuse/sync_64B "call (the call and its reply)" || status=1
count cuse/fanout_10 "signal (one emitted, 10 received)" || status=1
kill "$kbusd_pid" 2>/dev/null || true
exit "$status"
