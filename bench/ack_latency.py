#!/usr/bin/env python3
"""Publish ack latency during a fan-out, measured by a publisher that is nothing else.

A backend publishes the way `requests`, `fetch` or curl do: one keep-alive connection, one
request at a time. This starts ringcast (2 shards), holds N subscribers of one topic with
`ringcast-load subscribe` (a separate process on the same cores), then publishes P events
back to back from this process, one in flight, and times each from the request's write to
its complete answer. Every publish starts a fan-out to the N streams, so every ack after the
first is answered while a broadcast is in progress.

    python3 bench/ack_latency.py --streams 15000 --pass-sends 1024,32 --repeat 2

Prints one line per run (p50/p90/p99/max over the publishes after the first --warmup) and
writes them as JSON with --json FILE. Nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port: int, path: str) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n".encode())
        data = b""
        for _ in range(100_000):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return data.decode("utf-8", "replace")


def streams_open(port: int) -> float:
    text = get(port, "/metrics")
    return sum(float(v) for v in re.findall(r"^ringcast_streams(?:\{[^}]*\})? (\S+)$", text, re.M))


def publish_loop(port: int, topic: str, count: int, body: bytes) -> list[float]:
    request = (f"POST /pub/{topic} HTTP/1.1\r\nHost: bench\r\nContent-Length: {len(body)}\r\n\r\n"
               .encode() + body)
    latencies = []
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(count):
            start = time.perf_counter()
            s.sendall(request)
            answer = b""
            for _ in range(10_000):  # one small JSON answer: a few reads at most
                head_end = answer.find(b"\r\n\r\n")
                if head_end >= 0:
                    m = re.search(rb"Content-Length: (\d+)", answer[:head_end])
                    if m and len(answer) >= head_end + 4 + int(m.group(1)):
                        break
                chunk = s.recv(65536)
                if not chunk:
                    raise RuntimeError("server closed the publisher's connection")
                answer += chunk
            if not answer.startswith(b"HTTP/1.1 202"):
                raise RuntimeError(f"publish refused: {answer[:200]!r}")
            latencies.append((time.perf_counter() - start) * 1000)
    return latencies


def quantile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def run(args, pass_sends: int) -> dict:
    port = free_port()
    server = subprocess.Popen([args.ringcast, "--listen", f"127.0.0.1:{port}", "--shards", "2",
                               "--pass-sends", str(pass_sends)], stderr=subprocess.DEVNULL)
    load = None
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        load = subprocess.Popen([args.load, "subscribe", "--target", f"127.0.0.1:{port}",
                                 "--streams", str(args.streams), "--topics", "1",
                                 "--duration", "120", "--quiet"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while streams_open(port) < args.streams:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{args.streams} streams did not open within 60 s")
            time.sleep(0.1)
        lat = publish_loop(port, "t0", args.publishes + args.warmup, b"x" * args.event_bytes)
        kept = sorted(lat[args.warmup:])
        return {"pass_sends": pass_sends, "streams": args.streams, "publishes": len(kept),
                "p50_ms": quantile(kept, 0.5), "p90_ms": quantile(kept, 0.9),
                "p99_ms": quantile(kept, 0.99), "max_ms": kept[-1]}
    finally:
        if load is not None:
            load.kill()
            load.wait()
        server.terminate()
        server.wait(timeout=30)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--streams", type=int, default=15000)
    p.add_argument("--publishes", type=int, default=300)
    p.add_argument("--warmup", type=int, default=20, help="first publishes left out (fresh sockets)")
    p.add_argument("--event-bytes", type=int, default=64)
    p.add_argument("--pass-sends", default="1024,32", help="comma list: server --pass-sends values")
    p.add_argument("--repeat", type=int, default=1, help="runs of each value, alternated")
    p.add_argument("--ringcast", default=str(ROOT / "build/release/ringcast"))
    p.add_argument("--load", default=str(ROOT / "build/release/tools/load/ringcast-load"))
    p.add_argument("--json", help="write the results here")
    args = p.parse_args()
    results = []
    for _ in range(args.repeat):
        for value in [int(v) for v in args.pass_sends.split(",")]:
            r = run(args, value)
            results.append(r)
            print(f"pass-sends {r['pass_sends']:>5}  {r['streams']} subscribers  {r['publishes']} publishes: "
                  f"p50 {r['p50_ms']:.2f} ms  p90 {r['p90_ms']:.2f}  p99 {r['p99_ms']:.2f}  max {r['max_ms']:.2f}",
                  flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
