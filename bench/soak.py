#!/usr/bin/env python3
"""The soak: ringcast under an hour (by default) of mixed load with churn, its memory sampled
throughout. Everything runs on this machine against one ringcast process on 127.0.0.1:

  * a long ringcast-load `storm --churn`: --streams streams over --topics topics, publishers at
    a steady --rate across the topics, and --churn streams per second closing and reconnecting
    at once with Last-Event-ID (each must resume exactly), for the whole run;
  * every --burst-every seconds a short ringcast-load `run --burst`: --burst-streams fresh
    streams connect, --burst-events events per burst topic are published as fast as the server
    takes them, every stream must get every one, and the streams close. Every other burst (the
    1st, 3rd, ...: --h2-burst-every 2) opens its streams over HTTP/2 (cleartext, prior
    knowledge; `--h2 --streams-per-conn 50`: 50 streams to a connection), the others over
    HTTP/1.1, so the server holds both kinds at once beside the HTTP/1.1 steady load; the
    first burst is an HTTP/2 one, so any run long enough for one burst has one (CI's 30 s
    run has two bursts: HTTP/2, then HTTP/1.1);
  * every --sample-s seconds: the server's RSS (/proc/<pid>/status VmRSS), its CPU time and its
    /metrics gauges (streams, connections, record bytes, topics, ringcast_resident_bytes,
    HTTP/2 connections and streams) and counters (published, delivered, resumes, drops), and
    the protocol of the burst running then, if any.

ringcast-load checks every event of every stream (k consecutive per topic, ids increasing), so
the losses reported are exact. Writes into --out (default build/soak-results/<date>):
samples.csv (one row per sample), summary.json, summary.md (totals per protocol and one row
per burst, naming the protocol it used) and, when gnuplot is installed, rss.png (RSS and
streams over time). Exit status 0 only when nothing was lost, duplicated, reordered or skipped
(gap), every load process completed, every HTTP/2 burst reported its HTTP/2 connections (all
up, none lost), at least one HTTP/2 burst ran if any burst did, and the server stayed up; the
memory figures are reported, not judged (the summary says how RSS moved in the second half).

    python3 bench/soak.py                      # an hour, the documented run
    python3 bench/soak.py --minutes 10         # docs/perf/soak.md
    python3 bench/soak.py --seconds 30 --streams 1000 --burst-every 10   # what CI runs
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare import free_port, machine, wait_healthy  # noqa: E402  (shared with the benchmark)

ROOT = Path(__file__).resolve().parent.parent
# ringcast_streams stays the fourth column (the plot reads it); new columns go at the ends.
GAUGES = ["ringcast_streams", "ringcast_connections", "ringcast_record_bytes", "ringcast_topics",
          "ringcast_resident_bytes", "ringcast_h2_connections", "ringcast_h2_streams"]
COUNTERS = ["ringcast_events_published_total", "ringcast_deliveries_total",
            "ringcast_resumes_total", "ringcast_drops_total", "ringcast_rejected_streams_total",
            "ringcast_gap_events_total"]
COLUMNS = ["t_s", "rss_bytes", "cpu_s"] + GAUGES + COUNTERS + ["bursts_running", "burst_protocol"]
H2_STREAMS_PER_CONN = 50
CHECKS = ["lost", "duplicates", "reordered", "gap_events", "id_regressions"]


def vm_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def scrape(port: int) -> dict[str, float]:
    """Sums each series of /metrics over its labels (shards, reasons)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    sums: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name_labels, value = line.rsplit(" ", 1)
        name = name_labels.split("{", 1)[0]
        sums[name] = sums.get(name, 0.0) + float(value)
    return sums





