#!/usr/bin/env python3
"""Turns Google Benchmark JSON files into bench-results.json, report.md and one PNG chart per
workload family (gnuplot).

    report.py --output DIR [--not-measured WORKLOAD=WHY]... [--cuse-requests FILE] FILE.json...

Benchmark names are <workload...>/<impl>, with Google Benchmark's own suffixes
(/real_time, /iterations:N, ...) after them. Repetitions are reduced to their median. Any
benchmark that reported an error, a workload that did not run, or a name this script cannot
map makes it exit with status 1 after saying which.
"""

import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys

IMPLS = ["kbus", "sd-bus", "sdbus-c++", "libdbus", "gdbus", "bare"]
# "bare" (bench/bare_client.hpp) is no library: the least work a client can do, in
# call/pipelined_64B, to show how much of the throughput the bus and the server decide; and in
# kdbus/ping_pong_4KiB_vec, 4 KiB through a unix socket pair, what a local socket costs at least.
# In cuse/* the implementation is the bus (kbus is the client and the server on each): kbusd
# over CUSE, dbus-daemon and dbus-broker, all in scripts/vm's VM.
IMPLS += ["kbusd", "dbus-daemon", "dbus-broker"]
BUSES = ["broker", "daemon"]

# The workload ids, in report order. kdbus/* run the kdbus transport through kbusd's
# in-process device; only kbus has them, so they are compared with kbus over a socket
# through dbus-broker (call/sync_64B/broker, signal/fanout_10/broker).
WORKLOADS = (
    ["codec/call_s64", "codec/signal_asv10", "codec/structs_isd_10k", "codec/bytes_1m"]
    + ["dispatch/rules_10", "dispatch/rules_1k", "dispatch/rules_100k"]
    + [f"call/{w}/{b}" for w in ["sync_64B", "sync_64KiB", "pipelined_64B", "pipelined_64B_own_server"] for b in BUSES]
    + ["marshal/mixed", "marshal/str_array", "marshal/big_array"]
    + [f"signal/fanout_{n}/{b}" for n in [1, 10, 100] for b in BUSES]
    + [f"connect/{b}" for b in BUSES]
    + ["memory/idle_connection", "memory/subscription"]
    + ["kdbus/sync_64B", "kdbus/fanout_10", "kdbus/ping_pong_4KiB_vec"]
    + ["cuse/sync_64B", "cuse/fanout_10"]
)
NOT_YET = {}
KDBUS_BESIDE = {"kdbus/sync_64B": "call/sync_64B/broker", "kdbus/fanout_10": "signal/fanout_10/broker"}
FAMILIES = ["codec", "dispatch", "call", "marshal", "signal", "connect", "memory", "kdbus", "cuse"]

SUFFIX = re.compile(r"/(real_time|manual_time|iterations:\d+|repeats:\d+|min_time:[^/]+|threads:\d+)$")
TO_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


def fail(msg):
    print(f"report.py: {msg}", file=sys.stderr)
    sys.exit(1)


def base_name(name):
    while True:
        stripped = SUFFIX.sub("", name)
        if stripped == name:
            return name
        name = stripped


def load(paths):
    """Every iteration run of every file: (name, run dict). Errors are collected, not skipped."""
    runs, errors = [], []
    loads = []
    for path in paths:
        try:
            with open(path) as f:
                data = json.load(f)
        except (OSError, json.JSONDecodeError) as e:
            fail(f"{path}: not a Google Benchmark JSON file ({e})")
        load = data.get("context", {}).get("load_avg")
        if load:
            loads.append(load[0])
        for b in data.get("benchmarks", []):
            name = base_name(b.get("run_name", b["name"]))
            if b.get("error_occurred"):
                errors.append(f"{name}: {b.get('error_message', 'error')}")
                continue
            if b.get("run_type", "iteration") != "iteration":
                continue
            runs.append((name, b))
    return runs, errors, loads


def real_ns(b):
    return b["real_time"] * TO_NS[b.get("time_unit", "ns")]


CPU_KEYS = ("cpu_client_ns", "cpu_server_ns", "cpu_bus_ns")


def median(values):
    return statistics.median(values) if values else None


