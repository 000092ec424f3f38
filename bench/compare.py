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
    python3 bench/compare.py --workloads ack --ack 15000,100000   # publish ack latency alone
    python3 bench/compare.py --protocols h1,h2 --workloads w1,w2,w3   # also over HTTP/2 (--h2)
    python3 bench/compare.py --size tiny --protocols h2 --workloads w1,w2,w3   # what CI runs

--protocols h1,h2 (or --h2) adds W1, W2, W3 and W4 over cleartext HTTP/2 with prior knowledge,
--streams-per-conn S (default 100) streams to a connection, for every server in the same run
with the same load generator (ringcast-load --h2; its publisher stays on HTTP/1.1): W1 at
10k and 100k streams (small) or 10k, 100k and 1M (full), W2 at 15k (and 100k at full), W3 to
15k streams (tiny: 500 streams). --protocols h2 runs HTTP/2 alone. What each server does:
  - ringcast (and --io epoll): HTTP/2 on the same port as HTTP/1.1 (the preface tells them
    apart); --h2-max-streams raised to S if S is above its 256.
  - nginx+nchan: `listen ... http2` on the stream port (nginx 1.22: that port then speaks
    HTTP/2 only) and a second, HTTP/1.1 listener for the publisher; http2_max_concurrent_streams
    raised to S if S is above nginx's 128.
  - Node: bench/peers/node_broadcast_h2.mjs, the HTTP/1.1 peer's code on http2.createServer
    (cleartext: HTTP/2 only) beside an http.createServer listener for the publisher, one
    process, Node's defaults.
A server that cannot do a workload (beyond its connection limit, did not start, died, did not
hold every stream) gets a row that says why and no figures; that is a failure of the run for
ringcast only. Over HTTP/2 the W1 kernel figure is per stream (S streams share a socket), and
W2's kernel floor is one small send per connection (N / S sends). W4 runs over HTTP/2 too (a
drop there is a whole connection, as when a browser's network goes: bench/compare_storm.py);
W5 and ack stay HTTP/1.1. --no-floor skips the kernel floor (W2 without a ratio),
for a box where bench/floor/kernel_floor is not built.

W3 runs with one publish in flight and with 16 pipelined; every W2, W3 and ack row carries the
publish ack latency the load generator measured (publish_latency_ms), for every server alike.
Those runs name --publisher-thread (the load generator's default beside streams, named so the
placement is explicit): the publisher reads its answers on a thread that holds no stream, so the
figure is the server's answer time, not the load generator's pass over 15,000 deliveries.

Writes results.json, results.md and PNG plots (gnuplot) into --out (default
build/bench-results/<size>). Every figure is reported beside its peers from the same run, as a
ratio, with the median and spread over --repeat runs. Nothing here asserts a timing: the exit
status is non-zero only if a run could not be carried out or lost events.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
import compare_storm  # noqa: E402
from compare_h2 import H2Passes  # noqa: E402
from compare_report import best_floor_method, plots, summarize  # noqa: E402
from compare_servers import (  # noqa: E402,F401  (event_sizes.py and redis_w3.py take them from here)
    Nchan, NodeBroadcast, Pki, Ringcast, Server, cpu_seconds, free_port, machine, metric_sum,
    rss_bytes, slab_bytes, wait_healthy)


# Publishers on a load-generator thread of their own, which holds no stream: an answer is read
# when it arrives, not after the stream thread has handled a broadcast's 15,000 deliveries (which
# is what publish latency measured with the publisher beside the streams: ~55 ms, ours).
PUBLISHER_THREAD = ["--publisher-thread"]


def publish_ms(report: dict) -> dict:
    """Publish ack latency from a load generator report (ms, per request: its write to its
    whole answer), the same tool and definition for every server."""
    lat = report.get("publish_latency_ms") or {}
    return {"publish_p50_ms": lat.get("p50"), "publish_p99_ms": lat.get("p99"),
            "publish_requests": lat.get("count"), "publisher_thread": lat.get("publisher_thread")}


