"""HAProxy in front of ringcast speaking HTTP/2 to it (`server ... proto h2`, cleartext with
prior knowledge), with the shipped config docs/deploy/haproxy-h2.cfg rendered on loopback
(issue #17: tested with a client no one here wrote; HAProxy's HTTP/2 mux is the client).

  * 50 SSE clients connect to HAProxy over HTTP/1.1 (10 on each of 5 topics); HAProxy carries
    them to ringcast as HTTP/2 streams. While they are open ringcast's /metrics shows
    ringcast_h2_streams == 50 on ringcast_h2_connections <= 4 (HAProxy runs a thread per core
    and each thread has its own backend connections; 50 streams fit in one connection's
    256), and its connections in all (ringcast_connections) stay far below 50.
  * Publishes go through HAProxy too (POST over HTTP/1.1 -> HTTP/2 to ringcast, 202 and the
    JSON answer back); every client receives every event of its topic: the ids of the 202
    answers and the data, in order.
  * 10 clients hang up, 5 with a RST and 5 with a FIN: HAProxy resets their HTTP/2 streams
    and ringcast frees them (ringcast_h2_streams and ringcast_streams fall to 40); the shared
    connections stay and the 40 others still get events. HAProxy does not end a response
    when its client only half-closes (FIN): it notices at its next write to that client, so
    the server runs with --heartbeat-ms 500 here (with heartbeats a minute apart the FIN'd
    streams stay for that minute: found while writing this test).
  * HAProxy answers an HTTP/1.1 client of an HTTP/2 response without a length with
    `Transfer-Encoding: chunked`; the clients here undo the chunking before parsing events
    (a browser's EventSource does the same).

Bounded: every wait has a deadline; the whole test takes a few seconds. HAProxy missing is a
failure, not a skip: tools/setup.sh installs it.
"""

import os
import shutil
import subprocess
import tempfile
import time
import unittest

from ringcast_harness import (HOST, HttpConn, RingcastTestCase, SseParser, SseStream, bounded,
                              check_publish_response, free_port, http_request, pump, summarize)
from test_proxy import render

CLIENTS = 50
TOPICS = 5
EVENTS_PER_TOPIC = 4
MAX_BACKEND_CONNECTIONS = 4


class ChunkedSseParser(SseParser):
    """An SseParser for a response that may come with `Transfer-Encoding: chunked`: the head
    is parsed as is, the body de-chunked before the event blocks are parsed. `raw` holds the
    head and the de-chunked body."""

    def __init__(self) -> None:
        super().__init__()
        self.chunked: bool | None = None  # known once the head is in
        self.ended = False                # the last (zero-size) chunk arrived
        self._wire = b""

    def feed(self, data: bytes) -> None:
        self._wire += data
        if self.head is None:
            end = self._wire.find(b"\r\n\r\n")
            if end < 0:
                return
            head, self._wire = self._wire[:end + 4], self._wire[end + 4:]
            super().feed(head)
            self.chunked = any(line.lower().replace(b" ", b"") == b"transfer-encoding:chunked"
                               for line in head.split(b"\r\n"))
        if not self.chunked:
            body, self._wire = self._wire, b""
            super().feed(body)
            return
        out = []
        for _ in range(len(self._wire) + 1):  # each pass consumes a chunk or stops
            if self.ended:
                break
            eol = self._wire.find(b"\r\n")
            if eol < 0:
                break
            size = int(self._wire[:eol].split(b";")[0].strip(), 16)
            if size == 0:
                self.ended = True
                break
            if len(self._wire) < eol + 2 + size + 2:
                break
            chunk = self._wire[eol + 2:eol + 2 + size]
            if self._wire[eol + 2 + size:eol + 4 + size] != b"\r\n":
                raise AssertionError(f"bad chunk framing: {self._wire[:200]!r}")
            out.append(chunk)
            self._wire = self._wire[eol + 4 + size:]
        if out:
            super().feed(b"".join(out))


