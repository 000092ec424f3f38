"""Hostile clients around streams (the rest are in test_hostile, test_bad_requests and
test_max_streams): the server answers each on purpose and the streams already open never notice.

  * a flood of 300 stream requests past --max-streams: every one is answered 503 and closed,
    while the streams under the limit keep receiving every event published during the flood,
    in order; afterwards the gauges are back where they were;
  * invalid UTF-8 publish bodies, alone and pipelined behind a valid publish on a keep-alive
    connection: the valid one is delivered, each invalid one is 400 and closes its connection,
    nothing of it reaches a subscriber or the published-events counter;
  * a half-closed client (it shuts its write side right after the request). The server reads
    EOF on a stream as the subscriber having gone (that is how a departed client is noticed
    without sending to it, the point of the receive armed on every stream), so by default the
    stream gets its head and then is closed and freed at once; with --stream-recv off nothing
    reads the stream, so a half-closed client keeps it and receives events. Both are checked,
    so that a change of this policy is a deliberate one.
"""

import socket
import unittest

from ringcast_harness import (HOST, HttpConn, RingcastTestCase, encode_event, pump,
                              read_available)

LIMIT = 50
FLOOD = 300


class HostileStreamsTest(RingcastTestCase):

    def test_flood_past_max_streams(self):
        server = self.start_server("--max-streams", str(LIMIT), shards=2)
        streams = server.open_streams([f"/sse/flood{i % 2}" for i in range(LIMIT)])
        base_conns = server.metrics().sum("ringcast_connections")
        conn = server.conn()
        ids = {"flood0": [], "flood1": []}
        flood = []
        try:
            for i in range(FLOOD):
                c = HttpConn(server.port)
                flood.append(c)
                c.send(c.build("GET", f"/sse/flood{i % 2}"), tolerate_reset=True)
                if i % 10 == 0:
                    topic = f"flood{(i // 10) % 2}"
                    ids[topic].append(server.publish(topic, f"during {i}".encode(), conn=conn))
                    read_available(streams)
            for i, c in enumerate(flood):
                self.assertClosedError(c, c.read_response(), 503, f"flood request #{i}")
        finally:
            for c in flood:
                c.close()
        self.assertEqual(server.metrics().sum("ringcast_rejected_streams_total"), FLOOD)
        want = {t: len(v) for t, v in ids.items()}
        pump(streams, lambda: all(len(s.events) >= want[s.target[5:]] for s in streams), 20,
             "every event published during the flood")
        for s in streams:
            self.assertEqual([e.id for e in s.events], ids[s.target[5:]], s.target)
            self.assertFalse(s.eof, f"{s.target} was closed")
        self.assertEqual(server.metrics().sum("ringcast_streams"), LIMIT)
        conn.close()
        server.wait_metric("ringcast_connections", lambda v: v == base_conns, 15,
                           "the flood's connections freed")
        self.assertEqual(server.request("GET", "/healthz").status, 200)

    def test_invalid_utf8_reaches_nobody(self):
        server = self.start_server(shards=2)
        sub = server.stream("/sse/utf")
        sub.wait(lambda s: s.ready, 10, "the subscriber")
        published = server.metrics().sum("ringcast_events_published_total")
        good = [server.publish("utf", "before ✓".encode())]
        for body in [b"\xff", b"ok \xc3", b"\xed\xbf\xbf", b"\xf8\x88\x80\x80\x80"]:
            with self.subTest(body=body), HttpConn(server.port) as c:
                c.send(c.build("POST", "/pub/utf", body), tolerate_reset=True)
                self.assertClosedError(c, c.read_response(), 400, repr(body))
        # Pipelined: a valid publish, an invalid one, then one that must never be read.
        with HttpConn(server.port) as c:
            c.send(c.build("POST", "/pub/utf", "valid é".encode())
                   + c.build("POST", "/pub/utf", b"bad \x80 byte")
                   + c.build("POST", "/pub/utf", b"after the error"), tolerate_reset=True)
            first = c.read_response()
            self.assertEqual(first.status, 202, str(first))
            good.append(first.json()["id"])
            self.assertClosedError(c, c.read_response(), 400, "pipelined invalid body")
        good.append(server.publish("utf", "after ✓".encode()))
        sub.wait(lambda s: len(s.events) >= 3, 10, "the valid events")
        self.assertEqual([e.raw for e in sub.events],
                         [encode_event(good[0], "before ✓".encode()),
                          encode_event(good[1], "valid é".encode()),
                          encode_event(good[2], "after ✓".encode())])
        self.assertEqual(server.metrics().sum("ringcast_events_published_total") - published, 3)
        self.assertEqual(server.request("GET", "/healthz").status, 200)

    def half_closed(self, port: int) -> socket.socket:
        s = socket.create_connection((HOST, port), timeout=10)
        s.sendall(b"GET /sse/half HTTP/1.1\r\nHost: x\r\n\r\n")
        s.shutdown(socket.SHUT_WR)
        return s

    def read_until_eof_or(self, s: socket.socket, needle: bytes) -> bytes:
        data = b""
        for _ in range(200):  # bounded: the socket's 10 s timeout ends each recv
            chunk = s.recv(65536)
            if not chunk:
                return data + b"<EOF>"
            data += chunk
            if needle in data:
                return data
        return data

    def test_half_closed_client_default_is_departed(self):
        server = self.start_server(shards=1)
        s = self.half_closed(server.port)
        try:
            data = self.read_until_eof_or(s, b"never sent")
        finally:
            s.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 200 OK\r\n"), data[:200])
        self.assertTrue(data.endswith(b"<EOF>"), data[-200:])
        server.wait_metric("ringcast_streams", lambda v: v == 0, 10, "the stream freed")
        server.wait_metric("ringcast_connections", lambda v: v == 1, 10, "only the scrape left")

    def test_half_closed_client_keeps_stream_without_stream_recv(self):
        server = self.start_server("--stream-recv", "off", shards=1)
        s = self.half_closed(server.port)
        try:
            server.wait_metric("ringcast_streams", lambda v: v == 1, 10, "the half-closed stream")
            ids = [server.publish("half", f"#{i}".encode()) for i in range(3)]
            data = self.read_until_eof_or(s, encode_event(ids[-1], b"#2"))
        finally:
            s.close()
        for i, eid in enumerate(ids):
            self.assertIn(encode_event(eid, f"#{i}".encode()), data)
        self.assertNotIn(b"<EOF>", data)


if __name__ == "__main__":
    unittest.main()