# ---------------------------------------------------------------------------------------------
# Workloads
# ---------------------------------------------------------------------------------------------

SIZES = {
    "tiny": {"w1": [200], "w2": [200], "w2_events": 3, "w2_rate": 5, "w3_streams": 200,
             "w3_seconds": 1, "w4_streams": 200, "w5_topics": 50, "w5_events": 5,
             "w5_rate": 500, "repeat": 1, "floor_streams": 200, "tls_w1": [200],
             "ack": [200], "ack_publishes": 300, "ack_seconds": 10,
             "h2_w1": [500], "h2_w2": [500], "h2_w3_streams": 500, "h2_timeout": 30},
    "small": {"w1": [10000], "w2": [1000, 15000], "w2_events": 9, "w2_rate": 2,
              "w3_streams": 15000, "w3_seconds": 5, "w4_streams": 10000, "w5_topics": 1000,
              "w5_events": 20, "w5_rate": 5000, "repeat": 3, "floor_streams": 15000,
              "tls_w1": [10000], "ack": [15000, 100000], "ack_publishes": 300, "ack_seconds": 30,
              "h2_w1": [10000, 100000], "h2_w2": [15000], "h2_w3_streams": 15000,
              "h2_timeout": 300},
    "full": {"w1": [10000, 100000, 1000000], "w2": [1000, 15000, 100000], "w2_events": 10,
             "w2_rate": 1, "w3_streams": 15000, "w3_seconds": 10, "w4_streams": 10000,
             "w5_topics": 10000, "w5_events": 10, "w5_rate": 10000, "repeat": 3,
             "floor_streams": 15000, "tls_w1": [10000, 100000], "ack": [15000, 100000],
             "ack_publishes": 300, "ack_seconds": 30,
             "h2_w1": [10000, 100000, 1000000], "h2_w2": [15000, 100000], "h2_w3_streams": 15000,
             "h2_timeout": 300},
}


