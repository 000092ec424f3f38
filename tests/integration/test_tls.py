"""HTTPS: ringcast with --tls-cert/--tls-key against real TLS clients (curl, openssl s_client,
python's ssl module) on 127.0.0.1, with a CA and certificates the test makes with `openssl`.

Checks:
  * curl over HTTPS: a stream receives exactly the bytes a plain stream would (retry, then the
    event with the id from the 202 answer); publishing over HTTPS works;
  * Last-Event-ID resume over TLS: exactly the missed events, in order;
  * session resumption: `openssl s_client -sess_in` reports "Reused" and the server counts it;
  * refused cleanly, the server staying healthy: a certificate from another CA (curl exit 60),
    TLS 1.1 (and TLS 1.2 when --tls-min-version 1.3), an ALPN list without http/1.1, plain
    HTTP to the TLS port (a 400 that says so, then the close), garbage instead of a hello;
  * SIGTERM drains a TLS stream with a final retry and a close_notify (a clean TLS EOF);
  * /metrics counts handshakes, failures and plain-HTTP attempts.
"""

import json
import os
import signal
import socket
import ssl
import subprocess
import time
import unittest

from ringcast_harness import HOST, Metrics, RingcastTestCase, SseParser, bounded, parse_id
from tls_pki import Pki

RETRY = ["--retry-ms", "2000", "--retry-jitter-ms", "0"]


class TlsClient:
    """A blocking TLS connection to the server speaking raw HTTP/1.1."""

    def __init__(self, port: int, ctx: ssl.SSLContext, timeout: float = 10.0,
                 suppress_ragged_eofs: bool = True):
        raw = socket.create_connection((HOST, port), timeout=timeout)
        self.sock = ctx.wrap_socket(raw, server_hostname="localhost",
                                    suppress_ragged_eofs=suppress_ragged_eofs)
        self.buf = b""

    def close(self) -> None:
        self.sock.close()

    def send(self, text: str, body: bytes = b"") -> None:
        self.sock.sendall(text.encode("latin-1") + body)

    def read_until(self, marker: bytes, timeout: float = 10.0) -> bytes:
        for _ in bounded(timeout, f"{marker!r} over TLS", 10_000):
            if marker in self.buf:
                return self.buf
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError(f"EOF before {marker!r}; got {self.buf!r}")
            self.buf += chunk
        raise AssertionError("unreachable")


def publish(port: int, ctx: ssl.SSLContext, topic: str, data: str) -> str:
    c = TlsClient(port, ctx)
    try:
        c.send(f"POST /pub/{topic} HTTP/1.1\r\nHost: t\r\nContent-Length: {len(data)}\r\n"
               "Connection: close\r\n\r\n" + data)
        raw = c.read_until(b"}")
        assert raw.startswith(b"HTTP/1.1 202"), raw
        return json.loads(raw.split(b"\r\n\r\n", 1)[1])["id"]
    finally:
        c.close()


