#!/usr/bin/env python3
"""A million EventSources over HTTP/2 (issue #18), on this machine, in one invocation.

Against a fresh `ringcast --shards 2 --max-streams 1.1N` each time:

  1. density: `ringcast-load subscribe` holds --streams N over HTTP/2, --streams-per-conn S to a
     connection; once the server counts all N streams the server's RSS growth over its idle
     RSS is divided by N (everything the server holds for them: records, sessions, buffers);
  2. broadcast: `ringcast-load run --events 1` opens the same N streams and publishes one event;
     the time from the publish to the first and to the last delivery, 0 lost.

Nothing here asserts a timing; the exit status is non-zero only if a run could not be carried
out or lost events.

    python3 bench/h2_million.py                             # 1,000,000 streams, 100 per connection
    python3 bench/h2_million.py --streams 2000 --timeout 60 # what CI runs
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def streams_open(port: int) -> int:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return sum(int(float(line.split()[-1])) for line in text.splitlines()
               if line.startswith("ringcast_streams{"))


class Server:
    def __init__(self, binary: str, streams: int) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [binary, "--listen", f"127.0.0.1:{self.port}", "--shards", "2",
             "--max-streams", str(int(streams * 1.1) + 1000), "--log-level", "warn"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError(f"{binary} did not start")
        time.sleep(0.5)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def load_cmd(args: argparse.Namespace, port: int, *mode: str) -> list[str]:
    return [args.load, *mode, "--streams", str(args.streams), "--target", f"127.0.0.1:{port}",
            "--h2", "--streams-per-conn", str(args.streams_per_conn), "--threads", "2",
            "--timeout", str(args.timeout), "--quiet"]


def density(args: argparse.Namespace) -> dict:
    server = Server(args.ringcast, args.streams)
    try:
        idle = rss_bytes(server.proc.pid)
        proc = subprocess.Popen(load_cmd(args, server.port, "subscribe", "--topics", "10",
                                         "--duration", str(args.timeout)),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started = time.time()
        while time.time() - started < args.timeout and streams_open(server.port) < args.streams:
            if proc.poll() is not None:
                raise RuntimeError("the load generator stopped before every stream was open")
            time.sleep(0.25)
        connected_s = time.time() - started
        held = streams_open(server.port)
        time.sleep(2)  # idle: the connect burst's sends have completed
        rss = rss_bytes(server.proc.pid)
        proc.terminate()
        proc.wait(timeout=60)
        return {"streams": held, "connected_s": round(connected_s, 2), "server_rss_bytes": rss,
                "rss_per_stream_b": round((rss - idle) / max(held, 1), 1)}
    finally:
        server.stop()


def broadcast(args: argparse.Namespace) -> dict:
    server = Server(args.ringcast, args.streams)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "run.json")
            subprocess.run(load_cmd(args, server.port, "run", "--topics", "1", "--events", "1",
                                    "--burst", "--json", out),
                           timeout=args.timeout + 120, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            r = json.loads(Path(out).read_text())
        first = (r.get("time_to_first_delivery_us") or {}).get("max")
        last = (r.get("time_to_last_delivery_us") or {}).get("max")
        return {"completed": r["completed"], "delivered": r["deliveries_received"],
                "lost": r["lost"], "duplicates": r["duplicates"],
                "first_delivery_ms": None if first is None else round(first / 1000, 1),
                "last_delivery_ms": None if last is None else round(last / 1000, 1),
                "first_to_last_ms": None if first is None or last is None
                else round((last - first) / 1000, 1),
                "publish_ack_ms": (r.get("publish_latency_ms") or {}).get("p50")}
    finally:
        server.stop()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ringcast", default=str(ROOT / "build/release/ringcast"))
    p.add_argument("--load", default=str(ROOT / "build/release/tools/load/ringcast-load"))
    p.add_argument("--streams", type=int, default=1_000_000)
    p.add_argument("--streams-per-conn", type=int, default=100)
    p.add_argument("--timeout", type=int, default=300)
    args = p.parse_args()
    result = {"ringcast": args.ringcast, "streams_per_conn": args.streams_per_conn,
              "density": density(args), "broadcast": broadcast(args)}
    print(json.dumps(result))
    d, b = result["density"], result["broadcast"]
    print(f"{d['streams']:,} HTTP/2 streams ({args.streams_per_conn} per connection) connected in "
          f"{d['connected_s']} s; server RSS {d['server_rss_bytes'] / 2**20:,.0f} MiB, "
          f"{d['rss_per_stream_b']:,.0f} B per stream")
    print(f"one broadcast: {b['delivered']:,} delivered, {b['lost']} lost; first after "
          f"{b['first_delivery_ms']} ms, last after {b['last_delivery_ms']} ms "
          f"(first to last {b['first_to_last_ms']} ms); publish answered in {b['publish_ack_ms']} ms")
    ok = b["completed"] and b["lost"] == 0 and d["streams"] >= args.streams
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