def collect(runs):
    """(workload, impl) -> record, plus the codec phases for the report."""
    samples = {}  # (workload, impl) -> list of dicts
    phases = {}   # (codec workload, phase, impl) -> list of ns
    unknown = []

    def add(workload, impl, ns, ops=None, counters=None):
        s = {"ns": ns, "ops": ops if ops is not None else 1e9 / ns}
        s.update(counters or {})
        samples.setdefault((workload, impl), []).append(s)

    for name, b in runs:
        parts = name.split("/")
        family = parts[0]
        if family == "codec" and len(parts) == 4:
            phases.setdefault(("/".join(parts[:2]), parts[2], parts[3]), []).append(real_ns(b))
        elif family == "codec" and len(parts) == 3 and parts[2] == "memcpy":
            phases.setdefault(("/".join(parts[:2]), "memcpy", "memcpy"), []).append(real_ns(b))
        elif family == "call" and len(parts) == 4 and parts[1].startswith("pipelined"):
            ips = b.get("items_per_second")
            if not ips:
                unknown.append(f"{name}: no items_per_second")
                continue
            add("/".join(parts[:3]), parts[3], 1e9 / ips, ips, {k: b[k] for k in CPU_KEYS if k in b})
        elif family in ("call", "signal") and len(parts) == 4:
            add("/".join(parts[:3]), parts[3], real_ns(b), None, {k: b[k] for k in CPU_KEYS if k in b})
        elif family in ("dispatch", "marshal", "kdbus", "cuse") and len(parts) == 3:
            add("/".join(parts[:2]), parts[2], real_ns(b))
        elif family == "connect" and len(parts) == 3:
            add("/".join(parts[:2]), parts[2], real_ns(b), None, {k: b[k] for k in CPU_KEYS if k in b})
        elif family == "memory" and len(parts) == 3:
            if "bytes" not in b or "ns_per_item" not in b:
                unknown.append(f"{name}: no bytes or ns_per_item counter")
                continue
            add("/".join(parts[:2]), parts[2], b["ns_per_item"], None,
                {"bytes": b["bytes"], "peak_rss_kib": b.get("peak_rss_kib")})
        else:
            unknown.append(name)

    # codec/<shape>: encode the message, then receive it (read from a socket, parse, decode).
    for (workload, phase, impl) in list(phases):
        if phase != "encode":
            continue
        receive = phases.get((workload, "receive", impl))
        if not receive:
            unknown.append(f"{workload}/encode/{impl}: no receive benchmark beside it")
            continue
        add(workload, impl, median(phases[(workload, "encode", impl)]) + median(receive))

    records = {}
    for (workload, impl), s in samples.items():
        r = {"workload": workload, "impl": impl,
             "ns_per_op": median([x["ns"] for x in s]),
             "ops_per_s": median([x["ops"] for x in s])}
        if any("bytes" in x for x in s):
            r["bytes"] = median([x["bytes"] for x in s])
        for k in CPU_KEYS:
            if any(k in x for x in s):
                r[k] = median([x[k] for x in s if k in x])
        if any(x.get("peak_rss_kib") is not None for x in s):
            r["peak_rss_kib"] = median([x["peak_rss_kib"] for x in s if x.get("peak_rss_kib") is not None])
        records[(workload, impl)] = r
    return records, phases, unknown


def subject(workload):
    """The implementation a workload is about: kbusd in cuse/*, else kbus."""
    return "kbusd" if workload.startswith("cuse/") else "kbus"


def order_key(rec):
    w, i = rec["workload"], rec["impl"]
    return (WORKLOADS.index(w), IMPLS.index(i) if i in IMPLS else len(IMPLS), i)


def fmt_ns(ns):
    if ns is None:
        return "–"
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.1f} µs"
    return f"{ns:.0f} ns"


def fmt_bytes(b):
    return "–" if b is None else (f"{b / 1024:.1f} KiB" if abs(b) >= 1024 else f"{b:.0f} B")


def ratio_cell(kbus, peer):
    """kbus ÷ peer: below 1 kbus needs less (time or memory), above 1 it needs more."""
    if kbus is None or peer is None or peer <= 0:
        return "–"
    r = kbus / peer
    return f"{r:.2f} (kbus slower)" if r > 1.0 else f"{r:.2f}"


def metric(rec, workload):
    if rec is None:
        return None
    return rec.get("bytes") if workload.startswith("memory/") else rec["ns_per_op"]


