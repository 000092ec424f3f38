"""HTTP/1.1 pipelining: many publishes sent back to back on one connection.

Checks, on 2 shards (so most publishes are forwarded to the topic's owner shard and
acknowledged back):
  * every request gets its own response, in request order, ids strictly increasing;
  * subscribers get every event exactly once and in order;
  * a subscribe pipelined behind publishes becomes a stream once their answers are written;
  * a malformed request in the middle answers the ones before it, then 400 and close.
"""

import socket
import unittest

from ringcast_harness import (HOST, HttpConn, RingcastTestCase, assert_strictly_increasing,
                              encode_event, pump)


def post(topic: str, body: bytes) -> bytes:
    return (f"POST /pub/{topic} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode() + body


class PipeliningTest(RingcastTestCase):

    def test_pipelined_publishes(self):
        server = self.start_server(shards=2)
        topics = [f"pipe{i}" for i in range(4)]  # owners spread over both shards
        streams = server.open_streams([f"/sse/{t}" for t in topics for _ in range(5)])
        sent = {t: [] for t in topics}
        batch = b""
        order = []
        for n in range(200):
            t = topics[n % 4]
            body = f"{t} #{n}".encode()
            batch += post(t, body)
            order.append((t, body))
        with HttpConn(server.port) as conn:
            conn.send(batch)
            responses = [conn.read_response(timeout=20) for _ in order]
        ids = []
        for (t, body), resp in zip(order, responses):
            self.assertEqual(resp.status, 202, str(resp))
            self.assertEqual(resp.json()["topic"], t)
            ids.append(resp.json()["id"])
            sent[t].append((resp.json()["id"], body))
        for t in topics:
            assert_strictly_increasing(self, [i for i, _ in sent[t]], f"ids of {t}")
        pump(streams, lambda: all(len(s.events) >= 50 for s in streams), 30, "every event")
        for k, s in enumerate(streams):
            t = topics[k // 5]
            self.assertEqual([(e.id, e.data) for e in s.events], sent[t], s.describe())

    def test_subscribe_behind_publishes(self):
        server = self.start_server(shards=2)
        sock = socket.create_connection((HOST, server.port), timeout=10)
        sock.sendall(post("behind", b"one") + post("behind", b"two") +
                     b"GET /sse/behind HTTP/1.1\r\nHost: x\r\n\r\n")
        got = b""
        for _ in range(200):
            chunk = sock.recv(65536)
            if not chunk:
                break
            got += chunk
            if got.count(b"202 Accepted") == 2 and b"text/event-stream" in got:
                break
        self.assertEqual(got.count(b"HTTP/1.1 202 Accepted"), 2, got)
        self.assertLess(got.rindex(b"202 Accepted"), got.index(b"200 OK"))
        server.wait_metric("ringcast_streams", lambda v: v == 1, 10, "the pipelined stream")
        eid = server.publish("behind", b"three")
        for _ in range(200):
            if encode_event(eid, b"three") in got:
                break
            got += sock.recv(65536)
        self.assertIn(encode_event(eid, b"three"), got)
        sock.close()

    def test_bad_request_in_the_middle(self):
        server = self.start_server(shards=2)
        with HttpConn(server.port) as conn:
            conn.send(post("mid", b"a") + b"NONSENSE\r\n\r\n" + post("mid", b"b"))
            first = conn.read_response(timeout=10)
            second = conn.read_response(timeout=10)
            self.assertEqual(first.status, 202, str(first))
            self.assertEqual(second.status, 400, str(second))
            self.assertTrue(conn.at_eof())

    def test_refused_publish_keeps_its_place(self):
        # Topics owned by the other shard: the refusal must come back after the earlier acks.
        server = self.start_server(shards=2)
        for topic in ("own0", "own1", "own2", "own3"):
            with HttpConn(server.port) as conn:
                conn.send(post(topic, b"ok 1") + post(topic, b"ok 2") + post(topic, b"\xff\xfe") +
                          post(topic, b"never"))
                statuses = [conn.read_response(timeout=10).status for _ in range(3)]
                self.assertEqual(statuses, [202, 202, 400], topic)
                self.assertTrue(conn.at_eof())


if __name__ == "__main__":
    unittest.main()
