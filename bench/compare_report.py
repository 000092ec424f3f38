"""bench/compare.py's report: medians and spread over the passes, ratios between servers of the
same run, the markdown tables (results.md) and the plots. No measuring happens here: it reads
the results dict that compare.Bench.run() returned (and results.json holds)."""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
from pathlib import Path

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
    for name, why in results.get("skipped", {}).items():
        lines += [f"**Not measured: {name}** — {why}.", ""]
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
    w2_counts = sorted({w["streams"] for r in servers.values() for p in r for w in p["w2"]})
    if w2_counts:
        lines += ["", "## W2: single-event fan-out", "",
                  "| server | streams | latency p50 µs | p99 µs | max µs | last subscriber p50 µs | "
                  "kernel floor µs (N sends) | last ÷ floor | publish ack p50 / p99 ms | lost |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for n in w2_counts:
        cols = {k: col("w2", k, n) for k in ("p50_us", "p99_us", "max_us", "last_delivery_p50_us",
                                             "lost", "floor_us", "vs_floor", "publish_p50_ms",
                                             "publish_p99_ms")}
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
                         f"{ack_cell(cols['publish_p50_ms'][name], cols['publish_p99_ms'][name])} | "
                         f"{int(sum(cols['lost'][name]))} |")
            summary.setdefault("w2", {}).setdefault(name, {})[n] = {
                "p50": spread(cols["p50_us"][name])[0], "p99": spread(cols["p99_us"][name])[0]}
    def ran(workload: str) -> bool:
        return bool(names) and all(workload in run for name in names for run in servers[name])

    if ran("w3"):
        lines += w3_table(servers)
        summary["w3"] = {n: spread([r["w3"]["deliveries_per_s"] for r in servers[n]])[0] for n in names}
    if any(run.get("ack") for runs in servers.values() for run in runs):
        lines += ack_table(servers)
    # W4
    if ran("w4"):
        lines += w4_tables({name: servers[name] for name in names}, "")
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
    if "h2" in results:
        lines += h2_summary(results, summary)
    if "w2" in summary:
        methods = sorted({f["method"] for fl in results.get("w2_floors", {}).values() for f in fl})
        lines += ["", "\"kernel floor\": bench/floor/kernel_floor at the same N, run right before "
                      "each W2 pass (the median of its rounds, from the fastest of its methods: "
                      f"{', '.join(methods) or '-'}). \"last ÷ floor\" is each pass's time to the last "
                      "subscriber divided by the floor taken just before it; median (min–max) "
                      "over the passes."]
    # Every pass of ringcast's, over HTTP/1.1 and (--protocols h2) HTTP/2.
    ringcast_runs = [run for name in names if name.startswith("ringcast") for run in servers[name]]
    ringcast_runs += [run for name, runs in results.get("h2", {}).get("servers", {}).items()
                      if name.startswith("ringcast") for run in runs]
    checked = [(w.get("events_published"), w.get("serializations"))
               for run in ringcast_runs for w in checked_runs(run)
               if w.get("serializations") is not None]
    if checked:
        same = sum(1 for e, z in checked if e == z)
        lines += ["", f"`ringcast_serializations_total` (scraped before and after each run) equalled "
                      f"the events published in {same} of {len(checked)} ringcast W2/W3/ack runs "
                      f"({sum(e for e, _ in checked):,} events in all)."]
    overflows = [w.get("cq_overflows") for run in ringcast_runs for w in checked_runs(run)
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


def checked_runs(run: dict) -> list[dict]:
    """The runs of one pass whose serializations compare.py checked (ringcast only)."""
    return [*run.get("w2", []), *run.get("ack", []), run.get("w3") or {}, run.get("w3_p1") or {}]


def ack_cell(p50: list, p99: list) -> str:
    """"p50 / p99" in ms, medians over the passes."""
    p50, p99 = [v for v in p50 if v is not None], [v for v in p99 if v is not None]
    if not p50:
        return "-"
    return f"{fmt(spread(p50)[0], 2)} / {fmt(spread(p99)[0], 2)}"


PEER = "nchan"  # the ratios' reference: nginx+nchan, the established server


def w3_table(servers: dict) -> list[str]:
    """W3 with one publish in flight (what requests, fetch and curl do) and 16 pipelined; each
    rate beside nginx+nchan's at the same depth from this run."""
    lines = ["", "## W3: burst to many subscribers", "",
             "One publisher as fast as the server answers, with 1 publish in flight (a client that "
             "waits for each answer) and with 16 pipelined. Publish ack: each request's write to "
             "its answer (ringcast-load, the same for every server; the publisher on a thread "
             "of its own, so the answer is read when it arrives).", "",
             "| server | streams | publishes in flight | delivered events/s | ÷ nginx+nchan | "
             "publish ack p50 / p99 ms | lost / dup / reordered |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for key, depth in (("w3_p1", 1), ("w3", 16)):
        ref = [r[key]["deliveries_per_s"] for r in servers.get(PEER, []) if key in r]
        ref_med = spread(ref)[0] if ref else float("nan")
        for name, runs in servers.items():
            w = [r[key] for r in runs if key in r]
            if not w:
                continue
            rate = spread([x["deliveries_per_s"] for x in w])[0]
            ratio = f"{rate / ref_med:.1f}×" if ref and ref_med else "-"
            lines.append(
                f"| {name} | {fmt(w[0]['streams'])} | {depth} | {cell([x['deliveries_per_s'] for x in w])} | "
                f"{ratio} | {ack_cell([x.get('publish_p50_ms') for x in w], [x.get('publish_p99_ms') for x in w])} | "
                f"{sum(x['lost'] for x in w)} / {sum(x['duplicates'] for x in w)} / "
                f"{sum(x['reordered'] for x in w)} |")
    if PEER not in servers:
        lines += ["", "nginx+nchan was not measured in this run: no ratios."]
    return lines


def ack_table(servers: dict) -> list[str]:
    """Publish ack latency: sequential publishes, one in flight, to one topic of N subscribers."""
    lines = ["", "## Publish ack latency: sequential publishes to N subscribers", "",
             "One publisher, one publish in flight, each sent as soon as the last was answered "
             "(300, or as many as fit the run's time bound: the count column), to one topic; "
             "every event checked at every subscriber. Latency per publish: its write to its "
             "answer, read on a load-generator thread that holds no stream. Servers are measured up to what their fd tables hold.", "",
             "| server | subscribers | publishes answered | p50 ms | p90 ms | p99 ms | max ms | "
             "delivered events/s | lost |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    counts = sorted({a["streams"] for runs in servers.values() for r in runs for a in r.get("ack", [])})
    for n in counts:
        for name, runs in servers.items():
            w = [a for r in runs for a in r.get("ack", []) if a["streams"] == n]
            if not w:
                continue

            def c(key, digits=2):
                return cell([x.get(key) for x in w if x.get(key) is not None], digits)
            lines.append(f"| {name} | {fmt(n)} | {c('publish_requests', 0)} | {c('publish_p50_ms')} | "
                         f"{c('publish_p90_ms')} | {c('publish_p99_ms')} | {c('publish_max_ms')} | "
                         f"{c('deliveries_per_s', 0)} | {sum(x['lost'] for x in w)} |")
    return lines


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


def h2_summary(results: dict, summary: dict) -> list[str]:
    """W1 to W4 over cleartext HTTP/2 (--protocols h2): every server that speaks it, the
    same load generator, S streams to a connection; beside the same server's HTTP/1.1 figures
    from this run where the stream counts match. A row a server could not complete says why,
    with no figures."""
    h2 = results["h2"]
    s = h2["streams_per_conn"]
    servers = h2["servers"]
    plain = results.get("servers", {})
    lines = ["", f"## HTTP/2: W1 to W4 over cleartext HTTP/2, {s} streams to a connection", "",
             "Prior knowledge (no upgrade); ringcast-load `--h2 --streams-per-conn "
             f"{s}` for every server, its publisher over HTTP/1.1. What each server does:", ""]
    for name, how in h2["how"].items():
        lines.append(f"- **{name}**: {how}.")

    def rows(runs: list[dict], key: str, n: int | None = None) -> tuple[list[dict], list[str]]:
        """The passes' rows at n (or the pass's `key` row): the measured ones, and why the
        others are not."""
        got, broken = [], []
        for run in runs:
            w = run.get(key)
            if isinstance(w, list):
                w = next((x for x in w if x.get("streams") == n), None)
            if not w:
                continue
            (broken.append(w["broken"]) if "broken" in w else got.append(w))
        return got, broken

    def note(got: list, broken: list[str]) -> str:
        if not broken:
            return ""
        if not got:
            return f"**not measured**: {broken[0]}"
        return f" (broke in {len(broken)} of {len(got) + len(broken)} passes: {broken[0]})"

    def marked(text: str, got: list[dict]) -> str:
        return text + (" (incomplete)" if any(not w.get("completed", True) for w in got) else "")

    # W1
    counts = sorted({w["streams"] for runs in servers.values() for r in runs for w in r.get("w1", [])})
    if counts:
        lines += ["", "### W1 over HTTP/2: idle streams", "",
                  "Server RSS growth ÷ streams; the kernel's `Slab` growth ÷ 2 × streams (both ends "
                  "are on this box); together, and ÷ the same server's together over HTTP/1.1 at "
                  "the same N in this run (user B/stream + kernel B/socket).", "",
                  "| server | streams | connections | user B / stream | kernel B / stream | together "
                  "| HTTP/1.1 together ÷ HTTP/2 | streams connected/s | load generator B / stream |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for n in counts:
        for name, runs in servers.items():
            got, broken = rows(runs, "w1", n)
            if not got and not broken:
                continue
            conns = fmt(-(-n // s))
            if not got:
                lines.append(f"| {name} | {fmt(n)} | {conns} | {note(got, broken)} | - | - | - | - | - |")
                continue
            user = [w["user_bytes_per_stream"] for w in got]
            kern = [w["kernel_bytes_per_stream"] for w in got]
            total = [u + k for u, k in zip(user, kern)]
            ratio = "-"
            p = [w for r in plain.get(name, []) for w in r.get("w1", []) if w["streams"] == n]
            if p:
                p_total = spread([w["user_bytes_per_stream"] + w["kernel_bytes_per_socket"] for w in p])[0]
                ratio = f"{p_total / spread(total)[0]:.1f}×" if spread(total)[0] > 0 else "-"
            lines.append(f"| {name} | {fmt(n)} | {conns} | {cell(user)}{note(got, broken)} | "
                         f"{cell(kern)} | {cell(total)} | {ratio} | "
                         f"{cell([w['connect_rate'] for w in got])} | "
                         f"{cell([w['client_bytes_per_stream'] for w in got])} |")
            summary.setdefault("w1", {}).setdefault(f"{name}-h2", {})[n] = spread(user)[0]
    # W2
    counts = sorted({w["streams"] for runs in servers.values() for r in runs for w in r.get("w2", [])})
    if counts:
        lines += ["", "### W2 over HTTP/2: single-event fan-out", "",
                  "The kernel floor here is one small send per connection (N ÷ S sends: what one "
                  "event costs when each send carries every stream of a connection).", "",
                  "| server | streams | connections | latency p50 µs | p99 µs | max µs | "
                  "last subscriber p50 µs | kernel floor µs (N ÷ S sends) | last ÷ floor | "
                  "publish ack p50 / p99 ms | lost |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for n in counts:
        for name, runs in servers.items():
            got, broken = rows(runs, "w2", n)
            if not got and not broken:
                continue
            conns = fmt(-(-n // s))
            if not got:
                lines.append(f"| {name} | {fmt(n)} | {conns} | {note(got, broken)} |" + " - |" * 7)
                continue

            def c(key, digits=0):
                return cell([w.get(key) for w in got if w.get(key) is not None], digits)
            ratios = [w["vs_floor"] for w in got if w.get("vs_floor") is not None]
            lines.append(f"| {name} | {fmt(n)} | {conns} | {marked(c('p50_us'), got)}{note(got, broken)} | "
                         f"{c('p99_us')} | {c('max_us')} | {c('last_delivery_p50_us')} | "
                         f"{c('floor_us') if any(w.get('floor_us') for w in got) else '-'} | "
                         f"{ratio_cell(ratios) if ratios else 'not measured'} | "
                         f"{ack_cell([w.get('publish_p50_ms') for w in got], [w.get('publish_p99_ms') for w in got])} | "
                         f"{sum(w['lost'] for w in got)} |")
    # W3
    if any(k in r for runs in servers.values() for r in runs for k in ("w3", "w3_p1")):
        lines += ["", "### W3 over HTTP/2: burst to many subscribers", "",
                  "As W3 above (one publisher, HTTP/1.1, 1 publish in flight and 16 pipelined); "
                  "÷ nginx+nchan over HTTP/2 and ÷ the same server over HTTP/1.1 in this run at "
                  "the same depth and stream count. '(incomplete)': not every stream had every "
                  "event within the load generator's timeout.", "",
                  "| server | streams | connections | publishes in flight | delivered events/s | "
                  "÷ nginx+nchan (HTTP/2) | ÷ same server (HTTP/1.1) | publish ack p50 / p99 ms | "
                  "lost / dup / reordered |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for key, depth in (("w3_p1", 1), ("w3", 16)):
            ref, _ = rows(servers.get(PEER, []), key)
            ref_med = spread([w["deliveries_per_s"] for w in ref])[0] if ref else float("nan")
            summary_key = "w3"
            for name, runs in servers.items():
                got, broken = rows(runs, key)
                if not got and not broken:
                    continue
                n = (got or [{}])[0].get("streams") or next(
                    (r[key]["streams"] for r in runs if key in r), 0)
                conns = fmt(-(-n // s))
                if not got:
                    lines.append(f"| {name} | {fmt(n)} | {conns} | {depth} | {note(got, broken)} |"
                                 + " - |" * 4)
                    continue
                rates = [w["deliveries_per_s"] for w in got]
                rate = spread(rates)[0]
                vs_peer = f"{rate / ref_med:.1f}×" if ref and ref_med == ref_med and ref_med else "-"
                p = [r[key]["deliveries_per_s"] for r in plain.get(name, [])
                     if key in r and r[key].get("streams") == n]
                vs_h1 = f"{rate / spread(p)[0]:.2f}×" if p and spread(p)[0] else "-"
                lines.append(
                    f"| {name} | {fmt(n)} | {conns} | {depth} | {marked(cell(rates), got)}{note(got, broken)} | "
                    f"{vs_peer} | {vs_h1} | "
                    f"{ack_cell([w.get('publish_p50_ms') for w in got], [w.get('publish_p99_ms') for w in got])} | "
                    f"{sum(w['lost'] for w in got)} / {sum(w['duplicates'] for w in got)} / "
                    f"{sum(w['reordered'] for w in got)} |")
                if key == summary_key:
                    summary.setdefault("w3", {})[f"{name} h2"] = rate
        if PEER not in servers:
            lines += ["", "nginx+nchan was not measured over HTTP/2 in this run: no ratios to it."]
    if any(k in r for runs in servers.values() for r in runs for k in ("w4", "w4_sat")):
        lines += w4_tables(servers, " over HTTP/2")
    lines += ["", "W5 and the ack workload run over HTTP/1.1 only."]
    return lines


def servers_keys(servers: dict) -> set[str]:
    return {k for runs in servers.values() for r in runs for k in r if r.get(k)}


def w4_tables(servers: dict, over: str) -> list[str]:
    """W4 (bench/compare_storm.py) at the same offered publish load, then as fast as each
    server answers the publisher (the W4 before issue #18), for each server's passes. A row a
    server could not complete (HTTP/2) says why."""
    lines = []
    titles = {"w4": f"W4{over}: reconnect storm at the same publish load for every server",
              "w4_sat": f"W4{over}, saturated: the publisher as fast as each server answers "
                        "(the W4 of earlier runs)"}
    for key, title in titles.items():
        rows = {name: [r[key] for r in runs if r.get(key)] for name, runs in servers.items()}
        rows = {name: got for name, got in rows.items() if got}
        if not rows:
            continue
        lines += ["", f"## {title}", ""]
        if key == "w4" or "w4" not in servers_keys(servers):
            whole = (" (whole connections: a browser loses every stream of a connection at once)"
                     if over else "")
            lines += [f"Half the streams drop at once{whole} and resume with Last-Event-ID. "
                      "Resume: the drop to the new 200 head, per stream (ms: p50 / p99 / max); "
                      "closed, started, connected: the load generator's own close of the old "
                      "connection, the new attempt issued (after waiting for one of its "
                      "--connect-window places) and its first write done, each from the drop "
                      "(p50 / max); the rest of a resume is the server's answer. "
                      "Backlog drops: loopback packets the kernel dropped at its per-CPU input "
                      "backlog over the run (netdev_max_backlog); SYN retransmits: TCPSynRetrans "
                      "(whole box).", ""]
        lines += ["| server | streams | dropped | time to all resumed s | resume ms | closed ms | "
                  "started ms | connected ms | events published (/s) | backlog drops | "
                  "SYN retransmits | lost / dup |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for name, got in rows.items():
            ok = [w for w in got if "broken" not in w]
            if not ok:
                lines.append(f"| {name} | {fmt(got[0]['streams'])} | **not measured**: "
                             f"{got[0]['broken']} |" + " - |" * 9)
                continue

            def med(k, digits=0):
                return fmt(spread([w.get(k) for w in ok])[0], digits)
            kern = [w.get("kernel", {}) for w in ok]
            lines.append(
                f"| {name} | {fmt(ok[0]['streams'])} | {med('dropped')} | "
                f"{cell([w['time_to_all_resumed_s'] for w in ok], 3)} | "
                f"{med('resume_p50_ms')} / {med('resume_p99_ms')} / {med('resume_max_ms')} | "
                f"{med('closed_p50_ms')} / {med('closed_max_ms')} | "
                f"{med('started_p50_ms')} / {med('started_max_ms')} | "
                f"{med('connected_p50_ms')} / {med('connected_max_ms')} | "
                f"{med('events_published')} ({med('publish_rate', 1)}) | "
                f"{fmt(spread([k.get('softnet_drops', 0) for k in kern])[0])} | "
                f"{fmt(spread([k.get('TCPSynRetrans', 0) for k in kern])[0])} | "
                f"{sum(w['lost'] for w in ok)} / {sum(w['duplicates'] for w in ok)} |")
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
