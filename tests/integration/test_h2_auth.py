"""Access control over HTTP/2 (cleartext, prior knowledge): the same decisions as over
HTTP/1.1, with one difference the protocol makes: a refusal ends its stream, never the
connection, so the connection's other streams go on.

Tokens are minted here as in test_auth.py (HS256 with python's hmac, nothing from the
server's code). Clients: the `h2` package (h2_client.H2Client) and, where the exact header
block matters (several `cookie` fields), frames by hand (h2_client.RawH2). Checks:

  * --jwt-secret-file --require-subscribe-token --jwt-cookie rc_token: a JWT in
    `authorization: Bearer`, in the cookie (one field, and split over several `cookie` fields
    on one request, which the server joins with "; " as RFC 9113 §8.2.3 says: the token in
    the middle field, so "first field only" or "joined without a separator" would not find
    it) and in `?access_token=` each opens its stream and receives a published event; the same
    token on a topic it does not grant is 403 `insufficient_scope`, no token 401
    `Bearer realm="ringcast"`, a forged or expired one 401 with its reason, each ending its
    stream only (END_STREAM, no RST_STREAM, no GOAWAY), while the granted streams on that
    connection still get the next event;
  * a stream whose token expires (exp a few seconds ahead, --jwt-leeway-s 0) gets
    `event: token_expired` and END_STREAM; its sibling stream (a longer token) goes on; the
    same token is then refused 401 on that connection;
  * --publish-token over HTTP/2: 202 with the token (the event reaches a stream), 401 without
    it or with another, and the connection keeps serving;
  * --cors-origin https://a.example over HTTP/2: streams and polls from the listed origin carry
    access-control-allow-origin/-credentials and vary; streams from another origin or from none
    on the same connection carry none (the decision is per stream); preflights answer 204 with
    the allowed methods from the listed origin and 403 from another, field for field as over
    HTTP/1.1;
  * --max-streams 5 over a mix of HTTP/1.1 and HTTP/2: a sixth HTTP/2 stream (on the full
    connection and on a fresh one) is 503 with retry-after on its stream only,
    ringcast_rejected_streams_total counts each refusal, closing an HTTP/2 stream (RST_STREAM
    CANCEL) or an HTTP/1.1 one lets another HTTP/2 stream open;
  * every route of `ringcast --print-routes` (so every read route: /sse/{t}, /sse?topic=,
    /poll/{t}, /topics/{t}), asked with no token, a granting token (header, query, cookie),
    one of another scope, an expired one, a forged one, a malformed one, an unused cookie,
    sources that disagree (the first present decides), two authorization fields, and listed
    and unlisted origins, answers over HTTP/2 with the status, www-authenticate and
    access-control-allow-* fields HTTP/1.1 gives for the same request; no refused answer
    carries the protected event, and a stream opened first on the HTTP/2 connection outlives
    all of them.

Every wait is bounded; nothing asserts on speed.
"""

import json
import os
import tempfile
import time
import unittest

from h2_client import (CANCEL, H2Client, RawH2, assert_healthy, error_name, h2_publish,
                       to_response)
from ringcast_harness import (HttpConn, RingcastTestCase, SseStream, bounded,
                              check_publish_response, http_request)
from test_auth import SECRET, b64url, hs256
from test_read_routes import routes

COOKIE = "rc_token"
ORIGIN = "https://a.example"
EVIL = "https://evil.example"
MARKER = "h2-secret-marker-5d1e"
CONNECTION_SPECIFIC = {"connection", "keep-alive", "proxy-connection", "transfer-encoding",
                       "upgrade"}


def token(subscribe=None, publish=None, exp_in: float = 600, secret: bytes = SECRET) -> str:
    c = {"exp": int(time.time() + exp_in)}
    if subscribe is not None:
        c["subscribe"] = subscribe
    if publish is not None:
        c["publish"] = publish
    return hs256(c, secret)


def bearer(tok: str) -> tuple[str, str]:
    return ("authorization", f"Bearer {tok}")