class Soak:
    def __init__(self, args):
        self.a = args
        self.out = Path(args.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.seconds = args.seconds if args.seconds else args.minutes * 60
        self.samples: list[dict] = []
        self.bursts: list[dict] = []
        self.running_bursts: list[tuple[int, str, subprocess.Popen, Path]] = []
        self.server: subprocess.Popen | None = None
        self.port = 0

    # ---- processes ----
    def start_server(self) -> None:
        self.port = free_port()
        argv = [self.a.ringcast, "--listen", f"127.0.0.1:{self.port}", "--shards",
                str(self.a.shards), "--io", self.a.io, "--log-level", "warn"] + self.a.server_flag
        self.server_argv = argv
        self.server_log = open(self.out / "ringcast.log", "w")
        self.server = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.server_log,
                                       stderr=subprocess.STDOUT)
        wait_healthy(self.port, self.server)

    def load(self, argv: list[str], report: Path, log: Path) -> subprocess.Popen:
        full = [self.a.load, argv[0], "--target", f"127.0.0.1:{self.port}", "--json", str(report),
                "--quiet"] + argv[1:]
        return subprocess.Popen(full, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=open(log, "w"))

    def main_argv(self) -> list[str]:
        return ["storm", "--streams", str(self.a.streams), "--drop", str(self.a.streams),
                "--topics", str(self.a.topics), "--publishers", str(min(4, self.a.topics)),
                "--rate", str(self.a.rate), "--churn", str(self.a.churn),
                "--duration", str(self.seconds), "--settle", "2", "--after", "2",
                "--timeout", "300", "--event-bytes", str(self.a.event_bytes)]

    def burst_protocol(self, n: int) -> str:
        """Burst n (from 1) goes over HTTP/2 when n-1 is a multiple of --h2-burst-every."""
        k = self.a.h2_burst_every
        return "h2" if k > 0 and (n - 1) % k == 0 else "http/1.1"

    def burst_argv(self, protocol: str) -> list[str]:
        argv = ["run", "--streams", str(self.a.burst_streams), "--topics", "2", "--topic-prefix",
                "burst", "--burst", "--events", str(self.a.burst_events), "--pipeline", "16",
                "--timeout", "120"]
        if protocol == "h2":
            argv += ["--h2", "--streams-per-conn", str(H2_STREAMS_PER_CONN)]
        return argv

    def start_burst(self, n: int) -> None:
        report = self.out / f"burst{n}.json"
        report.unlink(missing_ok=True)  # a report left by an earlier run in this --out is not ours
        protocol = self.burst_protocol(n)
        proc = self.load(self.burst_argv(protocol), report, self.out / f"burst{n}.log")
        self.running_bursts.append((n, protocol, proc, report))

    def reap_bursts(self, wait: bool) -> None:
        still = []
        for n, protocol, proc, report in self.running_bursts:
            if wait:
                try:
                    proc.wait(timeout=180)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if proc.poll() is None:
                still.append((n, protocol, proc, report))
                continue
            try:
                r = json.loads(report.read_text()) if report.exists() else {}
            except ValueError:
                r = {"note": f"unreadable report {report}"}
            r["returncode"] = proc.returncode
            r["burst"] = n
            r["protocol"] = protocol
            self.bursts.append(r)
        self.running_bursts = still

    # ---- sampling ----
    def sample(self, t0: float) -> None:
        pid = self.server.pid
        row = {"t_s": round(time.monotonic() - t0, 1), "rss_bytes": vm_rss(pid),
               "cpu_s": round(cpu_seconds(pid), 2), "bursts_running": len(self.running_bursts),
               "burst_protocol": "+".join(p for _, p, _, _ in self.running_bursts)}
        try:
            m = scrape(self.port)
        except OSError as e:
            print(f"soak: /metrics failed: {e}", file=sys.stderr)
            return
        for name in GAUGES + COUNTERS:
            row[name] = int(m.get(name, 0))
        self.samples.append(row)
        with open(self.out / "samples.csv", "a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=COLUMNS)
            if len(self.samples) == 1:
                w.writeheader()
            w.writerow(row)
        if not self.a.quiet:
            print(f"soak: {row['t_s']:7.1f}s rss {row['rss_bytes'] / 2**20:6.1f} MiB streams "
                  f"{row['ringcast_streams']:6d} (h2 {row['ringcast_h2_streams']:5d}) conns "
                  f"{row['ringcast_connections']:6d} published "
                  f"{row['ringcast_events_published_total']} delivered "
                  f"{row['ringcast_deliveries_total']} resumes {row['ringcast_resumes_total']}",
                  file=sys.stderr, flush=True)

    # ---- the run ----
    def run(self) -> int:
        (self.out / "samples.csv").unlink(missing_ok=True)
        self.start_server()
        t0 = time.monotonic()
        self.sample(t0)  # the server at boot
        main_report = self.out / "main.json"
        main = self.load(self.main_argv(), main_report, self.out / "main.log")
        self.main_cmd = " ".join(["ringcast-load"] + self.main_argv())
        next_sample = t0 + self.a.sample_s
        next_burst = t0 + self.a.burst_every
        bursts_started = 0
        # Bounded: the main load ends itself after --duration plus its own --timeout bounds.
        hard_end = t0 + self.seconds + 600
        try:
            while main.poll() is None and time.monotonic() < hard_end:
                now = time.monotonic()
                if self.server.poll() is not None:
                    print(f"soak: ringcast exited with {self.server.returncode}", file=sys.stderr)
                    break
                if now >= next_sample:
                    self.sample(t0)
                    next_sample += self.a.sample_s
                if now >= next_burst and now < t0 + self.seconds and not self.running_bursts:
                    bursts_started += 1
                    self.start_burst(bursts_started)
                    next_burst = now + self.a.burst_every
                self.reap_bursts(wait=False)
                time.sleep(0.2)
        finally:
            if main.poll() is None:
                main.send_signal(signal.SIGINT)
                try:
                    main.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    main.kill()
                    main.wait()
            self.reap_bursts(wait=True)
        server_alive = self.server.poll() is None
        if server_alive:
            self.settle()
            self.sample(t0)  # after the load: streams closed, memory as it stays
            self.server.send_signal(signal.SIGTERM)
            try:
                server_rc = self.server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.server.kill()
                server_rc = self.server.wait()
        else:
            server_rc = self.server.returncode
        main_r = json.loads(main_report.read_text()) if main_report.exists() else {}
        main_r["returncode"] = main.returncode
        summary = self.summarize(main_r, server_alive, server_rc)
        (self.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        (self.out / "summary.md").write_text(self.markdown(summary))
        self.plot()
        print(self.markdown(summary))
        return 0 if summary["ok"] else 1

    def settle(self) -> None:
        """Waits (at most 30 s) until the server has freed every stream the load left."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                m = scrape(self.port)
            except OSError:
                return
            if m.get("ringcast_streams", 0) == 0 and m.get("ringcast_connections", 0) <= 1:
                return
            time.sleep(0.2)
        print("soak: streams still open 30 s after the load ended", file=sys.stderr)

    # ---- results ----
    def summarize(self, main: dict, server_alive: bool, server_rc: int) -> dict:
        rss = [s["rss_bytes"] for s in self.samples]
        loaded = [s for s in self.samples if s["t_s"] > 0 and s is not self.samples[-1]]
        half = [s for s in loaded if s["t_s"] >= self.seconds / 2]

        def total(key: str, rs: list[dict]) -> int:
            return sum(int(r.get(key) or 0) for r in rs)

        checks = CHECKS
        bad_bursts = [b for b in self.bursts if not self.burst_ok(b)]
        storm = main.get("storm", {})

        def burst_totals(rs: list[dict]) -> dict:
            return {"count": len(rs), "failed": len([b for b in rs if not self.burst_ok(b)]),
                    "streams_connected": total("streams_connected", rs),
                    "events_published": total("events_published", rs),
                    "deliveries_expected": total("deliveries_expected", rs),
                    "deliveries_received": total("deliveries_received", rs),
                    **{k: total(k, rs) for k in checks}}

        by_protocol = {p: burst_totals([b for b in self.bursts if b["protocol"] == p])
                       for p in ("http/1.1", "h2")}
        by_protocol["h2"]["connections"] = sum(int((b.get("h2") or {}).get("connections_up") or 0)
                                               for b in self.bursts if b["protocol"] == "h2")
        s = {
            "machine": machine(),
            "seconds": self.seconds,
            "server": " ".join(["ringcast"] + self.server_argv[1:]),
            "main_load": self.main_cmd,
            "burst_load": (f"ringcast-load run --streams {self.a.burst_streams} --topics 2 "
                           f"--topic-prefix burst --burst --events {self.a.burst_events} "
                           f"--pipeline 16, every {self.a.burst_every} s"
                           + (f"; bursts 1, {1 + self.a.h2_burst_every}, ... with --h2 "
                              f"--streams-per-conn {H2_STREAMS_PER_CONN} (HTTP/2)"
                              if self.a.h2_burst_every > 0 else "; all over HTTP/1.1")),
            "main": {k: main.get(k) for k in ["returncode", "note", "streams_connected",
                                               "events_published", "deliveries_expected",
                                               "deliveries_received"] + checks},
            "reconnects": storm.get("dropped"),
            "resumed": storm.get("resumed"),
            "reconnect_rate": storm.get("reconnect_rate"),
            "resume_us": storm.get("resume_us"),
            "latency_us": main.get("latency_us"),
            "bursts": {**burst_totals(self.bursts), "by_protocol": by_protocol,
                       "runs": [self.burst_row(b) for b in sorted(self.bursts, key=lambda b: b["burst"])]},
            "rss": {"boot": rss[0] if rss else 0,
                    "loaded_first": loaded[0]["rss_bytes"] if loaded else 0,
                    "second_half_start": half[0]["rss_bytes"] if half else 0,
                    "loaded_end": loaded[-1]["rss_bytes"] if loaded else 0,
                    "max": max(rss) if rss else 0,
                    "after_load": rss[-1] if server_alive and rss else None},
            "server_exit": server_rc,
            "server_drops": self.samples[-1].get("ringcast_drops_total") if self.samples else None,
            "samples": len(self.samples),
        }
        s["rss"]["second_half_growth"] = s["rss"]["loaded_end"] - s["rss"]["second_half_start"]
        losses = sum(int(main.get(k) or 0) for k in checks) + sum(s["bursts"][k] for k in checks)
        s["losses"] = losses
        # A run with bursts must have had an HTTP/2 one (burst 1 is, unless --h2-burst-every 0).
        s["h2_bursts_ok"] = (self.a.h2_burst_every == 0 or not self.bursts or
                             by_protocol["h2"]["count"] > 0)
        s["ok"] = (main.get("returncode") == 0 and not bad_bursts and losses == 0 and
                   server_alive and server_rc == 0 and s["h2_bursts_ok"] and
                   main.get("deliveries_received") == main.get("deliveries_expected"))
        return s

    @staticmethod
    def burst_ok(b: dict) -> bool:
        """The load process exited 0 and every stream got every event; an HTTP/2 burst also
        reports HTTP/2 connections (the load generator really used --h2), all up, none lost."""
        if b.get("returncode") != 0 or "deliveries_expected" not in b or \
                b.get("deliveries_received") != b.get("deliveries_expected"):
            return False
        if any(int(b.get(k) or 0) for k in CHECKS):
            return False
        if b["protocol"] == "h2":
            h2 = b.get("h2") or {}
            return (int(h2.get("connections_up") or 0) > 0 and
                    h2.get("connections_up") == h2.get("connections_target") and
                    not h2.get("connections_lost") and not h2.get("connections_failed"))
        return b.get("h2") is None

    @staticmethod
    def burst_row(b: dict) -> dict:
        h2 = b.get("h2") or {}
        return {"burst": b["burst"], "protocol": b["protocol"], "returncode": b.get("returncode"),
                "ok": Soak.burst_ok(b), "streams_connected": b.get("streams_connected"),
                "h2_connections": h2.get("connections_up") if b["protocol"] == "h2" else None,
                "events_published": b.get("events_published"),
                "deliveries_expected": b.get("deliveries_expected"),
                "deliveries_received": b.get("deliveries_received"),
                **{k: b.get(k) for k in CHECKS}, "note": b.get("note")}

    def markdown(self, s: dict) -> str:
        mib = lambda b: "-" if b is None else f"{b / 2**20:.1f} MiB"  # noqa: E731
        m, b, r = s["main"], s["bursts"], s["rss"]
        lines = [
            f"# Soak: {s['seconds'] / 60:g} minutes ({'OK' if s['ok'] else 'FAILED'})",
            "",
            f"- machine: {s['machine']['cpus']} CPUs {s['machine']['cpu_model']}, "
            f"{s['machine']['memory_gib']} GiB, Linux {s['machine']['kernel']}, "
            f"RLIMIT_NOFILE {s['machine']['nofile']}, {s['machine']['date']}",
            f"- server: `{s['server']}`",
            f"- steady load with churn: `{s['main_load']}`",
            f"- bursts: `{s['burst_load']}`",
            "",
            "| figure | value |",
            "| --- | --- |",
            f"| RSS at boot | {mib(r['boot'])} |",
            f"| RSS at the first loaded sample | {mib(r['loaded_first'])} |",
            f"| RSS at half time → end of load | {mib(r['second_half_start'])} → {mib(r['loaded_end'])} "
            f"({r['second_half_growth'] / 2**20:+.1f} MiB) |",
            f"| RSS max | {mib(r['max'])} |",
            f"| RSS after the load (streams closed) | {mib(r['after_load'])} |",
            f"| steady load: events published / deliveries expected / received | "
            f"{m['events_published']} / {m['deliveries_expected']} / {m['deliveries_received']} |",
            f"| steady load: lost, duplicated, reordered, gaps | {m['lost']}, {m['duplicates']}, "
            f"{m['reordered']}, {m['gap_events']} |",
            f"| reconnects with Last-Event-ID (all resumed) | {s['reconnects']} ({s['resumed']} resumed, "
            f"{s['reconnect_rate']}/s) |",
            f"| bursts: runs (failed) | {b['count']} ({b['failed']}) |",
            *[f"| bursts over {name}: runs (failed) | {p['count']} ({p['failed']})"
              + (f", {p['connections']} connections |" if proto == "h2" else " |")
              for proto, name in (("http/1.1", "HTTP/1.1"), ("h2", "HTTP/2"))
              for p in [b["by_protocol"][proto]]],
            f"| bursts: events published / deliveries expected / received | {b['events_published']} / "
            f"{b['deliveries_expected']} / {b['deliveries_received']} |",
            f"| bursts: lost, duplicated, reordered, gaps | {b['lost']}, {b['duplicates']}, "
            f"{b['reordered']}, {b['gap_events']} |",
            f"| streams the server dropped (slow/stalled) | {s['server_drops']} |",
            f"| server exit status | {s['server_exit']} |",
            "",
        ]
        if m.get("note"):
            lines.insert(-1, f"Steady load note: {m['note']}")
        if not s["h2_bursts_ok"]:
            lines.insert(-1, "No burst ran over HTTP/2.")
        if b["runs"]:
            lines += ["| burst | protocol | streams (HTTP/2 connections) | events | deliveries "
                      "expected / received | lost, dup, reord, gaps | exit |",
                      "| --- | --- | --- | --- | --- | --- | --- |"]
            for r in b["runs"]:
                conns = f" ({r['h2_connections']})" if r["protocol"] == "h2" else ""
                lines.append(
                    f"| {r['burst']} | {'HTTP/2' if r['protocol'] == 'h2' else 'HTTP/1.1'} | "
                    f"{r['streams_connected']}{conns} | {r['events_published']} | "
                    f"{r['deliveries_expected']} / {r['deliveries_received']} | {r['lost']}, "
                    f"{r['duplicates']}, {r['reordered']}, {r['gap_events']} | "
                    f"{r['returncode']}{'' if r['ok'] else ' FAILED'} |")
            lines.append("")
        return "\n".join(lines) + "\n"

    def plot(self) -> None:
        if shutil.which("gnuplot") is None:
            print("soak: gnuplot missing; no plot", file=sys.stderr)
            return
        csv_path = self.out / "samples.csv"
        script = (
            "set terminal pngcairo size 900,540 font ',11'; "
            f"set output '{self.out / 'rss.png'}'; set grid; set datafile separator ','; "
            "set key autotitle columnhead; set xlabel 'seconds'; "
            "set ylabel 'RSS (MiB)'; set y2label 'streams'; set ytics nomirror; set y2tics; "
            "set yrange [0:*]; set y2range [0:*]; "
            f"set title 'Soak: ringcast RSS and streams over {self.seconds / 60:g} min'; "
            f"plot '{csv_path}' using 1:($2/1048576) with lines lw 2 title 'RSS (MiB)', "
            f"'{csv_path}' using 1:4 axes x1y2 with lines title 'streams'\n")
        subprocess.run(["gnuplot"], input=script, text=True, check=False)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=60)
    ap.add_argument("--seconds", type=float, default=0, help="overrides --minutes")
    ap.add_argument("--streams", type=int, default=4000)
    ap.add_argument("--topics", type=int, default=40)
    ap.add_argument("--rate", type=float, default=200, help="events/s over all topics")
    ap.add_argument("--event-bytes", type=int, default=200)
    ap.add_argument("--churn", type=float, default=100, help="reconnects/s")
    ap.add_argument("--burst-every", type=float, default=60, help="seconds between bursts")
    ap.add_argument("--burst-streams", type=int, default=1000)
    ap.add_argument("--burst-events", type=int, default=200, help="per burst topic (2 topics)")
    ap.add_argument("--h2-burst-every", type=int, default=2,
                    help="bursts 1, 1+K, 1+2K, ... go over HTTP/2 (--h2 --streams-per-conn "
                         f"{H2_STREAMS_PER_CONN}); 0: every burst over HTTP/1.1")
    ap.add_argument("--sample-s", type=float, default=5)
    ap.add_argument("--shards", type=int, default=2)
    ap.add_argument("--io", choices=["uring", "epoll"], default="uring")
    ap.add_argument("--server-flag", action="append", default=[],
                    help="extra ringcast flag (repeat; e.g. --server-flag=--history=256)")
    ap.add_argument("--ringcast", default=str(ROOT / "build/release/ringcast"))
    ap.add_argument("--load", default=str(ROOT / "build/release/tools/load/ringcast-load"))
    ap.add_argument("--out", default=None)
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args()
    if a.out is None:
        a.out = str(ROOT / "build/soak-results" / time.strftime("%Y%m%d-%H%M%S"))
    a.server_flag = [f for flag in a.server_flag for f in flag.split("=", 1)]
    for path in (a.ringcast, a.load):
        if not os.access(path, os.X_OK):
            print(f"soak: {path} is not an executable (build it first)", file=sys.stderr)
            return 2
    return Soak(a).run()


if __name__ == "__main__":
    sys.exit(main())
