"""Hostile clients cannot hold resources: every one is closed by a limit, the server stays healthy.

  * slowloris: a request head trickled in and never finished is closed after
    --request-timeout-ms (and an idle keep-alive connection likewise);
  * a subscriber that never reads: once its socket buffers are full (--sndbuf caps the server's
    side; loopback autotuning would otherwise absorb megabytes) its send stalls, and after
    --stall-timeout-ms the stream is closed (ringcast_drops_total{reason="stalled"});
  * a burst of 300 connections that send half a request and vanish (reset): all freed;
  * through all of it a well-behaved stream keeps receiving every event.
"""

import socket
import time
import unittest

from ringcast_harness import HOST, RingcastTestCase, bounded, encode_event, pump


class HostileClientsTest(RingcastTestCase):

    def test_slowloris_is_timed_out(self):
        server = self.start_server("--request-timeout-ms", "600", shards=1)
        trickle = socket.create_connection((HOST, server.port), timeout=10)
        idle = socket.create_connection((HOST, server.port), timeout=10)
        head = b"GET /sse/slow HTTP/1.1\r\nHost: x\r\nX-Padding: "
        closed = False
        for i in range(40):  # one byte every 100 ms: never completes within 4 s
            try:
                trickle.sendall(head[i:i + 1] if i < len(head) else b"a")
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            time.sleep(0.1)
        if not closed:
            trickle.settimeout(5)
            try:
                closed = trickle.recv(100) == b""
            except ConnectionResetError:
                closed = True
        self.assertTrue(closed, "a never-finished request head must be closed")
        idle.settimeout(5)
        self.assertEqual(idle.recv(100), b"", "an idle connection must be closed")
        self.assertEqual(server.request("GET", "/healthz").status, 200)

    def test_reader_that_never_reads_is_stalled_out(self):
        # A small send buffer (--sndbuf) keeps the kernel from soaking up the whole flood.
        server = self.start_server("--stall-timeout-ms", "1000", "--heartbeat-ms", "400",
                                   "--history", "100000", "--sndbuf", "8192", shards=1)
        stuck = socket.socket()
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.connect((HOST, server.port))
        stuck.sendall(b"GET /sse/flood HTTP/1.1\r\nHost: x\r\n\r\n")
        good = server.stream("/sse/flood")
        server.wait_metric("ringcast_streams", lambda v: v == 2, 10, "both streams")
        conn = server.conn()
        ids = []
        body = b"x" * 16384
        for _ in range(60):  # ~1 MB: far more than the stuck stream's buffers hold
            ids.append(server.publish("flood", body, conn=conn))
            good.read_available()  # the good reader keeps up
        server.wait_metric("ringcast_drops_total", lambda v: v >= 1, 15, "the stalled stream",
                           reason="stalled")
        server.wait_metric("ringcast_streams", lambda v: v == 1, 10, "only the good stream")
        pump([good], lambda: len(good.events) >= len(ids), 20, "every event on the good stream")
        self.assertEqual([e.id for e in good.events], ids)
        stuck.close()

    def test_half_requests_then_reset(self):
        server = self.start_server(shards=2)
        socks = []
        for i in range(300):
            s = socket.create_connection((HOST, server.port), timeout=10)
            s.sendall(b"POST /pub/x HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nhalf")
            socks.append(s)
        for s in socks:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            s.close()
        server.wait_metric("ringcast_connections", lambda v: v <= 1, 15, "the reset connections freed")
        good = server.stream("/sse/after")
        server.wait_metric("ringcast_streams", lambda v: v == 1, 10, "a new stream")
        eid = server.publish("after", b"still fine")
        pump([good], lambda: len(good.events) >= 1, 10, "the event")
        self.assertEqual(good.events[0].raw, encode_event(eid, b"still fine"))


if __name__ == "__main__":
    unittest.main()