def write_report(out, records, phases, skipped, quick, loads, repetitions, cuse_requests):
    lines = ["# kbus benchmarks", ""]
    lines.append(f"Mode: {'--quick (short runs: ratios are rough)' if quick else 'full'}, "
                 f"median of {repetitions} repetition(s) per benchmark. "
                 "Every number below comes from the run that wrote `bench-results.json` beside this file.")
    lines.append("")
    if loads:
        lines.append(f"Load average (1 min) when each program started: {', '.join(f'{x:.1f}' for x in loads)} "
                     f"on {os.cpu_count()} CPUs. Above the CPU count, other work shared the machine and "
                     "the bus workloads (client, bus and server all need a CPU) are noisy: trust ratios "
                     "that hold across runs.")
        lines.append("")
    lines.append("Ratios are **kbus ÷ peer**: time per operation (memory: bytes per item). "
                 "Below 1.00 kbus is faster (smaller); above 1.00 kbus is slower (larger), said in the cell.")
    lines.append("")
    present = sorted({w for (w, _) in records if subject(w) == "kbus"}, key=WORKLOADS.index)
    peers = [i for i in IMPLS[1:] if any(i == imp for (w, imp) in records if w in present)]
    lines.append("| workload | kbus | " + " | ".join(f"vs {p}" for p in peers) + " |")
    lines.append("|---|---|" + "---|" * len(peers))
    for w in present:
        k = records.get((w, "kbus"))
        kv = metric(k, w)
        shown = fmt_bytes(kv) if w.startswith("memory/") else fmt_ns(kv)
        cells = [ratio_cell(kv, metric(records.get((w, p)), w)) for p in peers]
        lines.append(f"| {w} | {shown} | " + " | ".join(cells) + " |")
    lines.append("")

    slower = [(w, p) for w in present for p in peers
              if metric(records.get((w, "kbus")), w) is not None and metric(records.get((w, p)), w) is not None
              and metric(records[(w, "kbus")], w) > metric(records[(w, p)], w)]
    lines.append("## Where kbus is slower (or larger)")
    lines.append("")
    if slower:
        for w, p in slower:
            lines.append(f"- {w}: kbus {metric(records[(w, 'kbus')], w):.4g} vs {p} {metric(records[(w, p)], w):.4g} "
                         f"({'bytes' if w.startswith('memory/') else 'ns'})")
    else:
        lines.append("- nowhere in this run")
    lines.append("")

    cpu_rows = sorted({w for (w, i) in records if "cpu_client_ns" in records[(w, i)]}, key=WORKLOADS.index)
    if cpu_rows:
        lines.append("## CPU time per operation (user + system)")
        lines.append("")
        lines.append("Each process's own cost, beside the wall time above: the client (the benchmark process; "
                     "in signal/ the emitter and its subscribers), the Echo server it calls, and the bus daemon. "
                     "The server's and the bus's come from /proc in 10 ms ticks: rough on short runs. "
                     "Goal: kbus's client CPU at most half of sd-bus's.")
        lines.append("")
        lines.append("| workload | kbus client | sd-bus client | kbus ÷ sd-bus | Echo server (kbus's run) | bus (kbus's run) |")
        lines.append("|---|---|---|---|---|---|")
        for w in cpu_rows:
            k, sd = records.get((w, "kbus")), records.get((w, "sd-bus"))
            if not k or "cpu_client_ns" not in k:
                continue
            kc = k["cpu_client_ns"]
            sc = sd.get("cpu_client_ns") if sd else None
            ratio = f"{kc / sc:.2f}×" if sc else "–"
            lines.append(f"| {w} | {fmt_ns(kc)} | {fmt_ns(sc) if sc else '–'} | {ratio} | "
                         f"{fmt_ns(k['cpu_server_ns']) if 'cpu_server_ns' in k else '–'} | "
                         f"{fmt_ns(k['cpu_bus_ns']) if 'cpu_bus_ns' in k else '–'} |")
        lines.append("")

    lines.append("## Goals (reported, not asserted)")
    lines.append("")
    for b in BUSES:
        for w in ["sync_64B", "sync_64KiB"]:
            k, s = records.get((f"call/{w}/{b}", "kbus")), records.get((f"call/{w}/{b}", "sd-bus"))
            if k and s:
                r = k["ns_per_op"] / s["ns_per_op"]
                lines.append(f"- call/{w}/{b}: kbus time = {r:.2f}× sd-bus's (goal ≤ 1.0: {'met' if r <= 1.0 else 'NOT met'})")
        for w, what in [("pipelined_64B", ""), ("pipelined_64B_own_server", " (each library on both ends)")]:
            k, s, bare = (records.get((f"call/{w}/{b}", i)) for i in ("kbus", "sd-bus", "bare"))
            if not (k and s):
                continue
            r = k["ops_per_s"] / s["ops_per_s"]
            lines.append(f"- call/{w}/{b}{what}: kbus throughput = {r:.2f}× sd-bus's "
                         f"(goal ≥ 1.5: {'met' if r >= 1.5 else 'NOT met'})")
            if bare:  # call/pipelined_64B only
                lines.append(f"  - the bare client (no library, the least a client can do) = "
                             f"{bare['ops_per_s'] / s['ops_per_s']:.2f}× sd-bus's; kbus = "
                             f"{k['ops_per_s'] / bare['ops_per_s']:.2f}× the bare client's")
    lines.append("")

    lines.append("## The kdbus transport beside the socket")
    lines.append("")
    for w, beside in KDBUS_BESIDE.items():
        k, b = records.get((w, "kbus")), records.get((beside, "kbus"))
        if k and b:
            lines.append(f"- {w}: {fmt_ns(k['ns_per_op'])} = {k['ns_per_op'] / b['ns_per_op']:.2f}× kbus's {beside} "
                         f"({fmt_ns(b['ns_per_op'])})")
        else:
            lines.append(f"- {w}: not measured in this run")
    lines.append("")

    lines.append("## kbusd over CUSE beside dbus-daemon and dbus-broker (in a VM)")
    lines.append("")
    lines.append("kbus is the client and the Echo server on each bus; only the bus differs. The VM's CPU is "
                 "emulated (qemu TCG): compare the ratios, not the times.")
    lines.append("")
    for w in [w for w in WORKLOADS if w.startswith("cuse/")]:
        k = records.get((w, "kbusd"))
        if not k:
            lines.append(f"- {w}: not measured in this run")
            continue
        cells = []
        for bus in ["dbus-daemon", "dbus-broker"]:
            b = records.get((w, bus))
            if b:
                cells.append(f"{k['ns_per_op'] / b['ns_per_op']:.2f}× {bus}'s ({fmt_ns(b['ns_per_op'])})")
        d = records.get((w, "dbus-daemon"))
        goal = ""
        if d:
            goal = f"; goal kbusd ≤ dbus-daemon: {'met' if k['ns_per_op'] <= d['ns_per_op'] else 'NOT met'}"
        lines.append(f"- {w}: kbusd {fmt_ns(k['ns_per_op'])} = " + ", ".join(cells) + goal)
    lines.append("")
    if cuse_requests:
        lines.append("What bounds it: every CUSE request is a round trip from the kernel into kbusd and back "
                     "(two context switches), where a socket write or read is one system call. Counted from "
                     "`kbusd --debug` by `bench/cuse_requests.sh`, one message in the middle of the run:")
        lines.append("")
        lines += [f"- {line}" for line in cuse_requests]
        lines.append("")

    lines.append("## All results")
    lines.append("")
    lines.append("| workload | impl | time per op | ops/s | bytes | peak RSS |")
    lines.append("|---|---|---|---|---|---|")
    for r in sorted(records.values(), key=order_key):
        lines.append(f"| {r['workload']} | {r['impl']} | {fmt_ns(r['ns_per_op'])} | {r['ops_per_s']:.4g} | "
                     f"{fmt_bytes(r.get('bytes'))} | "
                     f"{str(round(r['peak_rss_kib'])) + ' KiB' if r.get('peak_rss_kib') is not None else '–'} |")
    lines.append("")

    lines.append("## Codec phases")
    lines.append("")
    lines.append("`codec/<shape>` = encode + receive (the bytes read from a socket, parsed and decoded). "
                 "Decode alone is shown too (sd-bus's decode only reads back a message it built).")
    lines.append("")
    lines.append("| workload | phase | impl | time |")
    lines.append("|---|---|---|---|")
    for (w, phase, impl) in sorted(phases, key=lambda k: (WORKLOADS.index(k[0]), k[1], k[2])):
        lines.append(f"| {w} | {phase} | {impl} | {fmt_ns(median(phases[(w, phase, impl)]))} |")
    lines.append("")

    lines.append("## Not measured")
    lines.append("")
    for w, why in skipped.items():
        lines.append(f"- {w}: {why}")
    lines.append("- sdbus-c++ in marshal/*: it builds messages only on a live bus connection")
    lines.append("- peers in dispatch/*: the match index is kbus's own; no peer exposes one")
    lines.append("")
    charted = [f for f in FAMILIES if any(w.startswith(f + "/") for (w, _) in records)]
    lines.append("Charts: " + ", ".join(f"`{f}.png`" for f in charted) + ".")
    lines.append("")
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write("\n".join(lines))