def h1_head(port: int, method: str, target: str, headers=(), body: bytes | None = None,
            timeout: float = 10.0) -> tuple[int, list[tuple[str, str]], bytes]:
    """An HTTP/1.1 request on a fresh connection; returns the status, the header fields
    (names lower case) and what came of the body by the time the head was complete (plain
    answers: all of it, their Content-Length is read; streams: what arrived with the head)."""
    with HttpConn(port, timeout) as conn:
        conn.send(conn.build(method, target, body, headers))
        raw = b""
        conn.sock.settimeout(timeout)
        for _ in bounded(timeout, f"the HTTP/1.1 head of {method} {target}", 10_000):
            if b"\r\n\r\n" in raw:
                break
            chunk = conn.sock.recv(65536)
            if not chunk:
                break
            raw += chunk
        head, sep, rest = raw.partition(b"\r\n\r\n")
        if not sep or not head.startswith(b"HTTP/1.1 "):
            raise AssertionError(f"HTTP/1.1 {method} {target}: no response head, got {raw[:200]!r}")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        fields = []
        for line in lines[1:]:
            k, _, v = line.partition(":")
            fields.append((k.lower(), v.strip()))
        length = dict(fields).get("content-length")
        if length is not None:
            for _ in bounded(timeout, f"the HTTP/1.1 body of {method} {target}", 10_000):
                if len(rest) >= int(length):
                    break
                chunk = conn.sock.recv(65536)
                if not chunk:
                    break
                rest += chunk
        return status, fields, rest


