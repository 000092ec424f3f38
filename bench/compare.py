#!/usr/bin/env python3
"""The side-by-side benchmark: workloads W1-W5 of shared/BENCHMARKS.md against ringcast
(io_uring), ringcast --io epoll, nginx+nchan and the seed documents' Node broadcast server, all
driven by the same load generator (tools/load/ringcast-load) on this machine in one run, with
the kernel floor (bench/floor/kernel_floor) as the budget.

    python3 bench/compare.py --size tiny     # seconds; what CI runs so nothing rots
    python3 bench/compare.py --size small    # minutes; the README's figures
    python3 bench/compare.py --size full     # adds W1 at 100k and 1M streams (ringcast only
                                             # beyond what the peers can hold)
    python3 bench/compare.py --tls           # also W1 and W3 over TLS (ringcast, its epoll
                                             # backend, nginx+nchan with ssl), beside plain

Writes results.json, results.md and PNG plots (gnuplot) into --out (default
build/bench-results/<size>). Every figure is reported beside its peers from the same run, as a
ratio, with the median and spread over --repeat runs. Nothing here asserts a timing: the exit
status is non-zero only if a run could not be carried out or lost events.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------------------------------------
# Machine and process measurements
# ---------------------------------------------------------------------------------------------


def machine() -> dict:
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return {"cpus": os.cpu_count(), "cpu_model": model, "kernel": platform.release(),
            "memory_gib": round(mem_kb / 1048576, 1),
            "nofile": __import__("resource").getrlimit(__import__("resource").RLIMIT_NOFILE)[0],
            "date": time.strftime("%Y-%m-%d %H:%M:%S")}


def process_tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    for _ in range(1000):
        if not todo:
            break
        p = todo.pop()
        pids.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                pass
    return sorted(set(pids))


def rss_bytes(pids: list[int]) -> int:
    total = 0
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def cpu_seconds(pids: list[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
        except OSError:
            pass
    return total


def slab_bytes() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("Slab:"):
            return int(line.split()[1]) * 1024
    return 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(port: int, proc: subprocess.Popen, pki: "Pki | None" = None,
                 timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    scheme = "https" if pki else "http"
    ctx = ssl.create_default_context(cafile=pki.ca) if pki else None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{scheme}://127.0.0.1:{port}/healthz", timeout=1,
                                        context=ctx) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not become healthy")


def metric_sum(port: int, name: str, pki: "Pki | None" = None) -> float | None:
    """The sum over a ringcast metric's series (its shards), or None if /metrics failed."""
    scheme = "https" if pki else "http"
    ctx = ssl.create_default_context(cafile=pki.ca) if pki else None
    try:
        with urllib.request.urlopen(f"{scheme}://127.0.0.1:{port}/metrics", timeout=10,
                                    context=ctx) as r:
            text = r.read().decode()
    except OSError:
        return None
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and line[len(name):len(name) + 1] in (" ", "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


class Pki:
    """A throwaway CA and a server certificate it signed (localhost, 127.0.0.1), made with the
    `openssl` command line in a temporary directory. ECDSA P-256, as most TLS sites serve now:
    its signatures cost the server far less per handshake than RSA-2048's."""

    EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="ringcast-bench-pki-"))
        self.openssl("req", "-x509", *self.EC, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
                     "-subj", "/CN=ringcast bench CA", "-addext", "basicConstraints=critical,CA:TRUE",
                     "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        self.openssl("req", *self.EC, "-keyout", "server.key", "-out", "server.csr", "-subj",
                     "/CN=localhost")
        (self.dir / "server.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                                             "extendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n")
        self.openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                     "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "server.ext")
        self.ca, self.cert, self.key = (str(self.dir / n) for n in ("ca.pem", "server.pem", "server.key"))

    def openssl(self, *args: str) -> None:
        subprocess.run(["openssl", *args], cwd=self.dir, check=True, capture_output=True, timeout=60)

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Servers under test
# ---------------------------------------------------------------------------------------------


class Server:
    name = "?"
    ids = "ringcast"   # how the load generator treats ids
    capacity = 10**9   # streams it can hold on this box (fd limits)
    speaks_tls = False  # can serve HTTPS here (--tls runs)
    tls: Pki | None = None  # set: the next start() serves HTTPS with this certificate

    def start(self) -> None: ...

    def stop(self) -> None:
        self.terminate(signal.SIGTERM)

    def terminate(self, sig: int) -> None:
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def pids(self) -> list[int]:
        return process_tree(self.proc.pid)


class Ringcast(Server):
    speaks_tls = True

    def __init__(self, binary: Path, io: str):
        self.binary, self.io = binary, io
        self.name = "ringcast" if io == "uring" else "ringcast-epoll"
        if io == "epoll":
            self.capacity = 18000  # the process fd table, shared by the shards

    def start(self) -> None:
        self.port = free_port()
        tls = ["--tls-cert", self.tls.cert, "--tls-key", self.tls.key] if self.tls else []
        self.proc = subprocess.Popen(
            [str(self.binary), "--listen", f"127.0.0.1:{self.port}", "--shards", "2", "--io",
             self.io, "--log-level", "warn", "--max-streams", "1100000", *tls],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_healthy(self.port, self.proc, self.tls)


class Nchan(Server):
    name = "nchan"
    ids = "opaque"
    speaks_tls = True
    capacity = 36000  # 2 workers x worker_rlimit_nofile 20000, less listeners and spare

    def start(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="ringcast-nchan-"))
        conf = (ROOT / "bench/peers/nchan.conf.in").read_text()
        conf = conf.replace("@DIR@", str(self.dir)).replace("@PORT@", str(self.port))
        conf = conf.replace("load_module modules/ngx_nchan_module.so;",
                            "load_module /usr/lib/nginx/modules/ngx_nchan_module.so;")
        if self.tls:
            # nginx's own TLS (nginx-light has the ssl module): the same versions, ALPN and
            # session tickets as ringcast's.
            listen = f"listen 127.0.0.1:{self.port} reuseport backlog=4096;"
            assert listen in conf
            conf = conf.replace(listen, (
                f"listen 127.0.0.1:{self.port} ssl reuseport backlog=4096;\n"
                f"    ssl_certificate {self.tls.cert};\n    ssl_certificate_key {self.tls.key};\n"
                "    ssl_protocols TLSv1.2 TLSv1.3;\n    ssl_session_tickets on;"))
        (self.dir / "nginx.conf").write_text(conf)
        self.proc = subprocess.Popen(
            ["nginx", "-c", str(self.dir / "nginx.conf"), "-p", str(self.dir), "-g", "daemon off;"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_healthy(self.port, self.proc, self.tls)

    def stop(self) -> None:
        self.terminate(signal.SIGQUIT)  # nginx's graceful stop
        shutil.rmtree(self.dir, ignore_errors=True)


class NodeBroadcast(Server):
    name = "node"
    capacity = 19000  # one process: RLIMIT_NOFILE

    def start(self) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            ["node", str(ROOT / "bench/peers/node_broadcast.mjs"), "--port", str(self.port)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_healthy(self.port, self.proc)


# ---------------------------------------------------------------------------------------------
# Workloads
# ---------------------------------------------------------------------------------------------

SIZES = {
    "tiny": {"w1": [200], "w2": [200], "w2_events": 3, "w2_rate": 5, "w3_streams": 200,
             "w3_seconds": 1, "w4_streams": 200, "w5_topics": 50, "w5_events": 5,
             "w5_rate": 500, "repeat": 1, "floor_streams": 200, "tls_w1": [200]},
    "small": {"w1": [10000], "w2": [1000, 15000], "w2_events": 9, "w2_rate": 2,
              "w3_streams": 15000, "w3_seconds": 5, "w4_streams": 10000, "w5_topics": 1000,
              "w5_events": 20, "w5_rate": 5000, "repeat": 3, "floor_streams": 15000,
              "tls_w1": [10000]},
    "full": {"w1": [10000, 100000, 1000000], "w2": [1000, 15000, 100000], "w2_events": 10,
             "w2_rate": 1, "w3_streams": 15000, "w3_seconds": 10, "w4_streams": 10000,
             "w5_topics": 10000, "w5_events": 10, "w5_rate": 10000, "repeat": 3,
             "floor_streams": 15000, "tls_w1": [10000, 100000]},
}


class Bench:
    def __init__(self, args):
        self.args = args
        self.size = SIZES[args.size]
        self.load = Path(args.load)
        self.out = Path(args.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.failures: list[str] = []
        self.floors: dict[str, list[dict]] = {}  # N -> the floor taken before each W2 at N

    def load_run(self, server: Server, argv: list[str], tag: str, timeout: float = 900) -> dict:
        if server.tls:
            tag = f"tls-{tag}"
            argv = [*argv, "--tls", "--tls-ca", server.tls.ca]
        report = self.out / f"load-{server.name}-{tag}.json"
        cmd = [str(self.load), *argv, "--target", f"127.0.0.1:{server.port}", "--json",
               str(report), "--quiet", "--ids", server.ids]
        pids = server.pids()
        ringcast = server.name.startswith("ringcast")
        ser0 = metric_sum(server.port, "ringcast_serializations_total", server.tls) if ringcast else None
        ovf0 = metric_sum(server.port, "ringcast_cq_overflows_total", server.tls) if ringcast else None
        cpu0, rss0, slab0 = cpu_seconds(pids), rss_bytes(pids), slab_bytes()
        peak_rss, peak_slab = rss0, slab0
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + timeout
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.25)
            peak_rss = max(peak_rss, rss_bytes(server.pids()))
            peak_slab = max(peak_slab, slab_bytes())
        if proc.poll() is None:
            proc.kill()
        err = proc.stderr.read()
        proc.wait()
        cpu1 = cpu_seconds(server.pids())
        result = json.loads(report.read_text()) if report.exists() else {}
        result["server"] = {"cpu_s": round(cpu1 - cpu0, 3), "rss_before": rss0,
                            "rss_peak": peak_rss, "slab_before": slab0, "slab_peak": peak_slab}
        result["exit"] = proc.returncode
        if ringcast and ser0 is not None:
            # One serialization per published event, whatever the number of streams.
            ser1 = metric_sum(server.port, "ringcast_serializations_total", server.tls)
            result["serializations"] = None if ser1 is None else int(ser1 - ser0)
            # The metric is copied from the rings each tick (250 ms): wait one out first.
            time.sleep(0.3)
            ovf1 = metric_sum(server.port, "ringcast_cq_overflows_total", server.tls)
            result["cq_overflows"] = None if ovf1 is None or ovf0 is None else int(ovf1 - ovf0)
            published = result.get("events_published", 0)
            if result["serializations"] != published:
                self.failures.append(f"{server.name} {tag}: {result['serializations']} serializations "
                                     f"for {published} events published")
        # ringcast must complete every run with nothing lost; a peer's losses (the Node server
        # has no replay, so a reconnect storm loses events) are reported, not failures.
        if proc.returncode != 0 and (server.name.startswith("ringcast") or not report.exists()):
            self.failures.append(f"{server.name} {tag}: exit {proc.returncode}: {err[-400:]}")
        return result

    # W1: density. Hold N idle streams; memory per stream (user, kernel) and connect rate.
    def w1(self, server: Server, n: int) -> dict:
        # --timeout: TLS handshakes connect ~1,000 streams/s on this box (100k take minutes).
        r = self.load_run(server, ["subscribe", "--streams", str(n), "--duration", "2",
                                   "--threads", "2" if n > 50000 else "1", "--timeout", "900"],
                          f"w1-{n}")
        s = r["server"]
        held = r.get("streams_connected", 0) or 1
        return {"streams": r.get("streams_connected", 0),
                "user_bytes_per_stream": (s["rss_peak"] - s["rss_before"]) / held,
                # Both ends of every connection live on this box: half the growth per pair.
                "kernel_bytes_per_socket": (s["slab_peak"] - s["slab_before"]) / held / 2,
                "connect_rate": r.get("connect_rate", 0),
                # The load generator's own peak RSS (its rings and buffers included) per stream.
                "client_bytes_per_stream": r.get("max_rss_bytes", 0) / held,
                "tls": r.get("tls")}

    # W2: single-event fan-out, one event per interval; latency and time to the last subscriber.
    # The kernel floor for the same N is measured right before, so the ratio compares two
    # figures taken a few seconds apart on this (noisy, shared) box, not minutes apart.
    def w2(self, server: Server, n: int) -> dict:
        floor = self.floor_at(n)
        # One broadcast at a time: events at least three floor-times apart, so that a fan-out
        # never overlaps the next one (at 100,000 streams one takes most of a second).
        rate = self.size["w2_rate"]
        if floor:
            rate = min(rate, round(1e6 / (3 * floor["time_us"]), 2))
        r = self.load_run(server, ["run", "--streams", str(n), "--topics", "1", "--rate",
                                   str(rate), "--events",
                                   str(self.size["w2_events"]), "--timeout", "300"], f"w2-{n}")
        lat = r.get("latency_us", {})
        last = r.get("time_to_last_delivery_us", {})
        last_p50 = last.get("p50")
        return {"streams": n, "p50_us": lat.get("p50"), "p99_us": lat.get("p99"),
                "max_us": lat.get("max"), "last_delivery_p50_us": last_p50,
                "lost": r.get("lost", -1), "server_cpu_s": r["server"]["cpu_s"],
                "rate": rate, "floor_us": floor["time_us"] if floor else None,
                "events_published": r.get("events_published"), "serializations": r.get("serializations"),
                "cq_overflows": r.get("cq_overflows"),
                "floor_method": floor["method"] if floor else None,
                "vs_floor": last_p50 / floor["time_us"] if floor and last_p50 else None}

    def floor_at(self, n: int) -> dict | None:
        """The kernel's time for n small sends: the fastest of the floor's methods (median)."""
        report = self.out / f"kernel_floor-{n}.json"
        rounds = "3" if self.args.size == "tiny" else "5"
        proc = subprocess.run([self.args.floor, "--streams", str(n), "--rounds", rounds, "--json",
                               str(report)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True, timeout=900)
        if proc.returncode != 0:
            # Exit 2: an N this floor cannot measure here (flags or limits); 1: a failed run.
            note = f"kernel_floor --streams {n}: exit {proc.returncode}: {proc.stderr.strip()[-300:]}"
            if proc.returncode != 2:
                self.failures.append(note)
            print(f"compare: {note}", file=sys.stderr)
            return None
        best = best_floor_method(json.loads(report.read_text()))
        self.floors.setdefault(str(n), []).append(best)
        return best

    # W3: burst to many subscribers from one pipelined publisher; delivered events/s, checked.
    def w3(self, server: Server) -> dict:
        n = min(self.size["w3_streams"], server.capacity)
        r = self.load_run(server, ["run", "--streams", str(n), "--topics", "1", "--burst",
                                   "--duration", str(self.size["w3_seconds"]), "--pipeline", "16",
                                   "--timeout", "300"], "w3")
        return {"streams": n, "deliveries_per_s": r.get("deliveries_per_s", 0),
                "events_published": r.get("events_published", 0),
                "serializations": r.get("serializations"), "cq_overflows": r.get("cq_overflows"),
                "lost": r.get("lost", -1),
                "duplicates": r.get("duplicates", -1), "reordered": r.get("reordered", -1),
                "server_cpu_s": r["server"]["cpu_s"], "load_cpu": r.get("cpu")}

    # W4: reconnect storm with Last-Event-ID while publishing continues.
    def w4(self, server: Server) -> dict:
        n = min(self.size["w4_streams"], server.capacity)
        r = self.load_run(server, ["storm", "--streams", str(n), "--drop", str(n // 2),
                                   "--topics", "10", "--rate", "1000"], "w4")
        storm = r.get("storm", {})
        return {"streams": n, "dropped": storm.get("dropped"),
                "time_to_all_resumed_s": storm.get("time_to_all_resumed_s"),
                "lost": r.get("lost", -1), "duplicates": r.get("duplicates", -1),
                "gap_events": r.get("gap_events", 0)}

    # W5: many topics x 10 subscribers each, publish rate R.
    def w5(self, server: Server) -> dict:
        topics = self.size["w5_topics"]
        n = min(topics * 10, server.capacity)
        topics = n // 10
        r = self.load_run(server, ["run", "--streams", str(n), "--topics", str(topics),
                                   "--publishers", "16", "--rate", str(self.size["w5_rate"]),
                                   "--events", str(self.size["w5_events"]), "--timeout", "300"],
                          "w5")
        lat = r.get("latency_us", {})
        return {"streams": n, "topics": topics, "deliveries_per_s": r.get("deliveries_per_s", 0),
                "p99_us": lat.get("p99"), "lost": r.get("lost", -1)}

    def floor(self) -> dict:
        report = self.out / "kernel_floor.json"
        subprocess.run([self.args.floor, "--streams", str(self.size["floor_streams"]), "--rounds", "5",
                        "--json", str(report)], check=True, stdout=subprocess.DEVNULL)
        return json.loads(report.read_text())

    # W1 and W3 again with the server serving HTTPS and the load generator speaking TLS.
    def tls_pass(self, server: Server) -> dict:
        out = {"w1": []}
        for n in self.size["tls_w1"]:
            if n <= server.capacity:
                server.start()
                try:
                    out["w1"].append(self.w1(server, n))
                finally:
                    server.stop()
        server.start()
        try:
            out["w3"] = self.w3(server)
        finally:
            server.stop()
        return out

    def run(self) -> dict:
        servers = []
        for name in self.args.servers.split(","):
            if name == "ringcast":
                servers.append(Ringcast(Path(self.args.ringcast), "uring"))
            elif name == "ringcast-epoll":
                servers.append(Ringcast(Path(self.args.ringcast), "epoll"))
            elif name == "nchan":
                servers.append(Nchan())
            elif name == "node":
                servers.append(NodeBroadcast())
        results = {"machine": machine(), "size": self.args.size, "floor": self.floor(),
                   "servers": {}}
        for server in servers:
            runs = []
            for rep in range(self.size["repeat"]):
                runs.append(self.one_pass(server))
                print(f"compare: {server.name} pass {rep + 1} done", file=sys.stderr)
            results["servers"][server.name] = runs
        if self.args.tls:
            pki = Pki()
            results["tls"] = {}
            try:
                for server in servers:
                    if not server.speaks_tls:
                        continue
                    server.tls = pki
                    runs = []
                    for rep in range(self.size["repeat"]):
                        runs.append(self.tls_pass(server))
                        print(f"compare: {server.name} TLS pass {rep + 1} done", file=sys.stderr)
                    server.tls = None
                    results["tls"][server.name] = runs
            finally:
                pki.remove()
        results["w2_floors"] = self.floors
        return results

    def one_pass(self, server: Server) -> dict:
        out = {"w1": [], "w2": []}
        wanted = self.args.workloads.split(",")
        for n in self.size["w1"] if "w1" in wanted else []:
            if n <= server.capacity:
                server.start()
                try:
                    out["w1"].append(self.w1(server, n))
                finally:
                    server.stop()
        if not {"w2", "w3", "w4", "w5"} & set(wanted):
            return out
        server.start()
        try:
            for n in self.size["w2"] if "w2" in wanted else []:
                if n <= server.capacity:
                    out["w2"].append(self.w2(server, n))
            for name in ("w3", "w4", "w5"):
                if name in wanted:
                    out[name] = getattr(self, name)(server)
        finally:
            server.stop()
        return out


# ---------------------------------------------------------------------------------------------
# Summaries: medians and spread, ratios, markdown, plots
# ---------------------------------------------------------------------------------------------


def best_floor_method(floor: dict) -> dict | None:
    """The fastest way the kernel_floor report found to make N sends (median time of its
    rounds): the budget W2 is held to is the kernel's best, whatever IO interface gets it."""
    best = None
    for name, m in floor.get("methods", {}).items():
        if not m.get("measured", True) or not m.get("time_us", {}).get("median"):
            continue
        if best is None or m["time_us"]["median"] < best["time_us"]:
            best = {"method": name, "time_us": m["time_us"]["median"],
                    "ns_per_send": m.get("ns_per_send_median"),
                    "streams": floor.get("options", {}).get("streams")}
    return best


def spread(values: list[float]) -> tuple[float, float, float]:
    values = [v for v in values if v is not None]
    if not values:
        return (float("nan"),) * 3
    return statistics.median(values), min(values), max(values)


def fmt(v: float, digits: int = 0) -> str:
    if v != v:  # NaN
        return "-"
    return f"{v:,.{digits}f}"


def cell(values: list[float], digits: int = 0) -> str:
    med, lo, hi = spread(values)
    if len(values) > 1:
        return f"{fmt(med, digits)} ({fmt(lo, digits)}–{fmt(hi, digits)})"
    return fmt(med, digits)


def ratio_cell(values: list[float]) -> str:
    med, lo, hi = spread(values)
    return f"{med:.2f}× ({lo:.2f}–{hi:.2f}×)" if len(values) > 1 else f"{med:.2f}×"


def summarize(results: dict) -> tuple[str, dict]:
    servers = results["servers"]
    names = list(servers)
    floor_best = best_floor_method(results["floor"])
    lines = [f"# ringcast benchmark ({results['size']})", "",
             "Machine: {cpus} CPUs ({cpu_model}), {memory_gib} GiB, Linux {kernel}, "
             "RLIMIT_NOFILE {nofile}; {date}.".format(**results["machine"]), "",
             "Each cell: median (min–max) over the repeated passes. Ratios compare medians "
             "from this same run.", ""]
    summary = {}

    def col(workload, key, n=None):
        out = {}
        for name in names:
            vals = []
            for run in servers[name]:
                w = run.get(workload)
                if isinstance(w, list):
                    w = next((x for x in w if x.get("streams") == n), None)
                if w:
                    vals.append(w.get(key))
            out[name] = vals
        return out

    # W1
    w1_counts = sorted({w["streams"] for r in servers.values() for p in r for w in p["w1"]})
    if w1_counts:
        lines += ["## W1: density (idle streams held)", "",
                  "| server | streams | user bytes / stream | kernel bytes / socket | connects/s |",
                  "| --- | --- | --- | --- | --- |"]
    for n in w1_counts:
        ub, kb, cr = col("w1", "user_bytes_per_stream", n), col("w1", "kernel_bytes_per_socket", n), \
            col("w1", "connect_rate", n)
        for name in names:
            if ub[name]:
                lines.append(f"| {name} | {fmt(n)} | {cell(ub[name])} | {cell(kb[name])} | "
                             f"{cell(cr[name])} |")
                summary.setdefault("w1", {}).setdefault(name, {})[n] = spread(ub[name])[0]
    # W2
    lines += ["", "## W2: single-event fan-out", "",
              "| server | streams | latency p50 µs | p99 µs | max µs | last subscriber p50 µs | "
              "kernel floor µs (N sends) | last ÷ floor | lost |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for n in sorted({w["streams"] for r in servers.values() for p in r for w in p["w2"]}):
        cols = {k: col("w2", k, n) for k in ("p50_us", "p99_us", "max_us", "last_delivery_p50_us",
                                             "lost", "floor_us", "vs_floor")}
        for name in names:
            if not cols["p50_us"][name]:
                continue
            ratios = [v for v in cols["vs_floor"][name] if v is not None]
            ratio = ratio_cell(ratios) if ratios else "not measured"
            floors = [v for v in cols["floor_us"][name] if v is not None]
            lines.append(f"| {name} | {fmt(n)} | {cell(cols['p50_us'][name])} | "
                         f"{cell(cols['p99_us'][name])} | {cell(cols['max_us'][name])} | "
                         f"{cell(cols['last_delivery_p50_us'][name])} | "
                         f"{cell(floors) if floors else '-'} | {ratio} | "
                         f"{int(sum(cols['lost'][name]))} |")
            summary.setdefault("w2", {}).setdefault(name, {})[n] = {
                "p50": spread(cols["p50_us"][name])[0], "p99": spread(cols["p99_us"][name])[0]}
    def ran(workload: str) -> bool:
        return all(workload in run for name in names for run in servers[name])

    # W3
    base = {n: spread(col("w3", "deliveries_per_s")[n])[0] for n in names}
    if ran("w3"):
        lines += ["", "## W3: burst to many subscribers", "",
                  "| server | streams | delivered events/s | ringcast ÷ this | lost / dup / reordered |",
                  "| --- | --- | --- | --- | --- |"]
        for name in names:
            w = [r["w3"] for r in servers[name]]
            ratio = base.get("ringcast", float("nan")) / base[name] if base[name] else float("nan")
            lines.append(f"| {name} | {fmt(w[0]['streams'])} | {cell([x['deliveries_per_s'] for x in w])} | "
                         f"{fmt(ratio, 1)}× | {sum(x['lost'] for x in w)} / {sum(x['duplicates'] for x in w)} / "
                         f"{sum(x['reordered'] for x in w)} |")
        summary["w3"] = base
    # W4
    if ran("w4"):
        lines += ["", "## W4: reconnect storm (half the streams drop and resume with Last-Event-ID)", "",
                  "| server | streams | time to all resumed s | lost | duplicates |",
                  "| --- | --- | --- | --- | --- |"]
        for name in names:
            w = [r["w4"] for r in servers[name]]
            lines.append(f"| {name} | {fmt(w[0]['streams'])} | "
                         f"{cell([x['time_to_all_resumed_s'] for x in w], 3)} | "
                         f"{sum(x['lost'] for x in w)} | {sum(x['duplicates'] for x in w)} |")
    # W5
    if ran("w5"):
        lines += ["", "## W5: many topics, 10 subscribers each", "",
                  "| server | topics | streams | delivered events/s | p99 µs | lost |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for name in names:
            w = [r["w5"] for r in servers[name]]
            lines.append(f"| {name} | {fmt(w[0]['topics'])} | {fmt(w[0]['streams'])} | "
                         f"{cell([x['deliveries_per_s'] for x in w])} | {cell([x['p99_us'] for x in w])} | "
                         f"{sum(x['lost'] for x in w)} |")
    if "tls" in results:
        lines += tls_summary(results)
    if "w2" in summary:
        methods = sorted({f["method"] for fl in results.get("w2_floors", {}).values() for f in fl})
        lines += ["", "\"kernel floor\": bench/floor/kernel_floor at the same N, run right before "
                      "each W2 pass (the median of its rounds, from the fastest of its methods: "
                      f"{', '.join(methods) or '-'}). \"last ÷ floor\" is each pass's time to the last "
                      "subscriber divided by the floor taken just before it; median (min–max) "
                      "over the passes."]
    checked = [(w.get("events_published"), w.get("serializations"))
               for name in names if name.startswith("ringcast") for run in servers[name]
               for w in [*run.get("w2", []), run.get("w3") or {}] if w.get("serializations") is not None]
    if checked:
        same = sum(1 for e, z in checked if e == z)
        lines += ["", f"`ringcast_serializations_total` (scraped before and after each run) equalled "
                      f"the events published in {same} of {len(checked)} ringcast W2/W3 runs "
                      f"({sum(e for e, _ in checked):,} events in all)."]
    overflows = [w.get("cq_overflows") for name in names if name.startswith("ringcast")
                 for run in servers[name] for w in [*run.get("w2", []), run.get("w3") or {}]
                 if w.get("cq_overflows") is not None]
    if overflows:
        lines += ["", f"io_uring completion-queue overflows (`ringcast_cq_overflows_total`) over those "
                      f"runs: {sum(overflows)}."]
    if floor_best:
        lines += ["", f"Kernel floor at {fmt(floor_best['streams'] or 0)} streams (start of the run): "
                      f"{fmt(1e9 / floor_best['ns_per_send'])} small sends/s "
                      f"({floor_best['ns_per_send'] / 1000:.2f} µs per send, {floor_best['method']}, "
                      "median)."]
    return "\n".join(lines) + "\n", summary


def tls_summary(results: dict) -> list[str]:
    """W1 and W3 over TLS beside the same server's plain figures from this run."""
    plain, tls = results["servers"], results["tls"]

    def w1_values(runs, n, key):
        return [w[key] for r in runs for w in r["w1"] if w["streams"] == n and w.get(key) is not None]

    lines = ["", "## TLS: W1 and W3 over TLS beside plain", "",
             "TLS 1.3 (the load generator and the server negotiate it), ECDSA P-256 certificate, "
             "verified against the run's throwaway CA; every stream a full handshake.", "",
             "| server | streams | user B / stream plain | user B / stream TLS | TLS − plain | "
             "kernel B / socket TLS | connects/s plain | connects/s TLS | load generator B / stream TLS |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, runs in tls.items():
        for n in sorted({w["streams"] for r in runs for w in r["w1"]}):
            up, ut = w1_values(plain.get(name, []), n, "user_bytes_per_stream"), \
                w1_values(runs, n, "user_bytes_per_stream")
            diff = spread(ut)[0] - spread(up)[0] if up and ut else float("nan")
            lines.append(f"| {name} | {fmt(n)} | {cell(up)} | {cell(ut)} | {fmt(diff)} | "
                         f"{cell(w1_values(runs, n, 'kernel_bytes_per_socket'))} | "
                         f"{cell(w1_values(plain.get(name, []), n, 'connect_rate'))} | "
                         f"{cell(w1_values(runs, n, 'connect_rate'))} | "
                         f"{cell(w1_values(runs, n, 'client_bytes_per_stream'))} |")
    lines += ["", "| server | streams | delivered events/s plain | delivered events/s TLS | "
              "TLS ÷ plain | lost / dup / reordered (TLS) |", "| --- | --- | --- | --- | --- | --- |"]
    for name, runs in tls.items():
        wt = [r["w3"] for r in runs]
        wp = [r["w3"]["deliveries_per_s"] for r in plain.get(name, []) if "w3" in r]
        ratio = spread([w["deliveries_per_s"] for w in wt])[0] / spread(wp)[0] if wp else float("nan")
        lines.append(f"| {name} | {fmt(wt[0]['streams'])} | {cell(wp)} | "
                     f"{cell([w['deliveries_per_s'] for w in wt])} | {fmt(ratio, 2)} | "
                     f"{sum(w['lost'] for w in wt)} / {sum(w['duplicates'] for w in wt)} / "
                     f"{sum(w['reordered'] for w in wt)} |")
    return lines


def plots(out: Path, summary: dict) -> None:
    if shutil.which("gnuplot") is None:
        print("compare: gnuplot missing; no plots", file=sys.stderr)
        return
    data = out / "plot-data"
    data.mkdir(exist_ok=True)
    scripts = []
    if "w1" in summary:
        for name, by_n in summary["w1"].items():
            (data / f"w1-{name}.dat").write_text("".join(f"{n} {v}\n" for n, v in sorted(by_n.items())))
        series = ", ".join(f"'{data}/w1-{n}.dat' using 1:2 with linespoints title '{n}'" for n in summary["w1"])
        scripts.append(("memory_per_stream.png", "set logscale x; set xlabel 'streams'; "
                        "set ylabel 'user bytes per stream'; set title 'W1: server memory per idle stream'; "
                        f"plot {series}"))
    if "w2" in summary:
        for name, by_n in summary["w2"].items():
            (data / f"w2-{name}.dat").write_text(
                "".join(f"{n} {v['p50']} {v['p99']}\n" for n, v in sorted(by_n.items())))
        series = ", ".join(f"'{data}/w2-{n}.dat' using 1:3 with linespoints title '{n} p99', "
                           f"'{data}/w2-{n}.dat' using 1:2 with linespoints dt 2 title '{n} p50'"
                           for n in summary["w2"])
        scripts.append(("latency_vs_streams.png", "set logscale xy; set xlabel 'streams'; "
                        "set ylabel 'publish to delivery (µs)'; set title 'W2: fan-out latency'; "
                        f"plot {series}"))
    if "w3" in summary:
        (data / "w3.dat").write_text("".join(f"\"{n}\" {v}\n" for n, v in summary["w3"].items()))
        scripts.append(("deliveries_per_s.png", "set style fill solid; set boxwidth 0.6; "
                        "set ylabel 'delivered events / s'; set title 'W3: burst throughput'; "
                        f"plot '{data}/w3.dat' using 0:2:xtic(1) with boxes notitle"))
    for png, body in scripts:
        script = f"set terminal pngcairo size 900,540 font ',11'; set output '{out / png}'; set grid; {body}\n"
        subprocess.run(["gnuplot"], input=script, text=True, check=False)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", choices=SIZES, default="small")
    ap.add_argument("--servers", default="ringcast,ringcast-epoll,nchan,node")
    ap.add_argument("--ringcast", default=str(ROOT / "build/release/ringcast"))
    ap.add_argument("--load", default=str(ROOT / "build/release/tools/load/ringcast-load"))
    ap.add_argument("--floor", default=str(ROOT / "build/release/bench/floor/kernel_floor"))
    ap.add_argument("--repeat", type=int, default=0, help="passes per server (default: by size)")
    ap.add_argument("--out", default=None)
    ap.add_argument("--w1", default=None,
                    help="W1 stream counts, plain and TLS (e.g. 10000,100000; default: by size)")
    ap.add_argument("--w2", default=None, help="W2 stream counts (e.g. 15000,100000; default: by size)")
    ap.add_argument("--workloads", default="w1,w2,w3,w4,w5",
                    help="plain workloads to run (e.g. w1,w3 beside --tls)")
    ap.add_argument("--tls", action="store_true",
                    help="also run W1 and W3 over TLS (a throwaway CA and certificate)")
    args = ap.parse_args()
    args.out = args.out or str(ROOT / "build/bench-results" / args.size)
    bench = Bench(args)
    if args.repeat:
        bench.size = dict(bench.size, repeat=args.repeat)
    if args.w1:
        counts = [int(n) for n in args.w1.split(",")]
        bench.size = dict(bench.size, w1=counts, tls_w1=counts)
    if args.w2:
        bench.size = dict(bench.size, w2=[int(n) for n in args.w2.split(",")])
    results = bench.run()
    markdown, summary = summarize(results)
    out = Path(args.out)
    (out / "results.json").write_text(json.dumps(results, indent=1))
    (out / "results.md").write_text(markdown)
    plots(out, summary)
    print(markdown)
    for f in bench.failures:
        print(f"compare: FAILED {f}", file=sys.stderr)
    return 1 if bench.failures else 0


if __name__ == "__main__":
    sys.exit(main())