class Bench(H2Passes):
    def __init__(self, args):
        self.args = args
        self.size = SIZES[args.size]
        self.load = Path(args.load)
        self.out = Path(args.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.failures: list[str] = []
        self.floors: dict[str, list[dict]] = {}  # N -> the floor taken before each W2 at N
        self.skipped: dict[str, str] = {}  # server -> why it could not run here
        self.last_report: dict = {}  # the last load generator report (HTTP/2 rows check it)
        # The load generator's --timeout for W2 and W3 (HTTP/2 at tiny size: its h2_timeout,
        # so a peer that refuses streams is reported in seconds, not minutes).
        self.run_timeout = 300

    def load_run(self, server: Server, argv: list[str], tag: str, timeout: float = 900) -> dict:
        if server.tls:
            tag = f"tls-{tag}"
            argv = [*argv, "--tls", "--tls-ca", server.tls.ca]
        if server.h2:
            tag = f"h2-{tag}"
            argv = [*argv, "--h2", "--streams-per-conn", str(server.h2)]
            if server.pub_port != server.port:  # an HTTP/2-only port: publish to its HTTP/1.1 one
                argv = [*argv, "--pub-target", f"127.0.0.1:{server.pub_port}"]
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
            if server.h2 and not server.alive():
                # A server that died (a peer out of memory, say) will not come back: the load
                # generator would retry until its timeout. Its report says what it saw.
                deadline = min(deadline, time.monotonic() + 2)
        if proc.poll() is None:
            if server.h2:
                proc.send_signal(signal.SIGINT)  # the load generator writes its report
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
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
        result["stderr_tail"] = err[-400:] if proc.returncode != 0 else ""
        self.last_report = result
        return result

    # W1: density. Hold N idle streams; memory per stream (user, kernel) and connect rate.
    def w1(self, server: Server, n: int, timeout: int = 900) -> dict:
        # --timeout: TLS handshakes connect ~1,000 streams/s on this box (100k take minutes).
        r = self.load_run(server, ["subscribe", "--streams", str(n), "--duration", "2",
                                   "--threads", "2" if n > 50000 else "1", "--timeout",
                                   str(timeout)], f"w1-{n}", timeout=timeout)
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
        # Over HTTP/2 one send carries an event to every stream of a connection: the floor is
        # the kernel's time for one small send per connection.
        floor = self.floor_at(-(-n // server.h2) if server.h2 else n)
        # One broadcast at a time: events at least three floor-times apart, so that a fan-out
        # never overlaps the next one (at 100,000 streams one takes most of a second).
        rate = self.size["w2_rate"]
        if floor:
            rate = min(rate, round(1e6 / (3 * floor["time_us"]), 2))
        r = self.load_run(server, ["run", "--streams", str(n), "--topics", "1", "--rate",
                                   str(rate), "--events",
                                   str(self.size["w2_events"]), "--timeout", str(self.run_timeout),
                                   *PUBLISHER_THREAD], f"w2-{n}")
        lat = r.get("latency_us", {})
        last = r.get("time_to_last_delivery_us", {})
        last_p50 = last.get("p50")
        return {"streams": n, "p50_us": lat.get("p50"), "p99_us": lat.get("p99"),
                "max_us": lat.get("max"), "last_delivery_p50_us": last_p50, **publish_ms(r),
                "lost": r.get("lost", -1), "server_cpu_s": r["server"]["cpu_s"],
                "rate": rate, "floor_us": floor["time_us"] if floor else None,
                "events_published": r.get("events_published"), "serializations": r.get("serializations"),
                "cq_overflows": r.get("cq_overflows"),
                "floor_method": floor["method"] if floor else None,
                "vs_floor": last_p50 / floor["time_us"] if floor and last_p50 else None}

    def floor_at(self, n: int) -> dict | None:
        """The kernel's time for n small sends: the fastest of the floor's methods (median)."""
        if self.args.no_floor:
            return None
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

    # W3: burst to many subscribers from one publisher, as fast as the server answers, with
    # `pipeline` publishes in flight: 1 is what requests, fetch and curl do (each publish waits
    # for its answer); 16 pipelined is the server's own ceiling. Publish ack latency beside it.
    def w3(self, server: Server, pipeline: int = 16) -> dict:
        n = (min(self.size["h2_w3_streams"], server.h2_capacity()) if server.h2
             else min(self.size["w3_streams"], server.capacity))
        r = self.load_run(server, ["run", "--streams", str(n), "--topics", "1", "--burst",
                                   "--duration", str(self.size["w3_seconds"]), "--pipeline",
                                   str(pipeline), "--timeout", str(self.run_timeout),
                                   *PUBLISHER_THREAD],
                          "w3" if pipeline == 16 else f"w3-p{pipeline}")
        return {"streams": n, "pipeline": pipeline, "deliveries_per_s": r.get("deliveries_per_s", 0),
                "events_published": r.get("events_published", 0), **publish_ms(r),
                "serializations": r.get("serializations"), "cq_overflows": r.get("cq_overflows"),
                "lost": r.get("lost", -1),
                "duplicates": r.get("duplicates", -1), "reordered": r.get("reordered", -1),
                "server_cpu_s": r["server"]["cpu_s"], "load_cpu": r.get("cpu")}

    # Publish ack latency (issue #20): one publisher, one publish in flight, sequential
    # publishes as fast as they are answered (--ack-publishes, or as many as the size's ack_seconds allow) to one
    # topic of n subscribers, every event checked; each answer waits on whatever fan-out the
    # server still has under way.
    def ack(self, server: Server, n: int) -> dict:
        r = self.load_run(server, ["run", "--streams", str(n), "--topics", "1", "--burst",
                                   "--pipeline", "1", "--events", str(self.size["ack_publishes"]),
                                   "--duration", str(self.size["ack_seconds"]),
                                   "--threads", "2" if n > 50000 else "1", "--timeout", "300",
                                   *PUBLISHER_THREAD],
                          f"ack-{n}")
        return {"streams": n, **publish_ms(r), "publish_p90_ms": (r.get("publish_latency_ms") or {}).get("p90"),
                "publish_max_ms": (r.get("publish_latency_ms") or {}).get("max"),
                "deliveries_per_s": r.get("deliveries_per_s", 0), "lost": r.get("lost", -1),
                "duplicates": r.get("duplicates", -1), "reordered": r.get("reordered", -1),
                "events_published": r.get("events_published"), "serializations": r.get("serializations"),
                "server_cpu_s": r["server"]["cpu_s"]}

    # W4: reconnect storm with Last-Event-ID while publishing continues (bench/compare_storm.py):
    # at the same offered publish load for every server (w4), and as the publisher's answers
    # allow (w4_sat, the W4 before issue #18).
    def w4(self, server: Server, variant: str = "w4") -> dict:
        return compare_storm.w4(self, server, variant)

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
        if self.args.no_floor:
            return {}
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

    def make_servers(self) -> list[Server]:
        """The servers asked for that can run here. A peer that is not installed is skipped
        with a note (in results.md too); ringcast not built is a failure."""
        makers = {"ringcast": lambda: Ringcast(Path(self.args.ringcast), "uring"),
                  "ringcast-epoll": lambda: Ringcast(Path(self.args.ringcast), "epoll"),
                  "nchan": Nchan, "node": NodeBroadcast}
        servers = []
        for name in self.args.servers.split(","):
            if name not in makers:
                self.failures.append(f"unknown server {name!r} (known: {', '.join(makers)})")
                continue
            server = makers[name]()
            why = server.missing()
            if why is None:
                servers.append(server)
                continue
            print(f"compare: SKIPPING {name}: {why}", file=sys.stderr)
            self.skipped[name] = why
            if name.startswith("ringcast"):
                self.failures.append(f"{name}: {why}")
        return servers

    def passes(self, server: Server, one, label: str) -> list[dict]:
        """--repeat passes of `one` over a server; one that cannot start ends its passes
        with a failure, and the run goes on with the next server."""
        runs = []
        for rep in range(self.size["repeat"]):
            try:
                runs.append(one(server))
            except (RuntimeError, OSError) as e:
                self.failures.append(f"{server.name} {label}pass {rep + 1}: {e}")
                print(f"compare: {server.name} {label}pass {rep + 1} FAILED: {e}", file=sys.stderr)
                break
            print(f"compare: {server.name} {label}pass {rep + 1} done", file=sys.stderr)
        return runs

    def run(self) -> dict:
        servers = self.make_servers()
        results = {"machine": machine(), "size": self.args.size, "floor": self.floor(),
                   "servers": {}, "skipped": self.skipped}
        protocols = self.args.protocols.split(",")
        for server in servers if "h1" in protocols else []:
            runs = self.passes(server, self.one_pass, "")
            if runs:
                results["servers"][server.name] = runs
        if "h2" in protocols:
            results["h2"] = self.h2_run(servers)
        if self.args.tls:
            pki = Pki()
            results["tls"] = {}
            try:
                for server in servers:
                    if not server.speaks_tls:
                        continue
                    server.tls = pki
                    runs = self.passes(server, self.tls_pass, "TLS ")
                    server.tls = None
                    if runs:
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
        if not {"w2", "w3", "w4", "w5", "ack"} & set(wanted):
            return out
        server.start()
        try:
            for n in self.size["w2"] if "w2" in wanted else []:
                if n <= server.capacity:
                    out["w2"].append(self.w2(server, n))
            if "ack" in wanted:
                # Beyond a peer's fd table there is nothing to measure: ringcast only.
                out["ack"] = [self.ack(server, n) for n in self.size["ack"] if n <= server.capacity]
            if "w3" in wanted:
                out["w3"] = self.w3(server, 16)
                out["w3_p1"] = self.w3(server, 1)
            if "w4" in wanted:
                out["w4"] = self.w4(server)
                out["w4_sat"] = self.w4(server, "w4_sat")
            if "w5" in wanted:
                out["w5"] = self.w5(server)
        finally:
            server.stop()
        return out


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
                    help="W1 stream counts, plain, TLS and HTTP/2 (e.g. 10000,100000; default: by size)")
    ap.add_argument("--w2", default=None,
                    help="W2 stream counts, both protocols (e.g. 15000,100000; default: by size)")
    ap.add_argument("--workloads", default="w1,w2,w3,w4,w5,ack",
                    help="plain workloads to run (e.g. w1,w3 beside --tls); w3 runs with 1 and "
                         "with 16 publishes in flight; ack: sequential publish ack latency")
    ap.add_argument("--ack", default=None,
                    help="ack workload subscriber counts (default by size: tiny 200, small and "
                         "full 15000,100000; each server up to what its fd table holds)")
    ap.add_argument("--ack-publishes", type=int, default=0,
                    help="sequential publishes per ack run (default 300; publishing stops after 30 s, 10 s at tiny)")
    ap.add_argument("--tls", action="store_true",
                    help="also run W1 and W3 over TLS (a throwaway CA and certificate)")
    ap.add_argument("--protocols", default="h1",
                    help="h1, h2 or h1,h2: HTTP/1.1 (every workload asked for) and/or cleartext "
                         "HTTP/2 with prior knowledge (W1, W2, W3 and W4 of those asked for)")
    ap.add_argument("--h2", action="store_true", help="the same as --protocols h1,h2")
    ap.add_argument("--streams-per-conn", type=int, default=100,
                    help="HTTP/2: streams on each connection (default 100)")
    ap.add_argument("--w3", type=int, default=0,
                    help="W3 streams, both protocols (default by size: tiny 200 over HTTP/1.1 "
                         "and 500 over HTTP/2, small and full 15000)")
    ap.add_argument("--no-floor", action="store_true",
                    help="skip the kernel floor (W2 rows then carry no floor ratio)")
    args = ap.parse_args()
    args.out = args.out or str(ROOT / "build/bench-results" / args.size)
    if args.h2:
        args.protocols = "h1,h2"
    if not args.protocols or set(args.protocols.split(",")) - {"h1", "h2"}:
        print(f"compare: --protocols {args.protocols!r}: h1, h2 or h1,h2", file=sys.stderr)
        return 2
    if args.streams_per_conn < 1:
        print("compare: --streams-per-conn must be at least 1", file=sys.stderr)
        return 2
    needed = [("--load", args.load)] + ([] if args.no_floor else [("--floor", args.floor)])
    for what, path in needed:
        if not Path(path).exists():
            print(f"compare: {path} not found ({what}; tools/build.sh Release builds it)", file=sys.stderr)
            return 2
    bench = Bench(args)
    if args.repeat:
        bench.size = dict(bench.size, repeat=args.repeat)
    if args.w1:
        counts = [int(n) for n in args.w1.split(",")]
        bench.size = dict(bench.size, w1=counts, tls_w1=counts, h2_w1=counts)
    if args.w2:
        counts = [int(n) for n in args.w2.split(",")]
        bench.size = dict(bench.size, w2=counts, h2_w2=counts)
    if args.w3:
        bench.size = dict(bench.size, w3_streams=args.w3, h2_w3_streams=args.w3)
    if args.ack:
        bench.size = dict(bench.size, ack=[int(n) for n in args.ack.split(",")])
    if args.ack_publishes:
        bench.size = dict(bench.size, ack_publishes=args.ack_publishes)
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
