"""Batch publishing (POST /pub, one JSON object per line) against the real binary.

  * curl sends five events on three topics in one request: 202 with every id in request order,
    and each subscriber (two shards, so several owners) gets exactly its topic's events, in
    order, with those ids;
  * a bad line is a 400 naming it, and none of the batch is published (all-or-nothing);
  * access control: without a token 401, a JWT that grants only some of the topics 403, and
    nothing is published either way;
  * limits: more events than --max-batch-events is 400, a body over --max-batch-bytes is 413;
  * a batch and a single publish behind it on one keep-alive connection are answered in order;
  * in --redis mode (a real redis-server) the ids are the stream's and subscribers get them.
"""

import base64
import hashlib
import hmac
import json
import os
import subprocess
import tempfile
import time
import unittest

from ringcast_harness import HttpConn, RingcastTestCase, SseStream, http_request
from redis_peer import RedisServer

SECRET = b"batch-publish-secret-0123456789abcdef"


def hs256(claims: dict) -> str:
    def b64(d: bytes) -> str:
        return base64.urlsafe_b64encode(d).rstrip(b"=").decode()
    msg = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + b64(json.dumps(claims).encode())
    return msg + "." + b64(hmac.new(SECRET, msg.encode(), hashlib.sha256).digest())


def ndjson(events: list[dict]) -> bytes:
    return b"".join(json.dumps(e).encode() + b"\n" for e in events)


BATCH = [
    {"topic": "a", "data": "a1"},
    {"topic": "b", "data": "b1", "event": "tick"},
    {"topic": "a", "data": "a2\nsecond line"},
    {"topic": "c", "data": "c1 \u00e9"},
    {"topic": "b", "data": "b2"},
]


class BatchPublishTest(RingcastTestCase):
    def curl(self, port: int, body: bytes, *headers: str) -> tuple[int, bytes]:
        args = ["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", "-X", "POST",
                "-H", "Content-Type: application/x-ndjson", "--data-binary", "@-"]
        for h in headers:
            args += ["-H", h]
        out = subprocess.run(args + [f"http://127.0.0.1:{port}/pub"], input=body, capture_output=True,
                             timeout=30, check=True).stdout
        text, _, code = out.rpartition(b"\n")
        return int(code), text

    def subscribe(self, server, *topics: str) -> dict[str, SseStream]:
        streams = {t: server._track(SseStream(server.port, f"/sse/{t}")) for t in topics}
        for s in streams.values():
            s.wait(lambda x: x.ready, 10, "stream head")
        return streams

    def check_delivery(self, streams: dict[str, SseStream], batch: list[dict], ids: list[str]):
        for topic, stream in streams.items():
            want = [(i, e) for i, e in zip(ids, batch) if e["topic"] == topic]
            stream.wait(lambda s: len(s.events) >= len(want), 10, f"{topic}'s events")
            got = [(ev.id, ev.data.decode(), ev.event) for ev in stream.events]
            self.assertEqual(got, [(i, e["data"], e.get("event")) for i, e in want], topic)

    def test_one_request_many_events_many_owners(self):
        server = self.start_server(shards=2)
        streams = self.subscribe(server, "a", "b", "c")
        code, body = self.curl(server.port, ndjson(BATCH))
        self.assertEqual(code, 202, body)
        answer = json.loads(body)["events"]
        self.assertEqual([a["topic"] for a in answer], [e["topic"] for e in BATCH])
        ids = [a["id"] for a in answer]
        self.assertEqual(len(set(ids)), len(ids))
        self.check_delivery(streams, BATCH, ids)

    def test_a_bad_line_is_named_and_nothing_is_published(self):
        server = self.start_server(shards=2)
        streams = self.subscribe(server, "a")
        bad = ndjson(BATCH[:2]) + b'{"topic":"a","data":"x","id":"1-1"}\n' + ndjson(BATCH[2:])
        code, body = self.curl(server.port, bad)
        self.assertEqual(code, 400, body)
        self.assertIn(b"line 3: unknown member", body)
        code, body = self.curl(server.port, ndjson([{"topic": "a", "data": "after"}]))
        self.assertEqual(code, 202, body)
        streams["a"].wait(lambda s: len(s.events) >= 1, 10, "the later event")
        self.assertEqual([e.data for e in streams["a"].events], [b"after"])

    def test_access_control(self):
        with tempfile.TemporaryDirectory() as tmp:
            secret = os.path.join(tmp, "secret")
            with open(secret, "wb") as f:
                f.write(SECRET)
            server = self.start_server("--jwt-secret-file", secret, "--publish-token", "pt-0123456789")
            streams = self.subscribe(server, "a")
            code, _ = self.curl(server.port, ndjson(BATCH))
            self.assertEqual(code, 401)
            only_a = hs256({"exp": int(time.time()) + 600, "publish": ["a"]})
            code, _ = self.curl(server.port, ndjson(BATCH), f"Authorization: Bearer {only_a}")
            self.assertEqual(code, 403)
            code, body = self.curl(server.port, ndjson(BATCH), "Authorization: Bearer pt-0123456789")
            self.assertEqual(code, 202, body)
            streams["a"].wait(lambda s: len(s.events) >= 2, 10, "a's events")
            self.assertEqual([e.data for e in streams["a"].events], [b"a1", b"a2\nsecond line"])

    def test_limits(self):
        server = self.start_server("--max-batch-events", "2", "--max-batch-bytes", "300")
        code, body = self.curl(server.port, ndjson(BATCH[:3]))
        self.assertEqual(code, 400, body)
        self.assertIn(b"line 3: more events than --max-batch-events", body)
        code, body = self.curl(server.port, ndjson([{"topic": "a", "data": "x" * 400}]))
        self.assertEqual(code, 413, body)

    def test_a_batch_then_a_single_publish_on_one_connection(self):
        server = self.start_server(shards=2)
        with HttpConn(server.port) as conn:
            conn.send(conn.build("POST", "/pub", ndjson(BATCH)) +
                      conn.build("POST", "/pub/z", b"single"))
            first, second = conn.read_response(), conn.read_response()
        self.assertEqual(first.status, 202, first)
        self.assertEqual(len(json.loads(first.body)["events"]), len(BATCH))
        self.assertEqual(second.status, 202, second)
        self.assertEqual(json.loads(second.body)["topic"], "z")

    def test_redis_mode(self):
        redis = RedisServer().start()
        self.addCleanup(redis.cleanup)
        server = self.start_server("--redis", redis.address, shards=2)
        streams = self.subscribe(server, "a", "b", "c")
        code, body = self.curl(server.port, ndjson(BATCH))
        self.assertEqual(code, 202, body)
        ids = [a["id"] for a in json.loads(body)["events"]]
        self.check_delivery(streams, BATCH, ids)
        entries = redis.command("XLEN", "ringcast:a")
        self.assertIn(b":2", entries)


if __name__ == "__main__":
    unittest.main()
