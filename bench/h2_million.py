#!/usr/bin/env python3
"""A million EventSources over HTTP/2 (issue #18), on this machine, in one invocation.

Against a fresh `ringcast --shards 2 --max-streams 1.1N` each time:

  1. density: `ringcast-load subscribe` holds --streams N over HTTP/2, --streams-per-conn S to a
     connection; once the server counts all N streams the server's RSS growth over its idle
     RSS is divided by N (everything the server holds for them: records, sessions, buffers);
  2. broadcast: `ringcast-load run --events 1` opens the same N streams and publishes one event;
     the time from the publish to the first and to the last delivery, 0 lost.

With --curve N1,N2,... only the density is measured, at each size, for HTTP/1.1, HTTP/2 and
(with --tls) both over TLS, and written as CSV (--csv) and a plot (--png, gnuplot); --plot CSV
only draws the plot of an earlier run.

Nothing here asserts a timing; the exit status is non-zero only if a run could not be carried
out or lost events.

    python3 bench/h2_million.py                             # 1,000,000 streams, 100 per connection
    python3 bench/h2_million.py --streams 2000 --timeout 60 # what CI runs
    python3 bench/h2_million.py --curve 10000,100000,1000000 --tls \
        --csv docs/perf/h2_density.csv --png docs/perf/h2_density.png
"""
import argparse
import json
import os
import shutil
import socket
import ssl
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


def slab_bytes() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("Slab:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no Slab in /proc/meminfo")


def streams_open(port: int, tls: bool = False) -> int:
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        text = urllib.request.urlopen(f"https://127.0.0.1:{port}/metrics", timeout=5,
                                      context=ctx).read().decode()
    else:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return sum(int(float(line.split()[-1])) for line in text.splitlines()
               if line.startswith("ringcast_streams{"))


CERT_DIR = None  # a self-signed P-256 certificate, made once per invocation for --tls


def certificate() -> tuple[str, str]:
    global CERT_DIR
    if CERT_DIR is None:
        CERT_DIR = tempfile.mkdtemp(prefix="h2m-cert-")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-keyout", f"{CERT_DIR}/k.pem", "-out",
                        f"{CERT_DIR}/c.pem", "-days", "2", "-nodes", "-subj", "/CN=localhost"],
                       check=True, capture_output=True, timeout=60)
    return f"{CERT_DIR}/c.pem", f"{CERT_DIR}/k.pem"


class Server:
    """ringcast --shards 2 on a free loopback port; with streams > 0, --max-streams room for them."""

    def __init__(self, binary: str, streams: int = 0, tls: bool = False, extra: str = "") -> None:
        self.port = free_port()
        self.tls = tls
        argv = [binary, "--listen", f"127.0.0.1:{self.port}", "--shards", "2", "--log-level", "warn"]
        if streams > 0:
            argv += ["--max-streams", str(int(streams * 1.1) + 1000)]
        if tls:
            cert, key = certificate()
            argv += ["--tls-cert", cert, "--tls-key", key]
        argv += extra.split()
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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


def load_cmd(args: argparse.Namespace, port: int, *mode: str, streams: int = 0,
             h2: bool = True, tls: bool = False) -> list[str]:
    cmd = [args.load, *mode, "--streams", str(streams or args.streams), "--target",
           f"127.0.0.1:{port}", "--threads", "2", "--timeout", str(args.timeout), "--quiet"]
    if h2:
        cmd += ["--h2", "--streams-per-conn", str(args.streams_per_conn)]
    if tls:
        cmd += ["--tls", "--tls-insecure"]
    return cmd


