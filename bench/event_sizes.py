#!/usr/bin/env python3
"""W3 (a burst to many subscribers) at several event sizes, for ringcast with copying sends,
ringcast with zero-copy sends (--send-zc-min-bytes), the epoll backend, nginx+nchan and the
Node server, in one run on this machine. The zero-copy crossover is read from this table.

    python3 bench/event_sizes.py                      # 2,000 streams; 128 B to 64 KiB events
    python3 bench/event_sizes.py --streams 200 --sizes 128,16384 --seconds 1   # CI smoke

Writes event_sizes.json and event_sizes.md into --out (default build/bench-results/sizes).
Reports what it measured (deliveries/s, payload MB/s, losses); asserts nothing about speed.
The exit status is non-zero only if a run could not be carried out or ringcast lost events.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare  # noqa: E402  (the servers, the load runner and the machine facts)


class RingcastFlags(compare.Ringcast):
    """ringcast (io_uring) with extra flags and its own name in the table."""

    def __init__(self, binary: Path, name: str, flags: list[str]):
        super().__init__(binary, "uring")
        self.name, self.flags = name, flags

    def start(self) -> None:
        self.port = compare.free_port()
        self.proc = subprocess.Popen(
            [str(self.binary), "--listen", f"127.0.0.1:{self.port}", "--shards", "2",
             "--log-level", "warn", "--max-streams", "1100000", *self.flags],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        compare.wait_healthy(self.port, self.proc)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--streams", type=int, default=2000)
    ap.add_argument("--sizes", default="128,1024,16384,65536", help="event payload bytes")
    ap.add_argument("--events", type=int, default=0,
                    help="a fixed burst of this many events per size (0: a timed burst, --seconds)")
    ap.add_argument("--seconds", type=int, default=3)
    ap.add_argument("--servers", default="ringcast,ringcast-zc,ringcast-epoll,nchan,node")
    ap.add_argument("--zc-min-bytes", type=int, default=1,
                    help="--send-zc-min-bytes of the ringcast-zc server (1: every send)")
    ap.add_argument("--ringcast-flags", default="",
                    help="extra flags for every ringcast server, e.g. '--shards 1'")
    ap.add_argument("--ringcast", default=str(compare.ROOT / "build/release/ringcast"))
    ap.add_argument("--load", default=str(compare.ROOT / "build/release/tools/load/ringcast-load"))
    ap.add_argument("--out", default=str(compare.ROOT / "build/bench-results/sizes"))
    args = ap.parse_args()

    sizes = [int(s) for s in args.sizes.split(",")]
    bench_args = argparse.Namespace(size="tiny", load=args.load, out=args.out)
    bench = compare.Bench(bench_args)
    rc = Path(args.ringcast)
    extra = args.ringcast_flags.split()
    makers = {
        "ringcast": lambda: RingcastFlags(rc, "ringcast", extra),
        "ringcast-zc": lambda: RingcastFlags(rc, "ringcast-zc",
                                             ["--send-zc-min-bytes", str(args.zc_min_bytes),
                                              *extra]),
        "ringcast-epoll": lambda: compare.Ringcast(rc, "epoll"),
        "nchan": compare.Nchan,
        "node": compare.NodeBroadcast,
    }
    results = {"machine": compare.machine(), "streams": args.streams, "sizes": sizes,
               "seconds": args.seconds, "events": args.events, "runs": {}}
    for name in args.servers.split(","):
        server = makers[name]()
        server.start()
        try:
            for size in sizes:
                # A timed burst measures how fast a server drains what it accepted; servers
                # accept very different amounts at large sizes (ringcast takes publishes at
                # once, the peers slow their publisher), so large events use a fixed burst.
                amount = (["--events", str(args.events)] if args.events
                          else ["--duration", str(args.seconds)])
                # Receive buffers sized to the events: with the default 2 KiB ones a fast
                # server exhausts the client's buffer ring (recv_nobufs) and the run measures
                # the client's retries, not the server.
                rbuf = min(65536, max(2048, size))
                r = bench.load_run(server, ["run", "--streams", str(args.streams), "--topics", "1",
                                            "--burst", *amount, "--pipeline", "16",
                                            "--event-bytes", str(size), "--timeout", "300",
                                            "--recv-buffer-bytes", str(rbuf),
                                            "--recv-buffers", "4096"],
                                   f"sizes-{size}")
                rate = r.get("deliveries_per_s", 0)
                results["runs"].setdefault(name, {})[str(size)] = {
                    "deliveries_per_s": rate, "payload_mb_per_s": round(rate * size / 1e6, 1),
                    "lost": r.get("lost", -1), "server_cpu_s": r["server"]["cpu_s"],
                    "client_recv_nobufs": r.get("recv_nobufs", 0)}
                print(f"{name:15} {size:6} B  {rate:12,.0f} deliveries/s  "
                      f"{rate * size / 1e6:9.1f} MB/s  lost {r.get('lost', -1)}", flush=True)
        finally:
            server.stop()
    out = Path(args.out)
    (out / "event_sizes.json").write_text(json.dumps(results, indent=2))
    names = list(results["runs"])
    burst = f"{args.events} events" if args.events else f"{args.seconds} s"
    lines = [f"W3 burst, {args.streams} streams, one topic, {burst} per size; "
             f"deliveries/s (ratio to ringcast)", "",
             "| event bytes | " + " | ".join(names) + " |",
             "| --- |" + " --- |" * len(names)]
    for size in sizes:
        base = results["runs"].get("ringcast", {}).get(str(size), {}).get("deliveries_per_s") or 0
        cells = []
        for n in names:
            v = results["runs"][n].get(str(size), {}).get("deliveries_per_s", 0)
            cells.append(f"{v:,.0f}" + (f" ({v / base:.2f}x)" if base and n != "ringcast" else ""))
        lines.append(f"| {size} | " + " | ".join(cells) + " |")
    (out / "event_sizes.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    bad = [f for f in bench.failures if not f.startswith("ringcast-zc ")]
    for n, runs in results["runs"].items():
        for size, r in runs.items():
            # Copying sends must keep up; zero-copy is an experiment whose losses (a burst
            # overrunning the history) are a result to report, not a failure.
            if n in ("ringcast", "ringcast-epoll") and r["lost"] != 0:
                bad.append(f"{n} {size} B: lost {r['lost']}")
    for f in bad:
        print("FAILED:", f, file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