class H2AuthTest(RingcastTestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="ringcast-h2auth-")
        cls.secret_file = os.path.join(cls.tmp.name, "secret")
        with open(cls.secret_file, "wb") as f:
            f.write(SECRET + b"\n")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    # ---- helpers ----
    def client(self, server) -> H2Client:
        c = H2Client(server.port)
        self.addCleanup(c.close)
        return c

    def raw(self, server) -> RawH2:
        r = RawH2(server.port)
        self.addCleanup(r.close)
        return r

    def protected(self, *extra: str):
        return self.start_server("--jwt-secret-file", self.secret_file, "--require-subscribe-token",
                                 "--jwt-cookie", COOKIE, *extra)

    def assertOpen(self, s, what: str) -> None:
        """A stream that opened: 200 text/event-stream, the retry line, not ended."""
        self.assertEqual(s.status, 200, f"{what}: {s.describe()}")
        self.assertEqual(s.header("content-type"), "text/event-stream", f"{what}: {s.describe()}")
        self.assertIsNotNone(s.sse.retry, f"{what}: {s.describe()}")
        self.assertFalse(s.done, f"{what}: {s.describe()}")

    def assertRefused(self, s, status: int, detail: str, challenge: str | None,
                      what: str) -> None:
        """A refusal over HTTP/2: the status, the detail in a text/plain body, the challenge in
        www-authenticate, and END_STREAM (not a reset): the stream ends, nothing else does."""
        self.assertEqual(s.status, status, f"{what}: {s.describe()}")
        self.assertTrue(s.ended, f"{what}: the refusal must end its stream: {s.describe()}")
        self.assertIsNone(s.reset_code, f"{what}: {s.describe()}")
        self.assertIn(detail.encode(), bytes(s.data), f"{what}: {s.describe()}")
        self.assertTrue((s.header("content-type") or "").startswith("text/plain"),
                        f"{what}: {s.headers}")
        self.assertNotIn("connection", s.header_names(), f"{what}: {s.headers}")
        if challenge is None:
            self.assertIsNone(s.header("www-authenticate"), f"{what}: {s.headers}")
        else:
            self.assertIn(challenge, s.header("www-authenticate") or "", f"{what}: {s.headers}")

    def open_streams(self, c: H2Client, requests, what: str):
        streams = [c.get(target, headers) for target, headers in requests]
        c.pump(lambda: all(s.sse.retry is not None or s.done for s in streams), 15, what)
        return streams

    def rejections(self, server) -> dict[str, float]:
        m = server.metrics()
        return {r: m.sum("ringcast_auth_rejections_total", reason=r)
                for r in m.label_values("ringcast_auth_rejections_total", "reason")}

    # ---- subscriber JWTs: header, cookie(s), query ----
    def test_token_sources_grant_their_topics_and_refuse_others(self):
        server = self.protected()
        reader = token(subscribe=["news.*"])
        writer = token(publish=["news.*"])
        c = self.client(server)
        granted = {
            "header": ("/sse/news.eu", [bearer(reader)]),
            "cookie": ("/sse/news.eu", [("cookie", f"a=b; {COOKIE}={reader}")]),
            "cookie fields": ("/sse/news.eu", [("cookie", "a=b"), ("cookie", f"{COOKIE}={reader}"),
                                               ("cookie", "c=d")]),
            "query": (f"/sse/news.eu?access_token={reader}", []),
            "query, multi-topic": (f"/sse?topic=news.eu&topic=news.us&access_token={reader}", []),
        }
        streams = dict(zip(granted, self.open_streams(c, granted.values(), "the granted streams")))
        for what, s in streams.items():
            self.assertOpen(s, what)

        # Refusals on the same connection: each ends its stream only.
        forged = token(subscribe=["*"], secret=b"not-the-secret-0123456789abcdef!")
        expired = token(subscribe=["news.*"], exp_in=-120)
        refusals = [
            ("no token", "/sse/news.eu", [], 401, "needs a token to subscribe",
             'Bearer realm="ringcast"'),
            ("header, other topic", "/sse/sport", [bearer(reader)], 403,
             "does not grant this topic", 'error="insufficient_scope"'),
            ("cookie, other topic", "/sse/sport", [("cookie", f"{COOKIE}={reader}")], 403,
             "does not grant this topic", 'error="insufficient_scope"'),
            ("cookie fields, other topic", "/sse/sport",
             [("cookie", "a=b"), ("cookie", f"{COOKIE}={reader}"), ("cookie", "c=d")], 403,
             "does not grant this topic", 'error="insufficient_scope"'),
            ("query, other topic", f"/sse/sport?access_token={reader}", [], 403,
             "does not grant this topic", 'error="insufficient_scope"'),
            ("query, one topic of two outside", f"/sse?topic=news.eu&topic=sport&access_token={reader}",
             [], 403, "does not grant this topic", 'error="insufficient_scope"'),
            ("poll, other topic", "/poll/sport?lastEventId=0-0", [bearer(reader)], 403,
             "does not grant this topic", 'error="insufficient_scope"'),
            ("forged cookie", "/sse/news.eu", [("cookie", "a=b"), ("cookie", f"{COOKIE}={forged}")],
             401, "signature", 'error_description="bad_signature"'),
            ("expired query token", f"/sse/news.eu?access_token={expired}", [], 401, "expired",
             'error_description="expired"'),
            ("another cookie only", "/sse/news.eu", [("cookie", "a=b"), ("cookie", "c=d")], 401,
             "needs a token to subscribe", 'Bearer realm="ringcast"'),
        ]
        refused = [(what, c.get(target, headers), status, detail, challenge)
                   for what, target, headers, status, detail, challenge in refusals]
        c.pump(lambda: all(s.done for _, s, *_ in refused), 10, "the refusals")
        for what, s, status, detail, challenge in refused:
            self.assertRefused(s, status, detail, challenge, what)

        # The connection and its granted streams go on: a publish over HTTP/2 on the same
        # connection reaches each of them.
        self.assertIsNone(c.goaway, c.describe_goaway())
        event_id = h2_publish_bearer(self, c, "news.eu", b"for readers", writer)
        c.pump(lambda: all(len(s.events) >= 1 or s.done for s in streams.values()), 10,
               "the event on every granted stream")
        for what, s in streams.items():
            self.assertFalse(s.done, f"{what}: {s.describe()}")
            self.assertEqual([(e.id, e.data) for e in s.events], [(event_id, b"for readers")],
                             f"{what}: {s.describe()}")
        counts = self.rejections(server)
        for reason, n in {"missing": 2, "out_of_scope": 6, "expired": 1,
                          "bad_signature": 1}.items():
            self.assertEqual(counts.get(reason), n, f"{reason}: {counts}")
        assert_healthy(self, server)

    def test_cookie_fields_split_by_hand_are_joined(self):
        # The header block written by hand (hpack, no client library that could merge or
        # split the fields): several `cookie` fields on one request are one Cookie header.
        server = self.protected()
        reader = token(subscribe=["room"])
        r = self.raw(server)
        cases = {
            1: ([("cookie", "a=b"), ("cookie", f"{COOKIE}={reader}"), ("cookie", "c=d")], 200),
            3: ([("cookie", f"{COOKIE}={reader}"), ("cookie", "z=1")], 200),
            5: ([("cookie", "a=b"), ("cookie", "x=y; " + f"{COOKIE}={reader}; q=r")], 200),
            7: ([("cookie", "a=b"), ("cookie", f"{COOKIE}={reader}")], 200),
            9: ([("cookie", "a=b"), ("cookie", "c=d")], 401),
            # 40 fields, the token in the 20th.
            11: ([("cookie", f"k{i}=v{i}") for i in range(19)] + [("cookie", f"{COOKIE}={reader}")]
                 + [("cookie", f"m{i}=w{i}") for i in range(20)], 200),
        }
        for sid, (fields, _) in cases.items():
            self.assertTrue(r.request(sid, "GET", "/sse/room", fields), r.summary())
        r.pump(lambda: all(r.stream(sid).status is not None for sid in cases), 10,
               "the answers to the cookie requests")
        for sid, (fields, status) in cases.items():
            s = r.stream(sid)
            self.assertEqual(s.status, status, f"stream {sid} {fields}: {s.headers} {bytes(s.data)!r}")
            self.assertIsNone(s.reset_code, f"stream {sid}: {error_name(s.reset_code)}")
        # The same joined value over HTTP/1.1 (one Cookie field) is granted too.
        status, _, _ = h1_head(server.port, "GET", "/sse/room",
                               [("Cookie", f"a=b; {COOKIE}={reader}; c=d")])
        self.assertEqual(status, 200)
        self.assertEqual(r.goaways, [], r.summary())

    def test_a_stream_ends_when_its_token_expires(self):
        server = self.protected("--jwt-leeway-s", "0", "--heartbeat-ms", "200",
                                "--publish-token", "pub-s3cret")
        short = token(subscribe=["news"], exp_in=3)
        long = token(subscribe=["news"])
        c = self.client(server)
        by_query, by_cookie, sibling = self.open_streams(
            c, [(f"/sse/news?access_token={short}", []),
                ("/sse/news", [("cookie", "a=b"), ("cookie", f"{COOKIE}={short}")]),
                ("/sse/news", [bearer(long)])],
            "the three streams")
        expiring = (by_query, by_cookie)
        for s in (*expiring, sibling):
            self.assertOpen(s, s.describe())
        before = h2_publish_bearer(self, c, "news", b"before", "pub-s3cret")
        c.pump(lambda: all(any(e.data == b"before" for e in s.events) for s in (*expiring, sibling)),
               10, "the event before expiry")
        c.pump(lambda: all(s.done for s in expiring), 20,
               "the end of the streams whose token expired")
        for s in expiring:
            self.assertTrue(s.ended, f"END_STREAM, not a reset: {s.describe()}")
            self.assertIsNone(s.reset_code, s.describe())
            self.assertEqual(s.events[-1].event, "token_expired", s.describe())
            self.assertEqual(json.loads(s.events[-1].data), {"reason": "token_expired"})
            self.assertEqual([e.id for e in s.events if e.event is None], [before], s.describe())
        # The sibling goes on; the connection too.
        self.assertIsNone(c.goaway, c.describe_goaway())
        self.assertFalse(sibling.done, sibling.describe())
        after = h2_publish_bearer(self, c, "news", b"after", "pub-s3cret")
        c.pump(lambda: len(sibling.events) >= 2 or sibling.done, 10, "the event after expiry")
        self.assertFalse(sibling.done, sibling.describe())
        self.assertEqual([e.id for e in sibling.events], [before, after], sibling.describe())
        for s in expiring:
            self.assertEqual([e.id for e in s.events if e.event is None], [before],
                             f"nothing after the notice: {s.describe()}")
        # An EventSource reconnecting with the same token is refused, on the same connection.
        again = c.request("GET", f"/sse/news?access_token={short}")
        self.assertRefused(again, 401, "expired", 'error_description="expired"', "the reconnect")
        again = c.request("GET", "/sse/news", [("cookie", f"{COOKIE}={short}")])
        self.assertRefused(again, 401, "expired", 'error_description="expired"',
                           "the reconnect with the cookie")
        self.assertEqual(server.metrics().sum("ringcast_token_expired_streams_total"), 2)
        self.assertEqual(server.metrics().sum("ringcast_streams"), 1)

    # ---- publishing ----
    def test_publish_token(self):
        server = self.start_server("--publish-token", "pub-s3cret")
        c = self.client(server)
        sub = self.open_streams(c, [("/sse/news", [])], "the subscriber")[0]
        self.assertOpen(sub, "the subscriber (subscribing stays open)")
        missing = c.request("POST", "/pub/news", body=b"x")
        self.assertRefused(missing, 401, "publishing needs", 'Bearer realm="ringcast"',
                           "a publish without a token")
        wrong = c.request("POST", "/pub/news", [bearer("pub-s3creT")], body=b"x")
        self.assertRefused(wrong, 401, "wrong publish token", 'error_description="wrong_token"',
                           "a publish with another token")
        batch = c.request("POST", "/pub", body=b'{"topic":"news","data":"x"}\n')
        self.assertEqual(batch.status, 401, batch.describe())
        self.assertIsNone(c.goaway, c.describe_goaway())
        event_id = h2_publish_bearer(self, c, "news", b"hello", "pub-s3cret")
        # And from a fresh connection.
        other = self.client(server)
        second = h2_publish_bearer(self, other, "news", b"again", "pub-s3cret")
        c.pump(lambda: len(sub.events) >= 2 or sub.done, 10, "the published events")
        self.assertEqual([(e.id, e.data) for e in sub.events],
                         [(event_id, b"hello"), (second, b"again")], sub.describe())
        counts = self.rejections(server)
        self.assertEqual((counts.get("missing"), counts.get("wrong_token")), (2, 1), counts)
        # The same decisions as HTTP/1.1.
        for headers in ([], [("Authorization", "Bearer pub-s3creT")],
                        [("Authorization", "Bearer pub-s3cret")]):
            h1 = http_request(server.port, "POST", "/pub/cmp", b"x", headers)
            s = c.request("POST", "/pub/cmp", [(k.lower(), v) for k, v in headers], body=b"x")
            self.assertEqual((s.status, s.header("www-authenticate")),
                             (h1.status, h1.header("WWW-Authenticate")), f"{headers}: {s.describe()} vs {h1}")

    # ---- CORS ----
    def test_cors(self):
        server = self.start_server("--cors-origin", ORIGIN, "--poll-timeout-ms", "300")
        first = server.publish("news", b"one")
        c = self.client(server)
        listed, foreign, none = self.open_streams(
            c, [("/sse/news", [("origin", ORIGIN)]), ("/sse/news", [("origin", EVIL)]),
                ("/sse/news", [])], "three streams, three origins")
        for s in (listed, foreign, none):
            self.assertOpen(s, s.describe())
        self.assertEqual(listed.header("access-control-allow-origin"), ORIGIN, listed.headers)
        self.assertEqual(listed.header("access-control-allow-credentials"), "true", listed.headers)
        self.assertIn("Origin", listed.header("vary") or "", listed.headers)
        for s, what in ((foreign, "an unlisted origin"), (none, "no origin")):
            self.assertIsNone(s.header("access-control-allow-origin"), f"{what}: {s.headers}")
            self.assertIsNone(s.header("access-control-allow-credentials"), f"{what}: {s.headers}")
        # The listed stream after the others: the decision is the stream's, not the connection's.
        late = self.open_streams(c, [("/sse?topic=news&topic=x", [("origin", ORIGIN)])],
                                 "a late listed stream")[0]
        self.assertEqual(late.header("access-control-allow-origin"), ORIGIN, late.headers)
        after_late = self.open_streams(c, [("/sse/news", [])], "a stream without origin")[0]
        self.assertIsNone(after_late.header("access-control-allow-origin"), after_late.headers)

        poll = c.request("GET", "/poll/news?lastEventId=0-0", [("origin", ORIGIN)])
        self.assertEqual(poll.status, 200, poll.describe())
        self.assertEqual(poll.header("access-control-allow-origin"), ORIGIN, poll.headers)
        self.assertEqual(poll.header("access-control-allow-credentials"), "true", poll.headers)
        self.assertEqual([e["id"] for e in json.loads(poll.data)["events"]], [first])
        poll = c.request("GET", "/poll/news?lastEventId=0-0", [("origin", EVIL)])
        self.assertEqual(poll.status, 200, poll.describe())
        self.assertIsNone(poll.header("access-control-allow-origin"), poll.headers)
        pub = c.request("POST", "/pub/news", [("origin", ORIGIN)], body=b"two")
        check_publish_response(to_response(pub), "news")
        self.assertEqual(pub.header("access-control-allow-origin"), ORIGIN, pub.headers)

        # Preflights, field for field as over HTTP/1.1.
        ask = [("access-control-request-method", "POST"),
               ("access-control-request-headers", "authorization, content-type")]
        cases = [("/pub/news", ORIGIN, 204, "POST, OPTIONS"), ("/sse/news", ORIGIN, 204, "GET, OPTIONS"),
                 ("/sse?topic=news", ORIGIN, 204, "GET, OPTIONS"),
                 ("/pub/news", EVIL, 403, None), ("/sse/news", EVIL, 403, None),
                 ("/pub/news", None, 403, None)]
        for path, origin, status, methods in cases:
            with self.subTest(path=path, origin=origin):
                headers = ([("origin", origin)] if origin else []) + ask
                s = c.request("OPTIONS", path, headers)
                self.assertEqual(s.status, status, s.describe())
                self.assertTrue(s.ended, s.describe())
                if status == 204:
                    self.assertEqual(bytes(s.data), b"", s.describe())
                    self.assertEqual(s.header("access-control-allow-origin"), ORIGIN, s.headers)
                    self.assertEqual(s.header("access-control-allow-credentials"), "true", s.headers)
                    self.assertEqual(s.header("access-control-allow-methods"), methods, s.headers)
                    self.assertIn("Authorization", s.header("access-control-allow-headers") or "",
                                  s.headers)
                    self.assertEqual(s.header("access-control-max-age"), "600", s.headers)
                    self.assertIsNone(s.header("content-length"), "a 204 carries no content-length")
                else:
                    self.assertIsNone(s.header("access-control-allow-origin"), s.headers)
                h1_status, h1_fields, h1_body = h1_head(
                    server.port, "OPTIONS", path, [(k.title(), v) for k, v in headers])
                h1_fields = sorted((k, v) for k, v in h1_fields if k not in CONNECTION_SPECIFIC)
                h2_fields = sorted((k, v) for k, v in s.headers if not k.startswith(":"))
                self.assertEqual((s.status, h2_fields, bytes(s.data)), (h1_status, h1_fields, h1_body))
        # Every stream is still there, the connection still serves.
        self.assertIsNone(c.goaway, c.describe_goaway())
        for s in (listed, foreign, none, late, after_late):
            self.assertFalse(s.done, s.describe())
        # Three refused preflights over HTTP/2 and the same three over HTTP/1.1.
        self.assertEqual(self.rejections(server).get("cors_origin"), 6)

    # ---- --max-streams over both protocols ----
    def test_max_streams_counts_http2_streams(self):
        server = self.start_server("--max-streams", "5")
        h1 = [server._track(SseStream(server.port, f"/sse/lim{i}")) for i in range(2)]
        for s in h1:
            s.wait(lambda st: st.ready, 10, f"the HTTP/1.1 stream {s.target}")
        c = self.client(server)
        h2s = self.open_streams(c, [("/sse/lim0", []), ("/sse/lim1", []),
                                    ("/sse?topic=lim0&topic=lim1", [])], "three HTTP/2 streams")
        for s in h2s:
            self.assertOpen(s, "streams 3 to 5")
        self.assertEqual(server.metrics().sum("ringcast_streams"), 5)
        base = server.metrics().sum("ringcast_rejected_streams_total")

        # The sixth: on the full connection, then on a fresh one; then over HTTP/1.1.
        sixth = c.request("GET", "/sse/lim0")
        self.assertEqual(sixth.status, 503, sixth.describe())
        self.assertTrue(sixth.ended and sixth.reset_code is None, sixth.describe())
        self.assertEqual(sixth.header("retry-after"), "5", sixth.headers)
        self.assertIn(b"stream limit reached", bytes(sixth.data), sixth.describe())
        self.assertEqual(server.metrics().sum("ringcast_rejected_streams_total"), base + 1)
        other = self.client(server)
        seventh = other.request("GET", "/sse?topic=lim1&topic=new")
        self.assertEqual((seventh.status, seventh.header("retry-after")), (503, "5"), seventh.describe())
        self.assertEqual(server.metrics().sum("ringcast_rejected_streams_total"), base + 2)
        h1_status, h1_fields, _ = h1_head(server.port, "GET", "/sse/lim0")
        self.assertEqual((h1_status, dict(h1_fields).get("retry-after")), (503, "5"))
        self.assertEqual(server.metrics().sum("ringcast_rejected_streams_total"), base + 3)
        # Plain requests still work on both connections; the open streams still deliver.
        self.assertEqual(bytes(c.request("GET", "/healthz").data), b"ok\n")
        self.assertEqual(bytes(other.request("GET", "/healthz").data), b"ok\n")
        event_id = h2_publish(self, other, "lim0", b"at the limit")
        c.pump(lambda: all(len(s.events) >= 1 or s.done for s in (h2s[0], h2s[2])), 10,
               "the event at the limit")
        for s in (h2s[0], h2s[2]):
            self.assertEqual([e.id for e in s.events], [event_id], s.describe())
        self.assertIsNone(c.goaway, c.describe_goaway())

        # Closing an HTTP/2 stream frees its place for another HTTP/2 stream ...
        c.reset(h2s[1], CANCEL)
        server.wait_metric("ringcast_streams", lambda v: v == 4, 10, "the cancelled stream freed")
        replacement = self.open_streams(other, [("/sse/lim1", [])], "the replacement")[0]
        self.assertOpen(replacement, "a stream after one closed")
        refused = other.request("GET", "/sse/lim1")
        self.assertEqual(refused.status, 503, refused.describe())
        # ... and so does closing an HTTP/1.1 stream.
        h1[0].close()
        server.wait_metric("ringcast_streams", lambda v: v == 4, 10, "the HTTP/1.1 stream freed")
        replacement2 = self.open_streams(c, [("/sse/lim0", [])], "the second replacement")[0]
        self.assertOpen(replacement2, "a stream after an HTTP/1.1 stream closed")
        self.assertEqual(server.metrics().sum("ringcast_streams"), 5)
        self.assertEqual(server.metrics().sum("ringcast_rejected_streams_total"), base + 4)

    # ---- every read route: the same decision over both protocols ----
    def test_every_route_decides_the_same_over_both_protocols(self):
        token_file = os.path.join(self.tmp.name, "publish.token")
        with open(token_file, "w") as f:
            f.write("publish-token-0123456789\n")
        server = self.protected("--publish-token-file", token_file, "--enable-admin",
                                "--poll-timeout-ms", "300", "--cors-origin", ORIGIN)
        r = http_request(server.port, "POST", "/pub/secret", MARKER.encode(),
                         [("Authorization", "Bearer publish-token-0123456789")])
        self.assertEqual(r.status, 202, r)
        good = token(subscribe=["secret"])
        forged = token(subscribe=["*"], secret=b"x" * 40)
        variants = {
            "no token": ("", []),
            "header": ("", [("authorization", f"Bearer {good}")]),
            "query": (f"access_token={good}", []),
            "cookie": ("", [("cookie", f"{COOKIE}={good}")]),
            "other scope": ("", [("authorization", f"Bearer {token(subscribe=['other'])}")]),
            "prefix scope": ("", [("authorization", f"Bearer {token(subscribe=['sec*'])}")]),
            "expired": ("", [("authorization", f"Bearer {token(subscribe=['secret'], exp_in=-120)}")]),
            "forged": (f"access_token={token(subscribe=['*'], secret=b'x' * 40)}", []),
            "malformed": ("", [("authorization", "Bearer not.a-jwt")]),
            "not bearer": ("", [("authorization", "Basic dXNlcjpwYXNz")]),
            "alg none": ("", [("authorization", "Bearer " + b64url(b'{"alg":"none","typ":"JWT"}') + "."
                               + b64url(json.dumps({"exp": int(time.time()) + 600,
                                                    "subscribe": ["*"]}).encode()) + ".")]),
            "unused cookie": ("", [("cookie", "session=abc")]),
            "publish token": ("", [("authorization", "Bearer publish-token-0123456789")]),
            # The first source present decides: header, then query, then cookie.
            "forged header, good cookie": ("", [("authorization", f"Bearer {forged}"),
                                                ("cookie", f"{COOKIE}={good}")]),
            "good header, forged query": (f"access_token={forged}",
                                          [("authorization", f"Bearer {good}")]),
            "forged query, good cookie": (f"access_token={forged}", [("cookie", f"{COOKIE}={good}")]),
            "empty access_token": ("access_token=", []),
            "another cookie's name": ("", [("cookie", f"x{COOKIE}={good}")]),
            "two authorization fields": ("", [("authorization", f"Bearer {good}"),
                                              ("authorization", f"Bearer {good}")]),
            "listed origin, no token": ("", [("origin", ORIGIN)]),
            "listed origin, good token": ("", [("origin", ORIGIN), ("authorization", f"Bearer {good}")]),
            "other origin, good token": ("", [("origin", EVIL), ("authorization", f"Bearer {good}")]),
        }
        table = routes()
        reads = {example.split("?")[0] for _, example, access in table if access == "read_topics"}
        self.assertEqual(reads, {"/sse", "/sse/{topic}", "/poll/{topic}", "/topics/{topic}"})
        c = self.client(server)
        # A stream opened first must outlive every answer below on the same connection (on a
        # topic of its own: POST /admin/drop?topic=secret with the publish token closes the
        # streams of "secret").
        witness = self.open_streams(c, [("/sse/witness", [bearer(token(subscribe=["witness"]))])],
                                    "the witness")[0]
        self.assertOpen(witness, "the witness stream")
        checked = 0
        for method, example, access in table:
            for what, (query, headers) in variants.items():
                target = example.replace("{topic}", "secret")
                if query:
                    target += ("&" if "?" in target else "?") + query
                body = b"x" if method == "POST" else None
                with self.subTest(route=example, token=what):
                    h1_status, h1_fields, h1_body = h1_head(
                        server.port, method, target, [(k.title(), v) for k, v in headers], body)
                    s = c.open(method, target, headers, body)
                    c.pump(lambda: s.headers is not None or s.done, 10, f"{method} {target}")
                    if s.status == 200 and not s.ended and access == "read_topics" \
                            and example.startswith("/sse"):
                        c.reset(s, CANCEL)  # a stream: the head is the decision
                    else:
                        c.pump(lambda: s.done, 10, f"the end of {method} {target}")
                    self.assertEqual(s.status, h1_status,
                                     f"{method} {target} ({access}) HTTP/2 {s.describe()} vs "
                                     f"HTTP/1.1 {h1_status} {h1_fields} {h1_body[:200]!r}")
                    # The fields access control writes, as over HTTP/1.1.
                    decided = ("www-authenticate", "access-control-allow-origin",
                               "access-control-allow-credentials")
                    self.assertEqual([(k, v) for k, v in s.headers if k in decided],
                                     [(k, v) for k, v in h1_fields if k in decided],
                                     f"{method} {target}: {s.describe()} vs HTTP/1.1 {h1_fields}")
                    if s.status in (401, 403):
                        self.assertTrue(s.ended and s.reset_code is None, s.describe())
                        self.assertNotIn(MARKER.encode(), bytes(s.data), s.describe())
                        self.assertNotIn(MARKER.encode(), h1_body)
                    if access == "read_topics":
                        expect = {"no token": 401, "header": 200, "query": 200, "cookie": 200,
                                  "other scope": 403, "prefix scope": 200, "expired": 401,
                                  "forged": 401, "malformed": 401, "not bearer": 401,
                                  "alg none": 401, "unused cookie": 401,
                                  "publish token": 401, "forged header, good cookie": 401,
                                  "good header, forged query": 200,
                                  "forged query, good cookie": 401, "empty access_token": 401,
                                  "another cookie's name": 401, "two authorization fields": 400,
                                  "listed origin, no token": 401,
                                  "listed origin, good token": 200,
                                  "other origin, good token": 200}[what]
                        self.assertEqual(s.status, expect, f"{what}: {s.describe()}")
                    checked += 1
        self.assertEqual(checked, len(table) * len(variants))
        self.assertIsNone(c.goaway, c.describe_goaway())
        event_id = h2_publish_bearer(self, c, "witness", b"still here", "publish-token-0123456789")
        c.pump(lambda: len(witness.events) >= 1 or witness.done, 10, "the witness's event")
        self.assertFalse(witness.done, witness.describe())
        self.assertEqual([(e.id, e.data) for e in witness.events], [(event_id, b"still here")])
        assert_healthy(self, server)


def h2_publish_bearer(test: unittest.TestCase, c: H2Client, topic: str, data: bytes,
                      tok: str) -> str:
    s = c.request("POST", f"/pub/{topic}", [bearer(tok)], body=data)
    check_publish_response(to_response(s), topic)
    return to_response(s).json()["id"]


if __name__ == "__main__":
    unittest.main()