class HaproxyH2:
    """haproxy -db with docs/deploy/haproxy-h2.cfg rendered into a temp dir."""

    def __init__(self, upstream_port: int, read_timeout_s: int):
        self.dir = tempfile.mkdtemp(prefix="ringcast-haproxy-h2-")
        self.port = free_port()
        conf = os.path.join(self.dir, "haproxy.cfg")
        with open(conf, "w") as f:
            f.write(render("haproxy-h2.cfg", {
                "LISTEN": f"{HOST}:{self.port}", "UPSTREAM": f"{HOST}:{upstream_port}",
                "READ_TIMEOUT": str(read_timeout_s), "MAXCONN": "4096"}))
        self.log_path = os.path.join(self.dir, "stderr.log")
        self.log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen(["haproxy", "-db", "-f", conf], stdin=subprocess.DEVNULL,
                                     stdout=self.log_file, stderr=subprocess.STDOUT)
        for _ in bounded(10, "haproxy to answer /healthz", 1000):
            if self.proc.poll() is not None:
                raise AssertionError(f"haproxy exited {self.proc.returncode}:\n{self.log()}")
            try:
                if http_request(self.port, "GET", "/healthz", timeout=2).status == 200:
                    break
            except (OSError, AssertionError):
                pass  # not listening yet, or the backend not up yet (503 without a length)
            time.sleep(0.05)

    def log(self) -> str:
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")[-4000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log_file.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class H2HaproxyTest(RingcastTestCase):

    def start_haproxy(self, upstream_port: int, read_timeout_s: int = 60) -> HaproxyH2:
        if shutil.which("haproxy") is None:
            self.fail("haproxy is not installed (tools/setup.sh installs it)")
        proxy = HaproxyH2(upstream_port, read_timeout_s)
        self.addCleanup(proxy.stop)
        return proxy

    def test_fifty_clients_share_a_few_backend_http2_connections(self):
        server = self.start_server("--heartbeat-ms", "500")
        proxy = self.start_haproxy(server.port)

        topics = [f"hx{t}" for t in range(TOPICS)]
        streams = []
        for i in range(CLIENTS):
            s = SseStream(proxy.port, f"/sse/{topics[i % TOPICS]}")
            s.parser = ChunkedSseParser()
            streams.append(s)
            server._clients.append(s)  # closed with the server at the end
        pump(streams, lambda: all(s.ready or s.eof for s in streams), 30,
             f"{CLIENTS} streams through haproxy to be subscribed")
        self.assertEqual([s.target for s in streams if not s.ready], [], summarize(streams))
        for s in streams:
            self.assertRegex(s.parser.head, rb"^HTTP/1\.1 200 ", s.describe())
            self.assertIn(b"text/event-stream", s.parser.head.lower(), s.describe())

        h2_streams = server.wait_metric("ringcast_h2_streams", lambda v: v >= CLIENTS, 10,
                                        f"{CLIENTS} HTTP/2 streams at ringcast")
        m = server.metrics()
        h2_conns = m.sum("ringcast_h2_connections")
        conns = m.sum("ringcast_connections")
        print(f"\n{CLIENTS} HTTP/1.1 clients through haproxy: ringcast_h2_connections="
              f"{h2_conns:g} ringcast_h2_streams={h2_streams:g} ringcast_connections={conns:g} "
              f"ringcast_streams={m.sum('ringcast_streams'):g}", flush=True)
        self.assertEqual(h2_streams, CLIENTS)
        self.assertEqual(m.sum("ringcast_streams"), CLIENTS)
        self.assertGreaterEqual(h2_conns, 1)
        self.assertLessEqual(h2_conns, MAX_BACKEND_CONNECTIONS,
                             f"{CLIENTS} streams should share a few backend connections")
        # Every socket at ringcast: the backend connections, this scrape, maybe a health check.
        self.assertLess(conns, 10, f"{CLIENTS} streams arrived on {conns:g} connections")

        # Publishes through haproxy (HTTP/1.1 to it, HTTP/2 from it), on one keep-alive
        # client connection.
        published: dict[str, list[tuple[str, bytes]]] = {t: [] for t in topics}
        with HttpConn(proxy.port) as pub:
            for n in range(EVENTS_PER_TOPIC):
                for t in topics:
                    data = f"{t} event {n}".encode()
                    resp = pub.request("POST", f"/pub/{t}", data)
                    check_publish_response(resp, t)
                    published[t].append((resp.json()["id"], data))

        pump(streams, lambda: all(len(s.events) >= EVENTS_PER_TOPIC for s in streams), 30,
             f"{EVENTS_PER_TOPIC} events on each of {CLIENTS} streams")
        for i, s in enumerate(streams):
            want = published[topics[i % TOPICS]]
            self.assertEqual([(e.id, e.data) for e in s.events], want, s.describe())
            self.assertFalse(s.eof, s.describe())

        # Still the same few connections after the publishes went over them (a health check
        # may be in flight for a moment: wait for the count rather than read it once).
        server.wait_metric("ringcast_h2_streams", lambda v: v == CLIENTS, 10,
                           f"{CLIENTS} HTTP/2 streams after the publishes")
        self.assertLessEqual(server.metrics().sum("ringcast_h2_connections"),
                             MAX_BACKEND_CONNECTIONS)

        # Clients that leave: HAProxy resets their streams (RST_STREAM), ringcast frees them,
        # the shared connections stay up for the others.
        gone, streams = streams[:10], streams[10:]
        for s in gone[:5]:
            s.abort()  # RST
        for s in gone[5:]:
            s.close()  # FIN
        server.wait_metric("ringcast_h2_streams", lambda v: v == CLIENTS - len(gone), 10,
                           "the HTTP/2 streams of the closed clients to be freed")
        server.wait_metric("ringcast_streams", lambda v: v == CLIENTS - len(gone), 10,
                           "the closed clients' streams to be freed")
        self.assertGreaterEqual(server.metrics().sum("ringcast_h2_connections"), 1)
        last = {t: None for t in topics}
        with HttpConn(proxy.port) as pub:
            for t in topics:
                resp = pub.request("POST", f"/pub/{t}", b"after")
                check_publish_response(resp, t)
                last[t] = resp.json()["id"]
        pump(streams, lambda: all(len(s.events) > EVENTS_PER_TOPIC for s in streams), 30,
             "one more event on each remaining stream")
        for s in streams:
            self.assertEqual((s.events[-1].id, s.events[-1].data),
                             (last[s.target.rsplit("/", 1)[1]], b"after"), s.describe())
        self.assertTrue(proxy.proc.poll() is None, f"haproxy exited:\n{proxy.log()}")


if __name__ == "__main__":
    unittest.main()
