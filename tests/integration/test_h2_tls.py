"""HTTP/2 over TLS (ALPN), with the test's own CA (tls_pki.Pki): curl --http2, nghttp, h2load
and python's `h2` package over python's ssl.

Checks:
  * ALPN: the server picks h2 when offered (first or alone), http/1.1 when only that is
    offered; with `--h2 off` it picks http/1.1 from "h2,http/1.1" and refuses "h2" alone;
  * curl --http2 over https (TLS offload on and off): `ALPN ... h2`, `HTTP/2 200`, an SSE
    stream byte-exact, a publish answered 202 over HTTP/2;
  * several streams over one TLS connection with the h2 package, `last-event-id` resume;
  * nghttp -v and a bounded h2load run negotiate h2 and succeed;
  * Rapid Reset over TLS gets GOAWAY ENHANCE_YOUR_CALM; the server stays healthy;
  * SIGTERM over TLS: every stream ends with its last `retry:`, then GOAWAY(NO_ERROR).
"""

import json
import re
import signal
import socket
import ssl
import subprocess
import unittest

from h2_client import (CANCEL, ENHANCE_YOUR_CALM, NO_ERROR, Background, H2Client, RawH2,
                       assert_healthy, error_name, h2_publish, h2_tls_context, rst_frame)
from ringcast_harness import HOST, RingcastTestCase, encode_event
from tls_pki import Pki

RETRY = ["--retry-ms", "2000", "--retry-jitter-ms", "0"]
RETRY_BLOCK = b"retry: 2000\n\n"


