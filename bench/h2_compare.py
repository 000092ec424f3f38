#!/usr/bin/env python3
"""HTTP/1.1 against HTTP/2 (and one ringcast build against another) in one run, on this machine.

For each ringcast binary given and each protocol, against a fresh server (--shards 2):

  * W1, idle streams: ringcast-load `subscribe` holds --w1 streams; the server's RSS growth
    over its idle RSS, per stream (HTTP/2: --streams-per-conn streams on each connection);
  * W3, a burst to --w3 streams of one topic, one publish in flight (as a backend publishes)
    and --pipeline publishes pipelined: deliveries/s, lost, and the publish ack latency.

Every figure comes from the same load generator in the same run, so the ratios between rows
are what to read. Nothing here asserts a timing: the exit status is non-zero only if a run
could not be carried out or lost events.

    python3 bench/h2_compare.py                       # the default build, both protocols
    python3 bench/h2_compare.py --ringcast old=/tmp/old/ringcast,h1 --ringcast new=build/release/ringcast
    python3 bench/h2_compare.py --w1 2000 --w3 2000 --duration 1       # what CI runs
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# The server start-up, memory readings and load runs of the density bench.
from h2_million import Server, load_json, rss_bytes, slab_bytes  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def load(args: argparse.Namespace, port: int, argv: list[str], h2: bool) -> dict:
    cmd = [args.load] + argv + ["--target", f"127.0.0.1:{port}", "--quiet"]
    if h2:
        cmd += ["--h2", "--streams-per-conn", str(args.streams_per_conn)]
    return load_json(cmd, args.timeout + 60)


def w1(args: argparse.Namespace, binary: str, h2: bool) -> dict:
    server = Server(binary)
    try:
        idle, slab0 = rss_bytes(server.proc.pid), slab_bytes()
        hold = max(3, args.duration + 2)
        cmd = [args.load, "subscribe", "--streams", str(args.w1), "--topics", "10",
               "--duration", str(hold), "--target", f"127.0.0.1:{server.port}", "--quiet"]
        if h2:
            cmd += ["--h2", "--streams-per-conn", str(args.streams_per_conn)]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(hold - 1)  # connected (a few hundred ms) and idle
        held, slab = rss_bytes(server.proc.pid), slab_bytes()
        proc.wait(timeout=hold + 60)
        # Both ends of every socket are on this machine: half the kernel's growth is the server's.
        kernel = (slab - slab0) / 2 / args.w1
        user = (held - idle) / args.w1
        return {"streams": args.w1, "rss_per_stream_b": round(user, 1),
                "kernel_per_stream_b": round(kernel, 1), "total_per_stream_b": round(user + kernel, 1)}
    finally:
        server.stop()


def w3(args: argparse.Namespace, binary: str, h2: bool, pipeline: int) -> dict:
    server = Server(binary)
    try:
        r = load(args, server.port,
                 ["run", "--streams", str(args.w3), "--topics", "1", "--burst", "--duration",
                  str(args.duration), "--pipeline", str(pipeline), "--publisher-thread",
                  "--timeout", str(args.timeout)], h2)
    finally:
        server.stop()
    lat = r.get("publish_latency_ms") or {}
    return {"deliveries_per_s": r.get("deliveries_per_s"), "lost": r.get("lost"),
            "completed": r.get("completed"), "ack_p50_ms": lat.get("p50"),
            "ack_p99_ms": lat.get("p99"), "published": r.get("events_published")}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ringcast", action="append", default=[],
                   help="LABEL=PATH[,h1] of a ringcast binary (repeatable; default "
                        "build/release/ringcast); ',h1': HTTP/1.1 only (a build before HTTP/2)")
    p.add_argument("--load", default=str(ROOT / "build/release/tools/load/ringcast-load"))
    p.add_argument("--w1", type=int, default=10000)
    p.add_argument("--w3", type=int, default=15000)
    p.add_argument("--streams-per-conn", type=int, default=100)
    p.add_argument("--pipeline", type=int, default=16)
    p.add_argument("--duration", type=int, default=5)
    p.add_argument("--timeout", type=int, default=120)
    p.add_argument("--out", default=str(ROOT / "build/bench-results/h2"))
    p.add_argument("--no-w3", action="store_true", help="W1 only")
    args = p.parse_args()
    builds = [b.split("=", 1) for b in args.ringcast] or [["ringcast", str(ROOT / "build/release/ringcast")]]
    rows = []
    for label, binary in builds:
        h1_only = binary.endswith(",h1")
        binary = binary.removesuffix(",h1")
        for proto, h2 in (("HTTP/1.1", False), ("HTTP/2", True))[: 1 if h1_only else 2]:
            skipped = {"deliveries_per_s": None, "lost": 0, "completed": True, "ack_p50_ms": None,
                       "ack_p99_ms": None, "published": 0}
            row = {"build": label, "protocol": proto, "w1": w1(args, binary, h2),
                   "w3_p1": skipped if args.no_w3 else w3(args, binary, h2, 1),
                   "w3_pipelined": skipped if args.no_w3 else w3(args, binary, h2, args.pipeline)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(rows, indent=1))
    lines = [f"| build | protocol | W1 server RSS / kernel B per stream ({args.w1}) | W3 p1 deliveries/s "
             f"| lost | ack p50/p99 ms | W3 p{args.pipeline} deliveries/s | lost | ack p50/p99 ms |",
             "|" + " --- |" * 9]
    def rate(w: dict) -> str:  # a run whose streams did not all get every event is marked
        text = f"{w['deliveries_per_s'] or 0:,.0f}"
        return text if w["completed"] else text + " (incomplete)"

    for r in rows:
        a, b = r["w3_p1"], r["w3_pipelined"]
        lines.append(f"| {r['build']} | {r['protocol']} | {r['w1']['rss_per_stream_b']:,} / "
                     f"{r['w1']['kernel_per_stream_b']:,} "
                     f"| {rate(a)} | {a['lost']} | {a['ack_p50_ms']}/{a['ack_p99_ms']} "
                     f"| {rate(b)} | {b['lost']} | {b['ack_p50_ms']}/{b['ack_p99_ms']} |")
    (out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    bad = [r for r in rows for k in ("w3_p1", "w3_pipelined") if r[k]["lost"] or not r[k]["completed"]]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
