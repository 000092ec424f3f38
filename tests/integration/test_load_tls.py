"""The load generator over TLS: ringcast-load --tls against ringcast --tls-cert/--tls-key on
127.0.0.1, with a CA and certificate made by `openssl` (tls_pki.py).

Checks:
  * run: every stream and the publishers complete a verified handshake (chain and address),
    every event reaches every stream (nothing lost, duplicated or reordered), and the server
    counts as many handshakes as the load generator;
  * storm with --tls-resume: every dropped stream reconnects on a resumed session (the load
    generator and the server both count the resumptions); without it, none is resumed;
  * refusals are named: a certificate from a CA we do not trust is tls_verify (the run fails,
    exit 1), a certificate without the name asked for with --tls-sni too, and --tls against a
    plain-HTTP port is tls_handshake;
  * usage: --tls without --tls-ca or --tls-insecure is a usage error (exit 2).
"""

import json
import os
import subprocess
import tempfile
import time
import unittest

from ringcast_harness import RingcastTestCase, bounded
from test_tls import metrics
from tls_pki import Pki


def load_binary() -> str:
    path = os.environ.get("RINGCAST_LOAD")
    if not path or not os.access(path, os.X_OK):
        raise RuntimeError("set RINGCAST_LOAD to the ringcast-load binary")
    return path


