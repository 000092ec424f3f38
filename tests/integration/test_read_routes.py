"""Issue #15 against the real binary: every route that reads events passes one access check,
refused requests create nothing, unused topics are reclaimed, secrets stay secret.

  * The routes come from the binary itself (`ringcast --print-routes`), so a route added
    later is walked too: with --require-subscribe-token every read route answers 401 without
    a token, and no route at all (read, list, publish, admin, open) returns the bytes of an
    event published to the protected topic. A read_topics route must exist for /sse,
    /sse?topic=, /poll and /topics/{topic}, and the listing /topics must be list_topics (a
    table that lost one would fail here, not pass quietly).
  * With --max-topics 20, 25 anonymous polls and streams are refused (401) and create no
    topic; a publish with the token then succeeds (before the fix: 503 until restart).
  * Without access control, topics whose last subscriber left and whose history is empty are
    reclaimed (ringcast_topics_reclaimed_total) and the table has room again.
  * A stream opened with a JWT ends when the token expires (plus the leeway): the client
    gets `event: token_expired` and EOF; a reconnect with the same token is refused 401.
  * Secrets: --publish-token-file and --redis-password-file work, --print-config prints
    neither secret; an HS256 secret file holding a PEM key is refused at start-up.
  * Strictness: an HTTP/1.1 request without Host is 400; topics "." and ".." are 400.
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

from ringcast_harness import (HttpConn, Metrics, RingcastTestCase, SseStream, bounded,
                              http_request, ringcast_bin)

SECRET = b"read-routes-secret-0123456789abcdef"
PUBLISH_TOKEN = "publish-token-0123456789"
MARKER = "secret-marker-7f3a9c"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def hs256(claims: dict) -> str:
    msg = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + \
        b64url(json.dumps(claims).encode())
    return msg + "." + b64url(hmac.new(SECRET, msg.encode(), hashlib.sha256).digest())


def routes() -> list[tuple[str, str, str]]:
    out = subprocess.run([ringcast_bin(), "--print-routes"], check=True, capture_output=True,
                         text=True, timeout=30).stdout
    table = []
    for line in out.splitlines():
        method, example, access = line.split(" ")
        table.append((method, example, access))
    return table


class ReadRoutesTest(RingcastTestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.secret_file = os.path.join(self.tmp.name, "jwt.secret")
        with open(self.secret_file, "wb") as f:
            f.write(SECRET + b"\n")
        self.token_file = os.path.join(self.tmp.name, "publish.token")
        with open(self.token_file, "w") as f:
            f.write(PUBLISH_TOKEN + "\n")

    def protected(self, *extra: str):
        return self.start_server("--jwt-secret-file", self.secret_file, "--require-subscribe-token",
                                 "--publish-token-file", self.token_file, "--enable-admin",
                                 "--poll-timeout-ms", "300", *extra)

    def publish(self, port: int, topic: str, body: bytes, token: str = PUBLISH_TOKEN):
        return http_request(port, "POST", f"/pub/{topic}", body,
                            headers=[("Authorization", f"Bearer {token}")])

    def test_the_route_table_lists_every_read_route(self):
        table = routes()
        reads = {example.split("?")[0] for _, example, access in table if access == "read_topics"}
        self.assertEqual(reads, {"/sse", "/sse/{topic}", "/poll/{topic}", "/topics/{topic}"})
        lists = {example.split("?")[0] for _, example, access in table if access == "list_topics"}
        self.assertEqual(lists, {"/topics"})
        self.assertEqual(len({example for _, example, _ in table}), len(table))

    def test_every_route_without_a_token_is_refused_or_reveals_nothing(self):
        server = self.protected()
        r = self.publish(server.port, "secret", MARKER.encode())
        self.assertEqual(r.status, 202, r)
        for method, example, access in routes():
            target = example.replace("{topic}", "secret")
            with HttpConn(server.port, timeout=5) as conn:
                body = b"x" if method == "POST" else None
                conn.send(conn.build(method, target, body, headers=[("Last-Event-ID", "0-0")]))
                raw = b""
                conn.sock.settimeout(1.0)
                for _ in bounded(5, f"{method} {target}", 1000):
                    try:
                        chunk = conn.sock.recv(65536)
                    except (TimeoutError, OSError):
                        break
                    if not chunk:
                        break
                    raw += chunk
            status = raw[9:12].decode("ascii", "replace")
            self.assertNotIn(MARKER.encode(), raw, f"{method} {target} ({access}) leaked the event")
            if access in ("read_topics", "list_topics", "publish_topic", "admin"):
                self.assertEqual(status, "401", f"{method} {target} ({access}): {raw[:200]!r}")

    def test_refused_reads_create_no_topics(self):
        server = self.protected("--max-topics", "20")
        for i in range(25):
            for target in (f"/poll/t{i}?lastEventId=0-0", f"/sse/t{i}", f"/sse?topic=t{i}",
                           f"/topics/t{i}", f"/sse/_occupancy.t{i}"):
                r = http_request(server.port, "GET", target)
                self.assertEqual(r.status, 401, (target, r))
        r = self.publish(server.port, "authorised", b"hello")
        self.assertEqual(r.status, 202, r)
        text = http_request(server.port, "GET", "/metrics").body.decode()
        # "_stats" on each shard, and the published topic on each shard (history everywhere).
        self.assertLessEqual(Metrics(text).sum("ringcast_topics"), 4)

    def test_unused_topics_are_reclaimed(self):
        server = self.start_server("--max-topics", "20", "--poll-timeout-ms", "200", shards=1)
        # "_stats" holds one slot; 19 held polls fill the rest.
        polls = []
        for i in range(19):
            conn = HttpConn(server.port, timeout=5)
            conn.send(conn.build("GET", f"/poll/p{i}"))
            polls.append(conn)
        for conn in polls:
            self.assertEqual(conn.read_response().status, 200)
            conn.close()
        ok = False
        for _ in bounded(10, "a topic slot to be reclaimed", 100):
            r = self.publish(server.port, "fresh", b"x")
            if r.status == 202:
                ok = True
                break
            self.assertEqual(r.status, 503, r)
            time.sleep(0.1)
        self.assertTrue(ok)
        m = Metrics(http_request(server.port, "GET", "/metrics").body.decode())
        self.assertGreaterEqual(m.sum("ringcast_topics_reclaimed_total"), 1)

    def test_a_stream_ends_when_its_token_expires(self):
        server = self.protected("--jwt-leeway-s", "0", "--heartbeat-ms", "200")
        token = hs256({"exp": int(time.time()) + 2, "subscribe": ["news"]})
        stream = server._track(SseStream(server.port, f"/sse/news?access_token={token}"))
        stream.wait(lambda s: s.ready, 5, "the stream head")
        self.assertEqual(self.publish(server.port, "news", b"before").status, 202)
        stream.wait(lambda s: any(e.data == b"before" for e in s.events), 5, "the event")
        stream.wait(lambda s: s.eof, 15, "EOF after the token expired")
        self.assertEqual(stream.events[-1].event, "token_expired", stream.describe())
        self.assertFalse(stream.reset, "a clean end (FIN), not a reset")
        r = http_request(server.port, "GET", f"/sse/news?access_token={token}")
        self.assertEqual(r.status, 401, r)
        m = Metrics(http_request(server.port, "GET", "/metrics").body.decode())
        self.assertEqual(m.sum("ringcast_token_expired_streams_total"), 1)

    def test_secrets_are_not_printed(self):
        out = subprocess.run([ringcast_bin(), "--publish-token", "tok-s3cret", "--redis", "127.0.0.1:1",
                              "--redis-password", "pw-s3cret", "--print-config"],
                             check=True, capture_output=True, text=True, timeout=30).stdout
        self.assertNotIn("s3cret", out)
        self.assertIn('# publish-token = "<redacted>"', out)

    def test_the_publish_token_file_is_the_token(self):
        server = self.protected()
        self.assertEqual(self.publish(server.port, "a", b"x").status, 202)
        self.assertEqual(self.publish(server.port, "a", b"x", token=PUBLISH_TOKEN + "x").status, 401)
        self.assertEqual(self.publish(server.port, "a", b"x", token=PUBLISH_TOKEN[:-1]).status, 401)

    def test_a_pem_key_as_hs256_secret_is_refused(self):
        pem = os.path.join(self.tmp.name, "key.pem")
        subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-out", pem], check=True, capture_output=True, timeout=30)
        pub = os.path.join(self.tmp.name, "pub.pem")
        subprocess.run(["openssl", "pkey", "-in", pem, "-pubout", "-out", pub], check=True,
                       capture_output=True, timeout=30)
        proc = subprocess.run([ringcast_bin(), "--listen", "127.0.0.1:0", "--jwt-secret-file", pub],
                              capture_output=True, text=True, timeout=30)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("PEM", proc.stderr + proc.stdout)

    def test_strictness(self):
        server = self.start_server()
        with HttpConn(server.port, timeout=5) as conn:
            conn.send(b"GET /healthz HTTP/1.1\r\n\r\n")
            r = conn.read_response()
            self.assertEqual(r.status, 400)
            self.assertIn(b"Host", r.body)
        with HttpConn(server.port, timeout=5) as conn:
            conn.send(b"GET /healthz HTTP/1.0\r\n\r\n")
            self.assertEqual(conn.read_response().status, 200)
        for target in ("/sse/.", "/sse/..", "/sse?topic=..", "/poll/.", "/sse/%2E%2E"):
            self.assertEqual(http_request(server.port, "GET", target).status, 400, target)
        self.assertEqual(http_request(server.port, "POST", "/pub/..", b"x").status, 400)


if __name__ == "__main__":
    unittest.main()
