#!/usr/bin/env python3
"""Deliveries per second against streams per connection (issue #18), in one sitting.

W3 (a burst to one topic) to N streams (default 15,000) of one ringcast (--shards 2), over
HTTP/1.1 (a socket per stream) and over cleartext HTTP/2 with S streams to a connection for
each S of --spc, with one publish in flight and with 16 pipelined (--pipelines), every event
checked by ringcast-load (lost, duplicated, reordered). The variants alternate, --rounds times,
each against a fresh server; the table shows the median and the range, and the ratio to
HTTP/1.1 in the same round. The load generator shares the machine's cores with the server.

    python3 bench/h2_fanout_curve.py                               # 15,000 streams, S = 1..100
    python3 bench/h2_fanout_curve.py --streams 300 --duration 1 --rounds 1 --spc 10  # CI size
    python3 bench/h2_fanout_curve.py --csv docs/perf/h2_fanout.csv --png docs/perf/h2_fanout.png

Nothing here asserts a timing; the exit status is non-zero only if a run could not be carried
out or lost, duplicated or reordered events.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from h2_million import Server, load_json  # noqa: E402  (the density bench's start-up and runs)

ROOT = Path(__file__).resolve().parent.parent


def run_w3(args: argparse.Namespace, spc: int, pipeline: int) -> dict:
    """One W3 against a fresh server; spc 0 is HTTP/1.1."""
    server = Server(args.ringcast, args.streams, extra=args.server_args)
    try:
        cmd = [args.load, "run", "--streams", str(args.streams), "--topics", "1", "--burst",
               "--duration", str(args.duration), "--pipeline", str(pipeline),
               "--publisher-thread", "--target", f"127.0.0.1:{server.port}", "--threads", "2",
               "--timeout", str(args.timeout), "--quiet"]
        if spc:
            cmd += ["--h2", "--streams-per-conn", str(spc)]
        r = load_json(cmd, args.timeout + 60)
        return {"deliveries_per_s": r.get("deliveries_per_s", 0), "lost": r.get("lost", -1),
                "duplicates": r.get("duplicates", -1), "reordered": r.get("reordered", -1),
                "ack_p50_ms": (r.get("publish_latency_ms") or {}).get("p50")}
    finally:
        server.stop()


def plot(rows: list, png: str) -> None:
    if shutil.which("gnuplot") is None:
        print("h2_fanout_curve: gnuplot missing; no plot", file=sys.stderr)
        return
    with tempfile.TemporaryDirectory() as tmp:
        series = []
        for pipeline in sorted({r["pipeline"] for r in rows}):
            dat = os.path.join(tmp, f"p{pipeline}.dat")
            with open(dat, "w") as f:
                for r in rows:
                    if r["pipeline"] == pipeline:
                        f.write(f"{r['spc']} {r['median']} {r['low']} {r['high']}\n")
            series.append(f"'{dat}' using 1:2:3:4 with yerrorlines lw 2 "
                          f"title '{pipeline} publish(es) in flight'")
        script = ("set terminal pngcairo size 900,560; "
                  f"set output '{png}'; set logscale x; set xrange [0.8:*]; set grid; "
                  "set xlabel 'streams per connection (1 = HTTP/1.1, a socket each)'; "
                  "set ylabel 'deliveries per second'; set format y '%.1s%c'; set key top left; "
                  "set title 'W3 burst to one topic, same streams, same machine, one sitting'; "
                  "plot " + ", ".join(series))
        subprocess.run(["gnuplot", "-e", script], check=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ringcast", default=str(ROOT / "build/release/ringcast"))
    p.add_argument("--load", default=str(ROOT / "build/release/tools/load/ringcast-load"))
    p.add_argument("--streams", type=int, default=15000)
    p.add_argument("--spc", default="10,25,50,100", help="HTTP/2 streams per connection to try")
    p.add_argument("--pipelines", default="1,16", help="publishes in flight")
    p.add_argument("--duration", type=int, default=5)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--timeout", type=int, default=120)
    p.add_argument("--server-args", default="")
    p.add_argument("--csv")
    p.add_argument("--png")
    args = p.parse_args()
    spcs = [0] + [int(x) for x in args.spc.split(",")]
    pipelines = [int(x) for x in args.pipelines.split(",")]
    results: dict = {}
    bad = False
    for rnd in range(args.rounds):
        order = spcs if rnd % 2 == 0 else list(reversed(spcs))
        for pipeline in pipelines:
            for spc in order:
                r = run_w3(args, spc, pipeline)
                results.setdefault((spc, pipeline), []).append(r)
                bad |= r["lost"] != 0 or r["duplicates"] != 0 or r["reordered"] != 0
                print(f"round {rnd + 1} pipeline {pipeline:>2} "
                      f"{'HTTP/1.1' if spc == 0 else f'HTTP/2 S={spc}':>12}: "
                      f"{r['deliveries_per_s']:>12,.0f}/s lost {r['lost']} dup {r['duplicates']} "
                      f"reordered {r['reordered']} ack p50 {r['ack_p50_ms']} ms", flush=True)
    rows = []
    print(f"\n{args.streams:,} streams, W3 burst, {args.rounds} round(s), {args.duration} s each")
    print("| in flight | protocol | streams/conn | deliveries/s, median (range) | ÷ HTTP/1.1, same round |")
    print("| --- | --- | --- | --- | --- |")
    for pipeline in pipelines:
        base = [r["deliveries_per_s"] for r in results[(0, pipeline)]]
        for spc in spcs:
            v = [r["deliveries_per_s"] for r in results[(spc, pipeline)]]
            ratios = [a / b for a, b in zip(v, base) if b]
            row = {"spc": max(spc, 1), "pipeline": pipeline, "median": statistics.median(v),
                   "low": min(v), "high": max(v)}
            rows.append(row)
            ratio = (f"{statistics.median(ratios):.2f}× ({min(ratios):.2f}–{max(ratios):.2f})"
                     if ratios else "-")
            print(f"| {pipeline} | {'HTTP/1.1' if spc == 0 else 'HTTP/2'} | {max(spc, 1)} | "
                  f"{row['median']:,.0f} ({row['low']:,.0f}–{row['high']:,.0f}) | {ratio} |")
    if args.csv:
        with open(args.csv, "w") as f:
            f.write("pipeline,streams_per_conn,median,low,high\n")
            for r in rows:
                f.write(f"{r['pipeline']},{r['spc']},{r['median']:.0f},{r['low']:.0f},{r['high']:.0f}\n")
    if args.png:
        plot(rows, args.png)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
