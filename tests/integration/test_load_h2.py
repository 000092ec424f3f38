"""The load generator over HTTP/2: ringcast-load --h2 --streams-per-conn S against ringcast's
cleartext port (prior knowledge).

Checks:
  * run: 200 streams on 200/50 = 4 connections; while they are open the server counts exactly
    4 HTTP/2 connections (ringcast_h2_connections), every event reaches every stream (nothing
    lost, duplicated or reordered), and the report names the connections; once the run is
    over the server holds none;
  * the same over TLS (ALPN h2, the certificate verified): one handshake per connection and
    one for the publisher;
  * storm: 400 streams on 8 connections, half the connections dropped at once (a browser
    whose network went: every stream of a connection goes together); each reconnects at once
    with all its streams asking for Last-Event-ID: all 200 dropped streams resume, nothing is
    lost, duplicated or reordered, no gap event, 4 + 4 connection attempts in all, and the
    report says where the resume's time went (closed, started, connected, resumed; no timing checked);
  * the same storm over TLS: one handshake per connection attempt, none failed;
  * usage: --streams-per-conn without --h2, --churn with --h2, and --h2 in publish mode are
    usage errors (exit 2).
"""

import json
import os
import subprocess
import tempfile
import time

from ringcast_harness import RingcastTestCase, bounded
from test_tls import metrics
from tls_pki import Pki


def load_binary() -> str:
    path = os.environ.get("RINGCAST_LOAD")
    if not path or not os.access(path, os.X_OK):
        raise RuntimeError("set RINGCAST_LOAD to the ringcast-load binary")
    return path


class LoadH2Test(RingcastTestCase):

    def test_run_over_h2(self):
        server = self.start_server()
        with tempfile.TemporaryDirectory() as tmp:
            report = os.path.join(tmp, "load.json")
            proc = subprocess.Popen(
                [load_binary(), "run", "--target", f"127.0.0.1:{server.port}", "--h2",
                 "--streams", "200", "--streams-per-conn", "50", "--topics", "2",
                 "--rate", "100", "--duration", "4", "--timeout", "60",
                 "--json", report, "--quiet"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            try:
                # The gauge reaches /metrics at the shards' next tick; the run publishes for 4 s.
                server.wait_metric("ringcast_h2_connections", lambda v: v == 4, 10,
                                   "4 HTTP/2 connections while the streams are open")
                self.assertEqual(server.metrics().sum("ringcast_h2_streams"), 200)
                _, err = proc.communicate(timeout=90)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            self.assertEqual(proc.returncode, 0, err[-2000:])
            with open(report) as f:
                r = json.load(f)
        self.assertEqual(r["streams_connected"], 200)
        self.assertGreater(r["deliveries_expected"], 0)
        self.assertEqual(r["deliveries_received"], r["deliveries_expected"])
        self.assertEqual((r["lost"], r["duplicates"], r["reordered"]), (0, 0, 0))
        self.assertEqual(r["id_regressions"], 0)
        self.assertEqual(r["error_kinds"], {})
        h2 = r["h2"]
        self.assertEqual((h2["connections_target"], h2["connections_up"], h2["connection_attempts"]), (4, 4, 4))
        self.assertEqual(h2["stream_requests"], 200)
        self.assertTrue(r["parameters"]["h2"])
        server.wait_metric("ringcast_h2_connections", lambda v: v == 0, 10, "no HTTP/2 connection after the run")

    def test_run_over_h2_tls(self):
        pki = Pki(self)
        server = self.start_server(*pki.flags())
        with tempfile.TemporaryDirectory() as tmp:
            report = os.path.join(tmp, "load.json")
            proc = subprocess.Popen(
                [load_binary(), "run", "--target", f"127.0.0.1:{server.port}", "--h2",
                 "--tls", "--tls-ca", pki.ca, "--streams", "200", "--streams-per-conn", "50",
                 "--topics", "2", "--rate", "100", "--duration", "4", "--timeout", "60",
                 "--json", report, "--quiet"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            try:
                # Our /metrics requests speak HTTP/1.1 (ALPN http/1.1): only the load's count.
                ctx = pki.client_context()
                value = None
                for _ in bounded(10, "4 HTTP/2 connections over TLS", 1000):
                    value = metrics(server.port, ctx).sum("ringcast_h2_connections")
                    if value == 4:
                        break
                    time.sleep(0.1)
                _, err = proc.communicate(timeout=90)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            self.assertEqual(proc.returncode, 0, err[-2000:])
            with open(report) as f:
                r = json.load(f)
        self.assertEqual(r["streams_connected"], 200)
        self.assertEqual(r["deliveries_received"], r["deliveries_expected"])
        self.assertEqual((r["lost"], r["duplicates"], r["reordered"]), (0, 0, 0))
        self.assertEqual(r["error_kinds"], {})
        self.assertEqual(r["h2"]["connections_up"], 4)
        self.assertEqual((r["tls"]["handshakes"], r["tls"]["failures"]), (5, 0))

    def test_storm_over_h2_drops_whole_connections(self):
        self.check_h2_storm(self.start_server(), [])

    def test_storm_over_h2_tls(self):
        # The same over TLS: each reconnect is a new handshake (ALPN h2) before the GETs.
        pki = Pki(self)
        r = self.check_h2_storm(self.start_server(*pki.flags()), ["--tls", "--tls-ca", pki.ca])
        # 8 connections, 4 reconnected, and the publisher's.
        self.assertEqual((r["tls"]["handshakes"], r["tls"]["failures"]), (13, 0))

    def check_h2_storm(self, server, extra: list[str]) -> dict:
        with tempfile.TemporaryDirectory() as tmp:
            report = os.path.join(tmp, "load.json")
            proc = subprocess.run(
                [load_binary(), "storm", "--target", f"127.0.0.1:{server.port}", "--h2",
                 "--streams", "400", "--streams-per-conn", "50", "--drop", "200", "--topics", "4",
                 "--rate", "100", "--settle", "0.5", "--after", "0.5", "--timeout", "60",
                 "--json", report, "--quiet", *extra],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                text=True, timeout=120)
            self.assertEqual(proc.returncode, 0, proc.stderr[-2000:])
            with open(report) as f:
                r = json.load(f)
        s = r["storm"]
        self.assertEqual((s["dropped"], s["drop_skipped"], s["resumed"]), (200, 0, 200))
        self.assertEqual((r["lost"], r["duplicates"], r["reordered"]), (0, 0, 0))
        self.assertEqual(r["gap_events"], 0)
        self.assertEqual(r["error_kinds"], {})
        self.assertEqual(r["disconnects"], 0, "our own drops are not the server's disconnects")
        h2 = r["h2"]
        self.assertEqual((h2["connections_target"], h2["connection_attempts"]), (8, 12))
        self.assertEqual(h2["stream_requests"], 600)
        for key in ("closed_us", "started_us", "connected_us", "resume_us"):
            self.assertEqual(s[key]["count"], 200, key)
        return r

    def test_usage(self):
        for args in (["run", "--streams-per-conn", "10"],
                     ["storm", "--h2", "--streams", "10", "--drop", "5", "--churn", "10"],
                     ["publish", "--h2"]):
            proc = subprocess.run([load_binary(), *args, "--target", "127.0.0.1:1"],
                                  stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
            self.assertEqual(proc.returncode, 2, args)
