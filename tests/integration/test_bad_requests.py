"""Error responses, request limits, validation and keep-alive.

Every error response must have: the exact status, a `Content-Length` matching its body,
`Connection: close`, and the server must close the connection after it. The server must
stay healthy afterwards (/healthz answers, a stream still receives events).

Expectations for topic names (documented here because the contract leaves the routing of
odd paths to us):
  * `/sse/<rest>` and `/pub/<rest>`: everything after the prefix is the topic name, so
    `/sse/a/b` is the SSE endpoint with an invalid topic "a/b" -> 400 (not 404);
  * `/sse/` and `/pub/` carry an empty topic -> 400; `/sse` with no topic parameter -> 400;
  * a percent-encoded slash (`a%2Fb`) is invalid whether the server decodes it ("a/b")
    or not ('%' is not a topic character) -> 400; same for `a%20b` and `a+b`;
  * 128 characters of [A-Za-z0-9._~-] is valid, 129 is 400;
  * `/sse?topic=..` repeated up to 8 times is valid, 9 topics is 400.
A raw space inside the request target makes the request line malformed -> 400.
"""

import unittest

from ringcast_harness import HttpConn, RingcastTestCase, encode_event

TOPIC_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._~-"


class BadRequestsTest(RingcastTestCase):

    def setUp(self):
        self.server = self.start_server()

    # ---- helpers ----
    def raw_error(self, raw: bytes, status: int, what: str) -> None:
        """Sends raw request bytes on a fresh connection; expects an error + close."""
        with HttpConn(self.server.port) as conn:
            conn.send(raw, tolerate_reset=True)
            resp = conn.read_response()
            self.assertClosedError(conn, resp, status, what)

    def req_error(self, method: str, target: str, status: int, body: bytes | None = None,
                  headers=()) -> None:
        with HttpConn(self.server.port) as conn:
            conn.send(conn.build(method, target, body, headers), tolerate_reset=True)
            resp = conn.read_response()
            self.assertClosedError(conn, resp, status, f"{method} {target[:80]}")

    def assertHealthy(self) -> None:
        resp = self.server.request("GET", "/healthz")
        self.assertEqual((resp.status, resp.body), (200, b"ok\n"), str(resp))
        stream = self.server.stream("/sse/still-alive")
        stream.wait(lambda s: s.ready, 10, "the health-check stream")
        self.assertStreamHead(stream)
        event_id = self.server.publish("still-alive", b"pong")
        stream.wait(lambda s: len(s.events) >= 1, 10, "the health-check event")
        self.assertEqual(stream.events[0].raw, encode_event(event_id, b"pong"))
        stream.close()

    # ---- malformed requests and status codes ----
    def test_malformed_request_line_400(self):
        cases = [
            b"GARBAGE\r\n\r\n",
            b"GET /healthz\r\n\r\n",                      # no version
            b"GET /sse/a b HTTP/1.1\r\nHost: x\r\n\r\n",  # raw space in the target
            b"GET /healthz HTTP/1.1 extra\r\nHost: x\r\n\r\n",
            b"G\x01T /healthz HTTP/1.1\r\nHost: x\r\n\r\n",  # control character
        ]
        for raw in cases:
            with self.subTest(raw=raw):
                self.raw_error(raw, 400, repr(raw))
        self.assertHealthy()

    def test_unknown_path_404(self):
        # ("/" is not in this list: the server may serve an index page there.)
        for target in ["/nope", "/index.html", "/ssex/a", "/healthz/extra", "/pubx/a"]:
            with self.subTest(target=target):
                self.req_error("GET", target, 404)
        self.assertHealthy()

    def test_wrong_method_405(self):
        cases = [
            ("DELETE", "/sse/x", None),
            ("POST", "/sse/x", b""),
            ("GET", "/pub/x", None),
            ("PUT", "/pub/x", b"data"),
            ("POST", "/healthz", b""),
            ("DELETE", "/metrics", None),
        ]
        for method, target, body in cases:
            with self.subTest(method=method, target=target):
                self.req_error(method, target, 405, body)
        self.assertHealthy()

    def test_body_too_large_413(self):
        # Default --max-event-bytes is 65536: exactly that is accepted, one more is not.
        self.server.publish("big", b"x" * 65536)
        self.req_error("POST", "/pub/big", 413, b"x" * 65537)
        self.assertHealthy()

    def test_max_event_bytes_flag(self):
        server = self.start_server("--max-event-bytes", "100")
        server.publish("small", b"y" * 100)
        with HttpConn(server.port) as conn:
            conn.send(conn.build("POST", "/pub/small", b"y" * 101), tolerate_reset=True)
            self.assertClosedError(conn, conn.read_response(), 413, "101-byte body")

    def test_chunked_411(self):
        raw = (b"POST /pub/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5\r\nhello\r\n0\r\n\r\n")
        self.raw_error(raw, 411, "chunked POST")
        self.assertHealthy()

    def test_uri_too_long_414(self):
        # Request target of exactly 2048 bytes is fine (404 for an unknown path)...
        target = "/nope/" + "a" * (2048 - len("/nope/"))
        self.assertEqual(len(target), 2048)
        self.req_error("GET", target, 404)
        # ...2049 bytes is 414, whatever the path.
        self.req_error("GET", target + "a", 414)
        self.req_error("GET", "/sse/" + "a" * 3000, 414)
        self.req_error("POST", "/pub/" + "a" * 3000, 414, b"x")
        self.assertHealthy()

    def test_header_too_large_431(self):
        def head_of_size(size: int) -> bytes:
            start = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: "
            end = b"\r\n\r\n"
            return start + b"p" * (size - len(start) - len(end)) + end

        # A head of exactly 8192 bytes (request line + headers + blank line) is accepted.
        with HttpConn(self.server.port) as conn:
            conn.send(head_of_size(8192))
            resp = conn.read_response()
            self.assertEqual((resp.status, resp.body), (200, b"ok\n"), str(resp))
        self.raw_error(head_of_size(8193), 431, "8193-byte head")
        self.raw_error(head_of_size(20000), 431, "20000-byte head")
        many = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"".join(
            b"X-H%d: %s\r\n" % (i, b"v" * 40) for i in range(400)) + b"\r\n"
        self.raw_error(many, 431, "400 headers")
        self.assertHealthy()

    def test_http_version_505(self):
        self.raw_error(b"GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n", 505, "HTTP/2.0")
        self.raw_error(b"GET /sse/a HTTP/2.0\r\nHost: x\r\n\r\n", 505, "HTTP/2.0 stream")
        self.assertHealthy()

    # ---- body and name validation ----
    def test_invalid_utf8_400(self):
        bodies = [
            b"\xff\xfe",
            b"ok then \x80",
            b"\xc0\xaf",          # overlong '/'
            b"\xed\xa0\x80",      # UTF-16 surrogate
            b"\xe2\x82",          # truncated sequence
            b"\xf4\x90\x80\x80",  # above U+10FFFF
        ]
        for body in bodies:
            with self.subTest(body=body):
                self.req_error("POST", "/pub/utf", 400, body)
        self.server.publish("utf", "valid ✓ 🎉".encode())
        self.assertHealthy()

    def test_invalid_event_type_400(self):
        for query in ["event=", "event=a:b", "event=a%20b", "event=a+b",
                      "event=" + "e" * 65, "event=%01x"]:
            with self.subTest(query=query):
                self.req_error("POST", f"/pub/types?{query}", 400, b"x")
        # Boundary and punctuation are fine.
        self.server.publish("types", b"x", event="e" * 64)
        self.server.publish("types", b"x", event="user.signup-v2_(test)!*")
        self.assertHealthy()

    def test_invalid_topic_names(self):
        long_ok = (TOPIC_CHARS * 3)[:128]
        too_long = (TOPIC_CHARS * 3)[:129]
        bad_sse = ["/sse/", "/sse", "/sse?other=x", "/sse?topic=", f"/sse/{too_long}",
                   "/sse/a/b", "/sse/a%2Fb", "/sse/a%20b", "/sse/a+b", "/sse/a%2fb",
                   "/sse?topic=a%2Fb", "/sse?topic=a/b", "/sse?topic=a%20b",
                   f"/sse?topic={too_long}",
                   "/sse?" + "&".join(f"topic=t{i}" for i in range(9))]
        for target in bad_sse:
            with self.subTest(target=target):
                self.req_error("GET", target, 400)
        for target in ["/pub/", f"/pub/{too_long}", "/pub/a/b", "/pub/a%2Fb", "/pub/a%20b"]:
            with self.subTest(target=target):
                self.req_error("POST", target, 400, b"x")

        # The valid boundaries: a 128-char topic and 8 topics in one stream.
        eight = "/sse?" + "&".join(f"topic=t{i}" for i in range(8))
        long_stream, eight_stream = self.server.open_streams([f"/sse/{long_ok}", eight])
        self.assertStreamHead(long_stream)
        self.assertStreamHead(eight_stream)
        id_long = self.server.publish(long_ok, b"long")
        id_t7 = self.server.publish("t7", b"seven")
        long_stream.wait(lambda s: len(s.events) >= 1, 10, "event on the 128-char topic")
        eight_stream.wait(lambda s: len(s.events) >= 1, 10, "event on t7")
        self.assertEqual(long_stream.events[0].raw, encode_event(id_long, b"long"))
        self.assertEqual(eight_stream.events[0].raw, encode_event(id_t7, b"seven"))
        self.assertHealthy()

    # ---- keep-alive ----
    def test_keep_alive(self):
        with HttpConn(self.server.port) as conn:
            for _ in range(2):
                resp = conn.request("GET", "/healthz")
                self.assertEqual((resp.status, resp.body), (200, b"ok\n"), str(resp))
                self.assertNotEqual((resp.header("Connection") or "").lower(), "close")
            ids = [self.server.publish("ka", f"#{i}".encode(), conn=conn) for i in range(2)]
            self.assertNotEqual(ids[0], ids[1])
            resp = conn.request("GET", "/metrics")
            self.assertEqual(resp.status, 200)
            # An error on a kept-alive connection still closes it.
            resp = conn.request("GET", "/nope")
            self.assertClosedError(conn, resp, 404, "404 after keep-alive requests")

    def test_pipelined_requests(self):
        with HttpConn(self.server.port) as conn:
            conn.send(conn.build("GET", "/healthz") + conn.build("POST", "/pub/pipe", b"a")
                      + conn.build("GET", "/healthz"))
            first, second, third = (conn.read_response() for _ in range(3))
            self.assertEqual((first.status, first.body), (200, b"ok\n"))
            self.assertEqual(second.status, 202, str(second))
            self.assertEqual(second.json()["topic"], "pipe")
            self.assertEqual((third.status, third.body), (200, b"ok\n"))

    def test_connection_close_honoured(self):
        with HttpConn(self.server.port) as conn:
            resp = conn.request("GET", "/healthz", headers=[("Connection", "close")])
            self.assertEqual((resp.status, resp.body), (200, b"ok\n"))
            self.assertTrue(conn.at_eof(), "server kept a 'Connection: close' request open")

    def test_healthz_and_metrics(self):
        resp = self.server.request("GET", "/healthz")
        self.assertEqual((resp.status, resp.body), (200, b"ok\n"))
        m = self.server.metrics()
        for name in ["ringcast_streams", "ringcast_connections",
                     "ringcast_events_published_total", "ringcast_serializations_total",
                     "ringcast_deliveries_total", "ringcast_sends_total",
                     "ringcast_bytes_sent_total", "ringcast_heartbeats_total"]:
            with self.subTest(metric=name):
                m.sum(name)
        self.assertEqual(m.label_values("ringcast_streams", "shard"), {"0", "1"})
        self.assertEqual(m.label_values("ringcast_connections", "shard"), {"0", "1"})
        self.assertIn("slow_consumer", m.label_values("ringcast_drops_total", "reason"))


if __name__ == "__main__":
    unittest.main()
