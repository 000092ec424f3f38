"""bench/compare.py over cleartext HTTP/2 (--protocols h2): W1, W2, W3 and W4 with
--streams-per-conn S streams to a connection, for every server that speaks it, with the same
load generator. A mixin of compare.Bench (its load_run, size, workloads and failures)."""

from __future__ import annotations

from compare_servers import Server


class H2Passes:
    """W1, W2, W3 and W4 over cleartext HTTP/2 (prior knowledge), --streams-per-conn S to a
    connection."""

    def h2_run(self, servers: list[Server]) -> dict:
        s = self.args.streams_per_conn
        out = {"streams_per_conn": s, "how": {}, "servers": {}}
        for server in servers:
            if not server.speaks_h2:
                out["how"][server.name] = "does not speak HTTP/2 here: not measured"
                continue
            out["how"][server.name] = server.h2_how
            server.h2 = s
            try:
                runs = self.passes(server, self.h2_pass, "HTTP/2 ")
            finally:
                server.h2 = 0
            if runs:
                out["servers"][server.name] = runs
        return out

    def h2_broken(self, server: Server, n: int, idle: bool = False) -> str | None:
        """Why the HTTP/2 run just made cannot stand as a figure (the server died, did not
        hold every stream, or, `idle` (W1), dropped any), or None. A peer's breakage is
        reported in its row; ringcast's is also a failure of the run."""
        r = self.last_report
        why = None
        if not server.alive():
            why = f"server died during the run ({server.exit_note()})"
        elif "streams_connected" not in r:
            why = f"the load generator made no report (exit {r.get('exit')}: {r.get('stderr_tail', '')[-200:]})"
        elif r["streams_connected"] < n:
            h2 = r.get("h2") or {}
            why = (f"held {r['streams_connected']:,} of {n:,} streams (HTTP/2: "
                   f"{h2.get('connections_up', '?')} of {h2.get('connections_target', '?')} "
                   f"connections up, {h2.get('connection_errors', '?')} failed attempts, "
                   f"{h2.get('connections_lost', '?')} lost, {h2.get('goaways', '?')} GOAWAYs, "
                   f"{h2.get('stream_requests', '?')} stream requests)")
        elif idle and (r.get("disconnects") or (r.get("h2") or {}).get("connections_lost")):
            h2 = r.get("h2") or {}
            why = (f"dropped idle streams: {r.get('disconnects', 0):,} stream disconnects, "
                   f"{h2.get('connections_lost', 0)} connections lost, {h2.get('goaways', 0)} GOAWAYs")
        if why and server.name.startswith("ringcast"):
            self.failures.append(f"{server.name} HTTP/2 at {n} streams: {why}")
        return why

    def h2_start(self, server: Server) -> str | None:
        """Start the server over HTTP/2; why it could not (a peer's row says so), or None."""
        try:
            server.start()
            return None
        except (RuntimeError, OSError) as e:
            if server.name.startswith("ringcast"):
                raise
            note = f"did not start over HTTP/2: {e}"
            if getattr(server, "proc", None) is not None and not server.alive():
                note += f" ({server.exit_note()})"
            server.stop()
            return note

    def h2_row(self, server: Server, n: int, measure, idle: bool = False) -> dict:
        """One HTTP/2 measurement at n streams on a running server: its figures, or a row
        marked with why there are none."""
        conns = -(-n // server.h2)
        base = {"streams": n, "connections": conns, "streams_per_conn": server.h2}
        if n > server.h2_capacity():
            return {**base, "broken": f"not run: beyond {server.name}'s {server.capacity:,} "
                                      f"connections here (RLIMIT_NOFILE), {server.h2_capacity():,} streams"}
        self.last_report = {}
        try:
            row = {**measure(), **base}
        except (AttributeError, KeyError, TypeError):
            # A report with holes where figures should be: say why, if the run broke.
            why = self.h2_broken(server, n, idle)
            if why:
                return {**base, "broken": why}
            raise
        why = self.h2_broken(server, n, idle)
        if why:
            return {**base, "broken": why}
        report = self.last_report
        row["completed"] = report.get("completed", True)
        row["h2"] = report.get("h2")
        return row

    def h2_pass(self, server: Server) -> dict:
        out = {"w1": [], "w2": []}
        wanted = self.args.workloads.split(",")
        for n in self.size["h2_w1"] if "w1" in wanted else []:
            if n > server.h2_capacity():
                out["w1"].append(self.h2_row(server, n, dict))
                continue
            why = self.h2_start(server)
            if why:
                out["w1"].append({"streams": n, "connections": -(-n // server.h2), "broken": why})
                continue
            try:
                # A server that connects fewer than 2,000 streams/s has broken down: bound
                # the wait (1,000,000 streams: 500 s), not the 900 s of TLS handshakes.
                bound = max(min(60, self.size["h2_timeout"]), n // 2000)
                row = self.h2_row(server, n, lambda: self.w1(server, n, bound), idle=True)
                if "broken" not in row:
                    # Over HTTP/2 the kernel's share is per stream: S streams share a socket.
                    row["kernel_bytes_per_stream"] = row.pop("kernel_bytes_per_socket")
                out["w1"].append(row)
            finally:
                server.stop()
        runs = [(f"w2-{n}", n) for n in (self.size["h2_w2"] if "w2" in wanted else [])]
        if "w3" in wanted:
            n3 = self.size["h2_w3_streams"]
            runs += [("w3", n3), ("w3_p1", n3)]
        if "w4" in wanted:
            n4 = min(self.size["w4_streams"], server.h2_capacity())
            runs += [("w4", n4), ("w4_sat", n4)]
        started = False
        self.run_timeout = self.size["h2_timeout"]
        try:
            for key, n in runs:
                if not started or not server.alive():
                    if started:
                        server.stop()
                    why = self.h2_start(server)
                    started = why is None
                    if why:
                        row = {"streams": n, "connections": -(-n // server.h2), "broken": why}
                        if key.startswith("w2"):
                            out["w2"].append(row)
                        elif key.startswith("w4"):
                            out[key] = {**row, "variant": key}
                        else:
                            out[key] = {**row, "pipeline": 16 if key == "w3" else 1}
                        continue
                if key.startswith("w2"):
                    out["w2"].append(self.h2_row(server, n, lambda: self.w2(server, n)))
                elif key.startswith("w4"):
                    out[key] = self.h2_row(server, n, lambda: self.w4(server, key))
                else:
                    depth = 16 if key == "w3" else 1
                    out[key] = {**self.h2_row(server, n, lambda: self.w3(server, depth)),
                                "pipeline": depth}
        finally:
            self.run_timeout = 300
            if started:
                server.stop()
        return out

