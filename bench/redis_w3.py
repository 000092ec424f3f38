#!/usr/bin/env python3
"""W3 (burst to many subscribers from one pipelined publisher) across two ringcast nodes
through Redis Streams, beside the single-node figure from the same run.

    python3 bench/redis_w3.py --size tiny     # seconds; so it cannot rot
    python3 bench/redis_w3.py --size small    # the figures in docs/perf/redis.md

Single node: `ringcast --shards 2`, subscribers and publisher on it (as in bench/compare.py).
Two nodes: `ringcast --shards 1 --redis ...` twice (the same two shards in all), every
subscriber on node B, the publisher on node A (`ringcast-load --pub-target`), so every event
goes A -> XADD -> Redis -> XREAD -> B. ringcast-load checks every delivery (none lost,
duplicated or reordered). A real redis-server runs on a free loopback port with no persistence.
Nothing asserts a timing; the exit status is non-zero only if a run lost events or failed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests/integration"))
from compare import ROOT, Bench, Ringcast, cpu_seconds, free_port, machine, wait_healthy  # noqa
from redis_peer import RedisServer  # noqa

# Extra flags for both cluster nodes (--node-flags): the stream and B's history must hold a
# whole burst, as the single node's history does (nothing paces the publisher to B's fan-out).
EXTRA: list[str] = []

SIZES = {"tiny": {"streams": 200, "events": 200, "repeat": 1},
         "small": {"streams": 15000, "events": 500, "repeat": 3}}


class RedisNode(Ringcast):
    def __init__(self, binary: Path, redis: str, name: str):
        super().__init__(binary, "uring")
        self.redis, self.name = redis, name

    def start(self) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [str(self.binary), "--listen", f"127.0.0.1:{self.port}", "--shards", "1",
             "--redis", self.redis, "--log-level", "warn", "--max-streams", "1100000",
             *EXTRA],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_healthy(self.port, self.proc)


def w3_argv(size: dict) -> list[str]:
    # A fixed burst (--events), not a timed one: in Redis mode a publish is acknowledged once
    # Redis holds it, before any node has fanned it out, so a timed burst measures how fast
    # Redis takes XADDs rather than deliveries (and overruns every history). A fixed burst
    # ends when every stream has every event: deliveries/s is then end to end.
    return ["run", "--streams", str(size["streams"]), "--topics", "1", "--burst", "--events",
            str(size["events"]), "--pipeline", "16", "--timeout", "300"]


def summary(r: dict, cpu: float) -> dict:
    return {"deliveries_per_s": r.get("deliveries_per_s", 0),
            "events_published": r.get("events_published", 0), "lost": r.get("lost", -1),
            "duplicates": r.get("duplicates", -1), "reordered": r.get("reordered", -1),
            "servers_cpu_s": round(cpu, 2)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", choices=SIZES, default="tiny")
    ap.add_argument("--bin", default=str(ROOT / "build/release/ringcast"))
    ap.add_argument("--load", default=str(ROOT / "build/release/tools/load/ringcast-load"))
    ap.add_argument("--out", default=None)
    ap.add_argument("--node-flags", default="",
                    help="extra flags for both cluster nodes, e.g. '--history 65536 --redis-maxlen 1000000'")
    args = ap.parse_args()
    EXTRA.extend(args.node_flags.split())
    size = SIZES[args.size]
    out = Path(args.out or ROOT / f"build/bench-results/redis-{args.size}")
    bench = Bench(argparse.Namespace(size="tiny", load=args.load, out=str(out)))
    results = {"machine": machine(), "size": args.size, "single": [], "two_nodes": []}
    for rep in range(size["repeat"]):
        one = Ringcast(Path(args.bin), "uring")
        one.start()
        try:
            r = bench.load_run(one, w3_argv(size), f"single-{rep}")
            results["single"].append(summary(r, r["server"]["cpu_s"]))
        finally:
            one.stop()
        redis = RedisServer().start()
        a, b = RedisNode(Path(args.bin), redis.address, "ringcast-a"), RedisNode(Path(args.bin), redis.address, "ringcast-b")
        a.start()
        b.start()
        try:
            pids = a.pids() + b.pids() + [redis.proc.pid]
            cpu0 = cpu_seconds(pids)
            r = bench.load_run(b, w3_argv(size) + ["--pub-target", f"127.0.0.1:{a.port}"],
                               f"two-nodes-{rep}")
            results["two_nodes"].append(summary(r, cpu_seconds(pids) - cpu0))
        finally:
            a.stop()
            b.stop()
            redis.cleanup()
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    for f in bench.failures:
        print("FAILED:", f, file=sys.stderr)
    bad = [r for k in ("single", "two_nodes") for r in results[k] if r["lost"] != 0]
    return 1 if bench.failures or bad else 0


if __name__ == "__main__":
    sys.exit(main())