def write_charts(out, records, skipped):
    """Writes a chart per family that has results; returns how many."""
    charts = 0
    for family in FAMILIES:
        workloads = [w for w in WORKLOADS if w.startswith(family + "/") and any((w, i) in records for i in IMPLS)]
        impls = [i for i in IMPLS if any((w, i) in records for w in workloads)]
        if not workloads:
            if all(w in skipped for w in WORKLOADS if w.startswith(family + "/")):
                continue
            fail(f"no results for the {family} chart")
        memory = family == "memory"
        dat = os.path.join(out, f".{family}.dat")
        with open(dat, "w") as f:
            for w in workloads:
                vals = []
                for i in impls:
                    v = metric(records.get((w, i)), w)
                    vals.append("?" if v is None else (f"{v:.6g}" if memory else f"{v / 1e3:.6g}"))
                f.write(f"\"{w[len(family) + 1:]}\" " + " ".join(vals) + "\n")
        ylabel = "bytes per item (heap)" if memory else "µs per operation (log scale, lower is faster)"
        plots = ", ".join(f"'{dat}' using {k + 2}:xtic(1) title '{i}'" for k, i in enumerate(impls))
        script = f"""
set terminal pngcairo size 1100,560 noenhanced font 'sans,10'
set output '{os.path.join(out, family + '.png')}'
set title '{family}: kbus and its peers' noenhanced
set datafile missing '?'
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set key outside right top
set ylabel '{ylabel}'
set xtics rotate by -25 scale 0
{'' if memory else 'set logscale y'}
set yrange [{'0' if memory else ''}:*]
plot {plots}
"""
        proc = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
        os.unlink(dat)
        if proc.returncode != 0:
            fail(f"gnuplot failed on the {family} chart: {proc.stderr.strip()}")
        charts += 1
    return charts


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--output", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--cuse-requests", metavar="FILE",
                    help="bench/cuse_requests.sh's lines: the CUSE requests one message costs")
    ap.add_argument("--not-measured", action="append", default=[], metavar="WORKLOAD=WHY",
                    help="a workload that could not run here, and why (said in the report)")
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()

    skipped = dict(NOT_YET)
    for entry in args.not_measured:
        w, sep, why = entry.partition("=")
        if not sep or w not in WORKLOADS:
            fail(f"--not-measured {entry}: expected WORKLOAD=WHY with a known workload")
        skipped[w] = why
    runs, errors, loads = load(args.files)
    records, phases, unknown = collect(runs)
    problems = [f"benchmark error: {e}" for e in errors] + [f"cannot map: {u}" for u in unknown]
    for (w, i) in records:
        if w not in WORKLOADS:
            problems.append(f"unknown workload id: {w} ({i})")
        elif i not in IMPLS:
            problems.append(f"unknown implementation: {i} ({w})")
        elif not math.isfinite(records[(w, i)]["ns_per_op"]) or records[(w, i)]["ns_per_op"] <= 0:
            problems.append(f"no time measured: {w} ({i})")
    for w in WORKLOADS:
        if w not in skipped and (w, subject(w)) not in records:
            problems.append(f"workload did not run for {subject(w)}: {w}")
    if problems:
        for p in problems:
            print(f"report.py: {p}", file=sys.stderr)
        fail(f"{len(problems)} problem(s): no results written")

    os.makedirs(args.output, exist_ok=True)
    with open(os.path.join(args.output, "bench-results.json"), "w") as f:
        json.dump(sorted(records.values(), key=order_key), f, indent=1)
        f.write("\n")
    repetitions = max(len([1 for (n, _) in runs if n == name]) for name in {n for (n, _) in runs})
    cuse_requests = []
    if args.cuse_requests:
        with open(args.cuse_requests) as f:
            cuse_requests = [line.strip() for line in f if line.strip()]
    write_report(args.output, records, phases, skipped, args.quick, loads, repetitions, cuse_requests)
    charts = write_charts(args.output, records, skipped)
    print(f"report.py: {len(records)} records, report.md and {charts} charts in {args.output}")


if __name__ == "__main__":
    main()