class H2TlsTest(RingcastTestCase):

    def setUp(self):
        self.pki = Pki(self)
        self.h2ctx = h2_tls_context(self.pki.ca)
        self.h1ctx = self.pki.client_context()

    def healthy(self, server, what: str = "") -> None:
        assert_healthy(self, server, tls=self.h2ctx, h1_tls=self.h1ctx, what=what)

    def alpn(self, port: int, offer: list[str]) -> str | None:
        ctx = h2_tls_context(self.pki.ca, offer)
        with socket.create_connection((HOST, port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                return s.selected_alpn_protocol()

    def test_alpn_selection(self):
        server = self.start_server(*self.pki.flags())
        self.assertEqual(self.alpn(server.port, ["h2", "http/1.1"]), "h2")
        self.assertEqual(self.alpn(server.port, ["http/1.1", "h2"]), "h2")
        self.assertEqual(self.alpn(server.port, ["h2"]), "h2")
        self.assertEqual(self.alpn(server.port, ["http/1.1"]), "http/1.1")
        self.healthy(server)

        off = self.start_server(*self.pki.flags("--h2", "off"))
        self.assertEqual(self.alpn(off.port, ["h2", "http/1.1"]), "http/1.1")
        with self.assertRaises(ssl.SSLError):
            self.alpn(off.port, ["h2"])
        out = subprocess.run(["curl", "-sS", "-v", "--http2", "--cacert", self.pki.ca,
                              f"https://127.0.0.1:{off.port}/healthz"],
                             capture_output=True, timeout=20)
        self.assertEqual((out.returncode, out.stdout), (0, b"ok\n"), out.stderr)
        self.assertIn(b"< HTTP/1.1 200", out.stderr)
        assert_healthy(self, off, h1_tls=self.h1ctx, check_h2=False)

    def test_curl_http2_over_https(self):
        for offload in ("on", "off"):
            with self.subTest(tls_offload=offload):
                self.curl_over_https(offload)

    def curl_over_https(self, offload: str):
        server = self.start_server(*self.pki.flags(*RETRY, "--tls-offload", offload))
        url = f"https://127.0.0.1:{server.port}"
        out = subprocess.run(["curl", "-sS", "-v", "--http2", "--cacert", self.pki.ca,
                              f"{url}/healthz"], capture_output=True, timeout=20)
        self.assertEqual((out.returncode, out.stdout), (0, b"ok\n"), out.stderr)
        self.assertRegex(out.stderr.decode("latin-1"), r"ALPN[:,] server accepted (to use )?h2")
        self.assertIn(b"< HTTP/2 200", out.stderr)

        curl = Background(["curl", "-sSN", "--http2", "--cacert", self.pki.ca,
                           f"{url}/sse/news"])
        self.addCleanup(curl.stop)
        curl.wait_output(lambda o: len(o) >= len(RETRY_BLOCK), 10, "the retry line")
        self.assertEqual(curl.output(), RETRY_BLOCK)
        out = subprocess.run(["curl", "-sS", "--http2", "--cacert", self.pki.ca,
                              "--data-binary", "hello h2 tls", "-w", "\n%{http_version}",
                              f"{url}/pub/news"], capture_output=True, timeout=20)
        self.assertEqual(out.returncode, 0, out.stderr)
        body, _, version = out.stdout.rpartition(b"\n")
        self.assertEqual(version, b"2")
        event_id = json.loads(body)["id"]
        expected = RETRY_BLOCK + encode_event(event_id, b"hello h2 tls")
        self.assertEqual(curl.wait_output(lambda o: len(o) >= len(expected), 10, "the event"),
                         expected)
        curl.stop()
        self.healthy(server, f"(offload {offload})")
        server.stop()

    def test_streams_and_resume_over_one_tls_connection(self):
        for offload in ("on", "off"):
            with self.subTest(tls_offload=offload):
                server = self.start_server(*self.pki.flags(*RETRY, "--tls-offload", offload))
                c = H2Client(server.port, tls=self.h2ctx)
                self.addCleanup(c.close)
                streams = [c.get(t) for t in ["/sse/t1", "/sse/t2", "/sse?topic=t1&topic=t2"] * 2]
                c.pump(lambda: all(s.sse.retry is not None or s.done for s in streams), 10,
                       "6 streams over TLS")
                expected = {"t1": b"", "t2": b""}
                ids = []
                for i in range(6):
                    topic = f"t{i % 2 + 1}"
                    data = f"tls event {i} ".encode() + b"y" * 3000
                    eid = h2_publish(self, c, topic, data)
                    ids.append(eid)
                    expected[topic] += encode_event(eid, data)
                c.pump(lambda: all(len(s.events) >= (6 if "?" in s.path else 3)
                                   for s in streams), 15, "every event over TLS")
                for s in streams:
                    if "?" not in s.path:
                        self.assertEqual(bytes(s.data), RETRY_BLOCK + expected[s.path[-2:]],
                                         s.describe())
                    else:
                        self.assertEqual(sorted(e.id for e in s.events), sorted(ids))
                resumed = c.get("/sse/t1", [("last-event-id", ids[0])])
                c.pump(lambda: len(resumed.events) >= 2, 10, "the resumed events")
                self.assertEqual([e.id for e in resumed.events], [ids[2], ids[4]])
                self.assertIsNone(c.goaway)
                c.close()
                self.healthy(server)
                server.stop()

    def test_nghttp_and_h2load_over_tls(self):
        server = self.start_server(*self.pki.flags())
        url = f"https://127.0.0.1:{server.port}"
        out = subprocess.run(["nghttp", "-v", "-y", f"{url}/healthz", f"{url}/nope"],
                             capture_output=True, timeout=30)
        log = out.stdout.decode("utf-8", "replace")
        self.assertEqual(out.returncode, 0, log + out.stderr.decode())
        self.assertIn("The negotiated protocol: h2", log)
        statuses = sorted((int(sid), code) for sid, code in
                          re.findall(r"recv \(stream_id=(\d+)\) :status: (\d+)", log))
        self.assertEqual([code for _, code in statuses], ["200", "404"], log[-3000:])
        out = subprocess.run(["h2load", "-n", "200", "-c", "2", "-m", "4", f"{url}/healthz"],
                             capture_output=True, timeout=60)
        text = out.stdout.decode()
        self.assertEqual(out.returncode, 0, text + out.stderr.decode())
        self.assertIn("Application protocol: h2", text)
        self.assertRegex(text, r"200 succeeded, 0 failed, 0 errored")
        self.assertRegex(text, r"status codes: 200 2xx")
        self.healthy(server)

    def test_rapid_reset_over_tls(self):
        server = self.start_server(*self.pki.flags())
        r = RawH2(server.port, tls=self.h2ctx)
        self.addCleanup(r.close)
        self.assertEqual(r.sock.selected_alpn_protocol(), "h2")
        for batch in range(15):
            if not r.send(b"".join(r.request_frames(2 * i + 1, "GET", "/sse/rr")
                                   + rst_frame(2 * i + 1, CANCEL)
                                   for i in range(batch * 10, batch * 10 + 10))):
                break
            r.read_once(0.02)  # a GOAWAY is read before a write to a closed socket fails
            if r.goaways or r.eof:
                break
        r.wait_closed(10, "the close after 150 rapid resets over TLS")
        self.assertTrue(r.goaways, r.summary())
        self.assertEqual(error_name(r.goaway[1]), error_name(ENHANCE_YOUR_CALM), r.summary())
        self.healthy(server, "after a rapid reset over TLS")

    def test_sigterm_over_tls(self):
        server = self.start_server(*self.pki.flags(*RETRY, "--drain-ms", "5000"))
        r = RawH2(server.port, tls=self.h2ctx)
        self.addCleanup(r.close)
        for sid in (1, 3, 5):
            r.request(sid, "GET", "/sse/bye")
        r.pump(lambda: all(r.stream(s).sse.retry is not None for s in (1, 3, 5)), 10,
               "3 streams")
        pub = H2Client(server.port, tls=self.h2ctx)
        eid = h2_publish(self, pub, "bye", b"last words")
        pub.close()
        server.send_signal(signal.SIGTERM)
        r.wait_closed(20, "the drain over TLS")
        self.assertEqual(server.wait(20), 0)
        for sid in (1, 3, 5):
            s = r.stream(sid)
            self.assertTrue(s.ended and s.reset_code is None, f"stream {sid}: {r.summary()}")
            self.assertEqual([e.raw for e in s.sse.events], [encode_event(eid, b"last words")])
            self.assertEqual(s.sse.blocks[-1].raw, RETRY_BLOCK)
        self.assertTrue(r.goaways, r.summary())
        self.assertEqual(error_name(r.goaway[1]), error_name(NO_ERROR))


if __name__ == "__main__":
    unittest.main()