def get(port: int, ctx: ssl.SSLContext, path: str) -> bytes:
    c = TlsClient(port, ctx)
    try:
        c.send(f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        for _ in bounded(10, "a whole response", 10_000):
            chunk = c.sock.recv(65536)
            if not chunk:
                return c.buf
            c.buf += chunk
    finally:
        c.close()
    raise AssertionError("unreachable")


def metrics(port: int, ctx: ssl.SSLContext) -> Metrics:
    return Metrics(get(port, ctx, "/metrics").split(b"\r\n\r\n", 1)[1].decode())


class TlsTest(RingcastTestCase):

    def setUp(self):
        self.pki = Pki(self)
        self.ctx = self.pki.client_context()

    def healthy(self, server) -> None:
        self.assertTrue(server.running, "ringcast died")
        self.assertTrue(get(server.port, self.ctx, "/healthz").endswith(b"\r\n\r\nok\n"))

    def wait_metric(self, server, name: str, at_least: float) -> None:
        # Counters reach /metrics at the next tick of every shard (once a second).
        for _ in bounded(10, f"{name} >= {at_least}", 1000):
            if metrics(server.port, self.ctx).sum(name) >= at_least:
                return
            time.sleep(0.2)

    def test_curl_stream_and_publish_over_https(self):
        for offload in ("on", "off"):
            with self.subTest(tls_offload=offload):
                self.curl_stream_and_publish(offload)

    def curl_stream_and_publish(self, offload: str):
        server = self.start_server(*self.pki.flags(*RETRY, "--tls-offload", offload))
        url = f"https://127.0.0.1:{server.port}"
        curl = subprocess.Popen(["curl", "-sS", "-N", "--max-time", "20", "--cacert", self.pki.ca,
                                 f"{url}/sse/news"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(curl.kill)
        self.wait_metric(server, "ringcast_streams", 1)
        out = subprocess.run(["curl", "-sS", "--cacert", self.pki.ca, "--data-binary", "hello tls",
                              f"{url}/pub/news"], capture_output=True, timeout=20)
        self.assertEqual(out.returncode, 0, out.stderr)
        event_id = json.loads(out.stdout)["id"]
        expected = f"retry: 2000\n\nid: {event_id}\ndata: hello tls\n\n".encode()
        # Read what curl prints until the event is there (delivery is asynchronous to the 202),
        # then stop it: exactly these bytes, nothing else.
        got = b""
        os.set_blocking(curl.stdout.fileno(), False)
        for _ in bounded(20, "the event through curl", 100_000):
            chunk = curl.stdout.read()
            if chunk:
                got += chunk
            if len(got) >= len(expected) or curl.poll() is not None:
                break
            time.sleep(0.01)
        curl.send_signal(signal.SIGTERM)
        stdout, stderr = curl.communicate(timeout=20)
        self.assertEqual(got + (stdout or b""), expected, stderr)
        # curl negotiates TLS 1.3: with the offload on, both connections left OpenSSL after
        # their handshake and ringcast's record layer carried the stream and the publish.
        self.wait_metric(server, "ringcast_tls_handshakes_total", 2)
        offloaded = metrics(server.port, self.ctx).sum("ringcast_tls_offloaded_total")
        if offload == "on":
            self.wait_metric(server, "ringcast_tls_offloaded_total", 2)
        else:
            self.assertEqual(offloaded, 0)
        server.stop()

    def test_resume_with_last_event_id_over_tls(self):
        server = self.start_server(*self.pki.flags(*RETRY))
        ids = [publish(server.port, self.ctx, "feed", f"event {i}") for i in range(5)]
        c = TlsClient(server.port, self.ctx)
        self.addCleanup(c.close)
        c.send(f"GET /sse/feed HTTP/1.1\r\nHost: t\r\nLast-Event-ID: {ids[1]}\r\n\r\n")
        raw = c.read_until(f"id: {ids[4]}\n".encode())
        c.read_until(b"event 4\n\n")
        parser = SseParser()
        parser.feed(c.buf)
        got = [(b.id, b.data) for b in parser.events]
        self.assertEqual(got, [(ids[i], f"event {i}".encode()) for i in (2, 3, 4)], raw)

    def test_session_resumption(self):
        server = self.start_server(*self.pki.flags())
        sess = f"{self.pki.dir}/session.pem"
        request = b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
        outputs = []
        for extra in (["-sess_out", sess], ["-sess_in", sess]):
            p = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{server.port}",
                                "-servername", "localhost", "-CAfile", self.pki.ca, "-ign_eof",
                                *extra], input=request, capture_output=True, timeout=20)
            outputs.append(p.stdout.decode("latin-1"))
        self.assertIn("New, TLSv1.3", outputs[0])
        self.assertIn("Reused, TLSv1.3", outputs[1])
        self.assertIn("\r\n\r\nok\n", outputs[1])
        self.wait_metric(server, "ringcast_tls_resumed_total", 1)

    def test_wrong_certificate_is_refused_by_the_client_and_the_server_stays_up(self):
        server = self.start_server(*self.pki.flags())
        out = subprocess.run(["curl", "-sS", "--cacert", self.pki.other_ca,
                              f"https://127.0.0.1:{server.port}/healthz"],
                             capture_output=True, timeout=20)
        self.assertEqual(out.returncode, 60, out.stderr)  # peer certificate cannot be verified
        self.healthy(server)

    def s_client_fails(self, port: int, *args: str) -> str:
        p = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}",
                            "-CAfile", self.pki.ca, *args], input=b"", capture_output=True,
                           timeout=20)
        self.assertNotEqual(p.returncode, 0, p.stdout.decode("latin-1"))
        return p.stdout.decode("latin-1") + p.stderr.decode("latin-1")

    def test_old_protocol_versions_and_foreign_alpn_are_refused(self):
        server = self.start_server(*self.pki.flags())
        self.s_client_fails(server.port, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0")
        # A protocol the server does not speak ("h2" is spoken now: test_h2_tls.py).
        self.s_client_fails(server.port, "-alpn", "spdy/3.1")
        self.wait_metric(server, "ringcast_tls_failures_total", 2)
        self.healthy(server)
        strict = self.start_server(*self.pki.flags("--tls-min-version", "1.3"))
        self.s_client_fails(strict.port, "-tls1_2")
        self.wait_metric(strict, "ringcast_tls_failures_total", 1)
        self.healthy(strict)

    def test_plain_http_and_garbage_to_the_tls_port(self):
        server = self.start_server(*self.pki.flags())
        with socket.create_connection((HOST, server.port), timeout=10) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            got = b""
            for _ in bounded(10, "the 400 and EOF", 1000):
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
        self.assertTrue(got.startswith(b"HTTP/1.1 400 Bad Request\r\n"), got)
        self.assertIn(b"This port speaks HTTPS", got)
        with socket.create_connection((HOST, server.port), timeout=10) as s:
            s.sendall(b"\x16\x03\x01\x00\x05" + b"\xff" * 200)
            for _ in bounded(10, "EOF after garbage", 1000):
                try:
                    if not s.recv(4096):
                        break
                except ConnectionResetError:
                    break
        self.wait_metric(server, "ringcast_tls_plain_http_total", 1)
        self.wait_metric(server, "ringcast_tls_failures_total", 2)
        self.healthy(server)

    def test_bad_certificate_files_stop_the_start_with_a_message(self):
        from ringcast_harness import ringcast_bin
        cases = [
            (["--tls-cert", "/nonexistent/cert.pem", "--tls-key", self.pki.key], 1,
             "/nonexistent/cert.pem"),
            (["--tls-cert", self.pki.cert, "--tls-key", self.pki.ca], 1, self.pki.ca),
            (["--tls-cert", self.pki.cert], 2, "--tls-cert and --tls-key go together"),
            (["--tls-cert", self.pki.cert, "--tls-key", self.pki.key, "--tls-min-version", "1.1"],
             2, "--tls-min-version"),
        ]
        for flags, code, words in cases:
            p = subprocess.run([ringcast_bin(), "--listen", "127.0.0.1:0", *flags],
                               capture_output=True, text=True, timeout=20)
            self.assertEqual(p.returncode, code, (flags, p.stderr))
            self.assertIn(words, p.stderr, flags)

    def test_sigterm_drains_tls_streams_with_close_notify(self):
        server = self.start_server(*self.pki.flags(*RETRY, "--drain-ms", "3000"))
        c = TlsClient(server.port, self.ctx, suppress_ragged_eofs=False)
        c.send("GET /sse/drain HTTP/1.1\r\nHost: t\r\n\r\n")
        c.read_until(b"retry: 2000\n\n")
        server.send_signal(signal.SIGTERM)
        # The final retry, then a clean TLS EOF: recv() returns b"" only after close_notify
        # (a bare TCP FIN raises SSLEOFError with suppress_ragged_eofs off).
        for _ in bounded(10, "EOF after the drain", 10_000):
            chunk = c.sock.recv(65536)
            if not chunk:
                break
            c.buf += chunk
        self.assertEqual(c.buf.count(b"retry: "), 2, c.buf)
        self.assertEqual(server.wait(15), 0)
        c.close()


if __name__ == "__main__":
    unittest.main()