def density(args: argparse.Namespace, streams: int = 0, h2: bool = True, tls: bool = False) -> dict:
    streams = streams or args.streams
    server = Server(args.ringcast, streams, tls, args.server_args)
    try:
        idle, slab0 = rss_bytes(server.proc.pid), slab_bytes()
        proc = subprocess.Popen(load_cmd(args, server.port, "subscribe", "--topics", "10",
                                         "--duration", str(args.timeout), "--ramp", str(args.ramp),
                                         streams=streams, h2=h2, tls=tls),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started = time.time()
        while time.time() - started < args.timeout and streams_open(server.port, tls) < streams:
            if proc.poll() is not None:
                raise RuntimeError("the load generator stopped before every stream was open")
            time.sleep(0.25)
        connected_s = time.time() - started
        held = streams_open(server.port, tls)
        time.sleep(2)  # idle: the connect burst's sends have completed
        rss, slab = rss_bytes(server.proc.pid), slab_bytes()
        proc.terminate()
        proc.wait(timeout=60)
        # Both ends of every socket are on this machine: half the kernel's growth is the server's.
        return {"streams": held, "connected_s": round(connected_s, 2), "server_rss_bytes": rss,
                "rss_per_stream_b": round((rss - idle) / max(held, 1), 1),
                "kernel_per_stream_b": round((slab - slab0) / 2 / max(held, 1), 1)}
    finally:
        server.stop()


def load_json(cmd: list[str], timeout: float) -> dict:
    """Runs ringcast-load `cmd` (its --json report goes to a temporary file) and returns the report."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "run.json")
        subprocess.run([*cmd, "--json", out], timeout=timeout, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        return json.loads(Path(out).read_text())


def broadcast(args: argparse.Namespace) -> dict:
    server = Server(args.ringcast, args.streams, extra=args.server_args)
    try:
        r = load_json(load_cmd(args, server.port, "run", "--topics", "1", "--events", "1", "--burst"),
                      args.timeout + 120)
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


def plot(rows: list, png: str) -> None:
    """Server memory per idle stream against streams held, one line per protocol."""
    if shutil.which("gnuplot") is None:
        print("h2_million: gnuplot missing; no plot", file=sys.stderr)
        return
    with tempfile.TemporaryDirectory() as tmp:
        series = []
        for name in dict.fromkeys(r[0] for r in rows):
            dat = Path(tmp) / (name.replace("/", "").replace(" ", "_") + ".dat")
            mine = [r for r in rows if r[0] == name]
            kernel = all(r[4] is not None for r in mine)
            dat.write_text("".join(f"{r[1]} {r[3]} {r[3] + (r[4] or 0)}\n" for r in mine))
            if kernel:
                series.append(f"'{dat}' using 1:3 with linespoints lw 2 title '{name}: RSS + kernel'")
            series.append(f"'{dat}' using 1:2 with linespoints dt 2 title '{name}: RSS'")
        script = (f"set terminal pngcairo size 900,600 font ',11'; set output '{png}'; set grid; "
                  "set logscale xy; set xlabel 'idle streams held (HTTP/2: 100 per connection)'; "
                  "set ylabel 'bytes per stream'; set key outside right; "
                  "set title 'Server memory per idle stream: its RSS, and with its kernel socket memory'; "
                  f"plot {', '.join(series)}\n")
        subprocess.run(["gnuplot"], input=script, text=True, check=False, timeout=60)


def read_csv(path: str) -> list:
    lines = Path(path).read_text().splitlines()[1:]
    # A file written before the kernel column was measured has none: the plot shows RSS alone.
    return [(p[0], int(p[1]), int(p[2]), float(p[3]), float(p[4]) if len(p) > 4 else None)
            for p in (l.split(",") for l in lines if l)]


def curve(args: argparse.Namespace) -> int:
    """Density at each size of --curve: HTTP/1.1, HTTP/2 and, with --tls, both over TLS."""
    kinds = [("HTTP/1.1", False, False), ("HTTP/2", True, False)]
    if args.tls:
        kinds += [("HTTP/1.1 TLS", False, True), ("HTTP/2 TLS", True, True)]
    if args.h2_only:
        kinds = [k for k in kinds if k[1]]
    rows = []
    for n in [int(x) for x in args.curve.split(",")]:
        for name, h2, tls in kinds:
            if not h2 and n > args.max_sockets:
                print(f"{name} at {n:,}: skipped (a socket per stream; --max-sockets {args.max_sockets:,})")
                continue
            try:
                d = density(args, n, h2, tls)
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                print(f"{name} at {n:,}: not measured ({e})")
                continue
            rows.append((name, n, d["streams"], d["rss_per_stream_b"], d["kernel_per_stream_b"]))
            print(f"{name:13} {n:>9,} streams: {d['rss_per_stream_b']:>7,.0f} B RSS + "
                  f"{d['kernel_per_stream_b']:>7,.0f} B kernel per stream "
                  f"(held {d['streams']:,}, connected in {d['connected_s']} s)")
    if args.csv:
        with open(args.csv, "w") as f:
            f.write("protocol,streams,held,rss_per_stream_b,kernel_per_stream_b\n")
            for r in rows:
                f.write(",".join(str(x) for x in r) + "\n")
    if args.png and rows:
        plot(rows, args.png)
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ringcast", default=str(ROOT / "build/release/ringcast"))
    p.add_argument("--load", default=str(ROOT / "build/release/tools/load/ringcast-load"))
    p.add_argument("--streams", type=int, default=1_000_000)
    p.add_argument("--streams-per-conn", type=int, default=100)
    p.add_argument("--timeout", type=int, default=300)
    p.add_argument("--curve", help="N1,N2,...: density only, at each size, every protocol")
    p.add_argument("--tls", action="store_true", help="with --curve: over TLS too")
    p.add_argument("--h2-only", action="store_true", help="with --curve: HTTP/2 alone")
    p.add_argument("--ramp", type=int, default=0,
                   help="streams opened per second (0: all at once, the default)")
    p.add_argument("--max-sockets", type=int, default=100_000,
                   help="with --curve: HTTP/1.1 sizes above it are skipped (a socket each)")
    p.add_argument("--csv", help="with --curve: write the rows here")
    p.add_argument("--png", help="with --curve or --plot: draw the rows here (gnuplot)")
    p.add_argument("--plot", help="CSV of an earlier --curve run: only draw it (--png)")
    p.add_argument("--server-args", default="", help="more ringcast flags, e.g. '--recv-buffers 128'")
    args = p.parse_args()
    if args.plot:
        plot(read_csv(args.plot), args.png or "h2_density.png")
        return 0
    if args.curve:
        return curve(args)
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
