"""W4 of bench/compare.py, the reconnect storm: half the streams drop at once and resume with
Last-Event-ID while publishing continues (over HTTP/2 whole connections drop, as many as hold
half the streams: a browser loses every EventSource of a connection at once).

Two variants, every server alike:
  - w4: the publisher offers the same load to every server, --rate W4_RATE events/s over the
    10 topics with up to 4 publishes in flight, a rate every server here sustains (check
    `publish_rate`). The storm is measured against the same background fan-out everywhere.
  - w4_sat: the W4 of results.md before issue #18: --rate 1000 with one publish in flight,
    which no server here reaches: the publisher goes as fast as each server answers, so a
    server that answers publishes sooner takes more events (and fans more out) during its
    storm. Kept, with `events_published` beside it, because that is what the old figure was.

Beside the time to all resumed (the last stream's), each row carries where the resumes' time
went (ringcast-load's per-stream stages, each from the drop: our close done, the new attempt
issued (it waits for one of --connect-window places), its first write done, the 200 head; and
the load generator's own pass times, so a slow client shows), and what the kernel saw over the run: loopback
packets dropped at the per-CPU backlog (/proc/net/softnet_stat, net.core.netdev_max_backlog),
listen queue overflows and drops, SYN cookies, SYN and other retransmits (/proc/net/netstat,
/proc/net/snmp). Those counters are the whole box's, so they include anything else running.
"""

from __future__ import annotations

W4_RATE = 20  # events/s over the storm's 10 topics (pipelined up to 4: nchan answers in ~20 ms)
KERNEL_COUNTERS = ("ListenOverflows", "ListenDrops", "SyncookiesSent", "TCPSynRetrans",
                   "TCPTimeouts", "TCPLossProbes", "RetransSegs", "TCPAbortOnClose")


def softnet_drops() -> int:
    """Packets dropped at the per-CPU input backlog, all CPUs (the 2nd column, hex)."""
    try:
        with open("/proc/net/softnet_stat") as f:
            return sum(int(line.split()[1], 16) for line in f if line.strip())
    except (OSError, ValueError, IndexError):
        return 0


def kernel_counters() -> dict[str, int]:
    """The TCP counters of KERNEL_COUNTERS (TcpExt and Tcp), and the backlog drops."""
    out = {"softnet_drops": softnet_drops()}
    for path in ("/proc/net/netstat", "/proc/net/snmp"):
        try:
            with open(path) as f:
                lines = f.read().splitlines()
        except OSError:
            continue
        # Pairs of lines: "Prefix: names..." then "Prefix: values...".
        for head, values in zip(lines[::2], lines[1::2]):
            names, nums = head.split()[1:], values.split()[1:]
            for name, num in zip(names, nums):
                if name in KERNEL_COUNTERS and num.lstrip("-").isdigit():
                    out[name] = out.get(name, 0) + int(num)
    return out


def stage_ms(storm: dict, key: str, q: str) -> float | None:
    v = (storm.get(key) or {}).get(q)
    return None if v is None else v / 1000


def w4(bench, server, variant: str = "w4") -> dict:
    """One storm on a running server: `bench` is compare.Bench (its load_run and size)."""
    cap = server.h2_capacity() if server.h2 else server.capacity
    n = min(bench.size["w4_streams"], cap)
    publish = (["--rate", "1000"] if variant == "w4_sat"
               else ["--rate", str(bench.size.get("w4_rate", W4_RATE)), "--pipeline", "4"])
    before = kernel_counters()
    r = bench.load_run(server, ["storm", "--streams", str(n), "--drop", str(n // 2),
                                "--topics", "10", *publish], variant.replace("_", "-"))
    after = kernel_counters()
    storm = r.get("storm", {})
    resume = storm.get("resume_us") or {}
    return {"streams": n, "variant": variant, "dropped": storm.get("dropped"),
            "drop_unit": storm.get("drop_unit", "stream"),
            "time_to_all_resumed_s": storm.get("time_to_all_resumed_s"),
            "resume_p50_ms": stage_ms(storm, "resume_us", "p50"),
            "resume_p99_ms": stage_ms(storm, "resume_us", "p99"),
            "resume_max_ms": None if resume.get("max") is None else resume["max"] / 1000,
            "closed_p50_ms": stage_ms(storm, "closed_us", "p50"),
            "closed_max_ms": stage_ms(storm, "closed_us", "max"),
            "started_p50_ms": stage_ms(storm, "started_us", "p50"),
            "started_max_ms": stage_ms(storm, "started_us", "max"),
            "connected_p50_ms": stage_ms(storm, "connected_us", "p50"),
            "connected_max_ms": stage_ms(storm, "connected_us", "max"),
            "load_pass_p99_ms": stage_ms(storm, "load_pass_us", "p99"),
            "load_pass_max_ms": stage_ms(storm, "load_pass_us", "max"),
            "time_to_all_flowing_s": storm.get("time_to_all_flowing_s"),
            "events_published": r.get("events_published"), "publish_rate": r.get("publish_rate"),
            "kernel": {k: after.get(k, 0) - before.get(k, 0) for k in after},
            "server_cpu_s": r["server"]["cpu_s"], "load_cpu": r.get("cpu"),
            "lost": r.get("lost", -1), "duplicates": r.get("duplicates", -1),
            "gap_events": r.get("gap_events", 0)}