class LoadTlsTest(RingcastTestCase):

    def setUp(self):
        self.pki = Pki(self)
        self.ctx = self.pki.client_context()

    def load(self, port: int, *args: str, timeout: float = 120) -> tuple[int, dict, str]:
        with tempfile.TemporaryDirectory() as tmp:
            report = os.path.join(tmp, "load.json")
            proc = subprocess.run([load_binary(), *args, "--target", f"127.0.0.1:{port}",
                                   "--json", report, "--quiet"],
                                  stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  timeout=timeout)
            r = {}
            if os.path.exists(report):
                with open(report) as f:
                    r = json.load(f)
        return proc.returncode, r, proc.stderr

    def server_counter(self, server, name: str, at_least: float) -> float:
        # Counters reach /metrics at the next tick of every shard (once a second).
        value = 0.0
        for _ in bounded(10, f"{name} >= {at_least}", 1000):
            value = metrics(server.port, self.ctx).sum(name)
            if value >= at_least:
                return value
            time.sleep(0.2)
        return value

    def test_run_over_verified_tls(self):
        server = self.start_server(*self.pki.flags())
        rc, r, err = self.load(server.port, "run", "--tls", "--tls-ca", self.pki.ca,
                               "--streams", "600", "--topics", "3", "--publishers", "3",
                               "--events", "30", "--pipeline", "4", "--threads", "2", "--timeout", "60")
        self.assertEqual(rc, 0, err[-2000:])
        self.assertEqual(r["streams_connected"], 600)
        self.assertEqual(r["deliveries_expected"], 600 * 30)
        self.assertEqual(r["deliveries_received"], 600 * 30)
        self.assertEqual((r["lost"], r["duplicates"], r["reordered"]), (0, 0, 0))
        tls = r["tls"]
        # 600 streams and 3 publishers, each one full handshake (no reconnects in a clean run).
        self.assertEqual(tls["handshakes"], 603, r["error_kinds"])
        self.assertEqual((tls["resumed"], tls["failures"]), (0, 0))
        self.assertEqual(tls["handshake_us"]["count"], 603)
        self.assertTrue(r["parameters"]["tls"])
        self.assertEqual(r["parameters"]["tls_verify"], "ca")
        # The server saw the same handshakes (plus the test's own /metrics connections).
        self.assertGreaterEqual(self.server_counter(server, "ringcast_tls_handshakes_total", 603), 603)

    def storm(self, server, *extra: str) -> dict:
        rc, r, err = self.load(server.port, "storm", "--tls", "--tls-ca", self.pki.ca,
                               "--streams", "400", "--drop", "200", "--topics", "4",
                               "--rate", "400", "--timeout", "60", *extra)
        self.assertEqual(rc, 0, err[-2000:])
        self.assertEqual(r["storm"]["dropped"], 200)
        self.assertEqual(r["storm"]["resumed"], 200)
        self.assertEqual((r["lost"], r["duplicates"], r["reordered"]), (0, 0, 0))
        self.assertEqual(r["tls"]["failures"], 0, r["error_kinds"])
        return r["tls"]

    def test_storm_resumes_sessions_only_with_tls_resume(self):
        server = self.start_server(*self.pki.flags())
        tls = self.storm(server, "--tls-resume")
        # Every reconnect offered the thread's newest session, and every reconnect that reached
        # its handshake resumed: the only full handshakes are the 400 streams' first connections
        # and the publisher's. (An
        # attempt can offer a session and then fail to connect at all, e.g. EADDRINUSE on a
        # source port another process listens on; it is retried, so offers may exceed resumes.)
        self.assertGreaterEqual(tls["resume_offered"], 200)
        self.assertGreaterEqual(tls["resumed"], 200)
        self.assertEqual(tls["full"], 400 + 1, tls)
        self.assertGreaterEqual(self.server_counter(server, "ringcast_tls_resumed_total", 200), 200)
        before = metrics(server.port, self.ctx).sum("ringcast_tls_resumed_total")
        tls = self.storm(server)
        self.assertEqual((tls["resume_offered"], tls["resumed"]), (0, 0))
        self.assertGreaterEqual(tls["handshakes"], 600)  # 400 first + 200 full reconnects
        self.assertEqual(metrics(server.port, self.ctx).sum("ringcast_tls_resumed_total"), before)

    def test_refusals_are_named(self):
        server = self.start_server(*self.pki.flags())
        # A CA that did not sign the server's certificate.
        # (subscribe: no publisher, so the run ends once every stream has given up.)
        rc, r, _ = self.load(server.port, "subscribe", "--tls", "--tls-ca", self.pki.other_ca,
                             "--streams", "4", "--connect-attempts", "2", "--duration", "0",
                             "--timeout", "30")
        self.assertEqual(rc, 1)
        self.assertEqual(r["streams_connected"], 0)
        self.assertEqual(r["streams_failed"], 4)
        self.assertEqual(r["error_kinds"], {"tls_verify": 8})
        self.assertEqual((r["tls"]["handshakes"], r["tls"]["failures"]), (0, 8))
        # The certificate names localhost and 127.0.0.1, not this.
        rc, r, _ = self.load(server.port, "subscribe", "--tls", "--tls-ca", self.pki.ca,
                             "--tls-sni", "elsewhere.example", "--streams", "2",
                             "--connect-attempts", "1", "--duration", "0", "--timeout", "30")
        self.assertEqual(rc, 1)
        self.assertEqual(r["error_kinds"], {"tls_verify": 2})
        # The right name, without checking anything (--tls-insecure), is fine.
        rc, r, err = self.load(server.port, "subscribe", "--tls", "--tls-insecure", "--tls-sni",
                               "localhost", "--streams", "2", "--duration", "0")
        self.assertEqual(rc, 0, err[-2000:])
        self.assertEqual(r["tls"]["handshakes"], 2)
        # --tls against a plain-HTTP port: the answer is not a TLS record.
        plain = self.start_server()
        rc, r, _ = self.load(plain.port, "subscribe", "--tls", "--tls-ca", self.pki.ca,
                             "--streams", "2", "--connect-attempts", "1", "--duration", "0",
                             "--timeout", "30")
        self.assertEqual(rc, 1)
        self.assertEqual(r["error_kinds"], {"tls_handshake": 2})

    def test_tls_needs_a_verification_choice(self):
        proc = subprocess.run([load_binary(), "run", "--tls"], capture_output=True, text=True,
                              timeout=10)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("--tls-ca FILE or --tls-insecure", proc.stderr)
        proc = subprocess.run([load_binary(), "run", "--tls-resume"], capture_output=True,
                              text=True, timeout=10)
        self.assertEqual(proc.returncode, 2)


if __name__ == "__main__":
    unittest.main()
