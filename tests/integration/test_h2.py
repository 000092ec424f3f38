"""HTTP/2 on the cleartext port (prior knowledge), driven by clients no one here wrote: curl
(--http2-prior-knowledge), nghttp and h2load (nghttp2-client), python's `h2` package, plus
frames by hand where the exact frames matter.

Checks:
  * curl: /healthz is `HTTP/2 200`; a POST /pub answers 202 + the JSON ack over HTTP/2; an SSE
    stream's body is byte-exact (`retry:` then each event's wire bytes) and SIGTERM ends it
    cleanly (curl exits 0);
  * 24 SSE streams (single and multi-topic) share one connection: each gets every event once,
    in order, with the same ids (byte-exact), whether the event was published over HTTP/1.1,
    over HTTP/2 on that same connection or on another;
  * `last-event-id` resumes exactly; an id from before this run gets the `gap` event;
  * plain endpoints (/healthz, /metrics, /poll, errors 400/404/405/413) answer over HTTP/2 with
    the same status, content type and body as over HTTP/1.1, and the connection survives them;
  * long polls held on a connection are answered by a publish through that same connection,
    and at --poll-timeout-ms when nothing comes;
  * heartbeat `: ping` comments arrive as DATA;
  * a stream reset by the client (CANCEL, what EventSource.close() does) ends; its siblings go on;
  * a stream whose window the client keeps shut is reset by the server after
    --stall-timeout-ms; its sibling on the same connection gets every event;
  * SIGTERM: every stream gets its last `retry:` and END_STREAM, then GOAWAY(NO_ERROR), close;
  * SETTINGS_MAX_CONCURRENT_STREAMS is --h2-max-streams (256 by default); streams beyond it
    are refused (REFUSED_STREAM) before our SETTINGS ACK, a connection error after it;
  * `--h2 off`: the preface is an HTTP/1.1 request of version 2.0 (505, close);
  * `Upgrade: h2c` is answered as plain HTTP/1.1 (no 101);
  * 1 KiB stream windows: large events cross many WINDOW_UPDATEs, nothing lost;
  * a connection closed (FIN or RST) with 12 streams open frees them all;
  * nghttp (several streams, POST, an SSE stream), a bounded h2load run (/healthz, /pub) and
    Node's http2 module (three streams and /healthz on one session).
"""

import json
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import unittest

from h2_client import (CANCEL, NO_ERROR, PREFACE, PROTOCOL_ERROR,
                       REFUSED_STREAM, SETTINGS_MAX_CONCURRENT_STREAMS, Background, H2Client,
                       RawH2, assert_healthy, error_name, h2_publish, settings_frame,
                       to_response)
from ringcast_harness import (PING, STREAM_HEAD, HttpConn, Metrics, RingcastTestCase,
                              assert_strictly_increasing, bounded, check_publish_response,
                              encode_event)

RETRY = ["--retry-ms", "2000", "--retry-jitter-ms", "0"]
RETRY_BLOCK = b"retry: 2000\n\n"

# (data, event type or None): the same variety as test_curl_stream
EVENTS = [
    (b"hello world", None),
    (b"line one\r\nline two\nline three\rline four", None),
    (b"typed event", "update"),
    (b"", None),
    ("héllo wörld ✓ 日本語 🎉".encode("utf-8"), None),
    (b"ends with a break\r\n", "note.v2"),
    (b"data: looks like a field\nid: 7", None),
]

# Node's own http2 module (no npm package): three SSE streams and /healthz on one session;
# prints "subscribed" per stream once its retry line is in, then "done <json>" after an event.
NODE_CLIENT = r"""
const http2 = require('http2');
const session = http2.connect('http://127.0.0.1:PORT');
const streams = [];
const report = {streams: []};
const timer = setTimeout(() => { console.error('timeout'); process.exit(3); }, 20000);
function finish() {
  if (!report.healthz || streams.some(s => !s.body.includes('to node'))) return;
  report.streams = streams.map(s => ({status: s.status, type: s.type, body: s.body}));
  for (const s of streams) s.req.close(http2.constants.NGHTTP2_CANCEL);
  session.close(() => { clearTimeout(timer); console.log('done ' + JSON.stringify(report)); });
}
for (let i = 0; i < 3; i++) {
  const s = {body: '', status: 0, type: ''};
  s.req = session.request({':path': '/sse/node', accept: 'text/event-stream'});
  s.req.setEncoding('utf8');
  s.req.on('response', h => { s.status = h[':status']; s.type = h['content-type']; });
  s.req.on('data', d => {
    const before = s.body.includes('\n\n');
    s.body += d;
    if (!before && s.body.includes('\n\n')) console.log('subscribed');
    finish();
  });
  s.req.on('error', () => {});
  streams.push(s);
}
const h = session.request({':path': '/healthz'});
let body = '';
h.setEncoding('utf8');
h.on('response', hd => { report.healthz = {status: hd[':status']}; });
h.on('data', d => { body += d; });
h.on('end', () => { report.healthz.body = body; finish(); });
"""

# The contract's STREAM_HEAD as HTTP/2 fields (lower case, no connection-specific field).
H2_STREAM_HEADERS = [(":status", "200"), ("content-type", "text/event-stream"),
                     ("cache-control", "no-cache"), ("x-accel-buffering", "no")]

CONNECTION_SPECIFIC = {"connection", "keep-alive", "proxy-connection", "transfer-encoding",
                       "upgrade"}


class H2Test(RingcastTestCase):

    def client(self, server, **kw) -> H2Client:
        c = H2Client(server.port, **kw)
        self.addCleanup(c.close)
        return c

    def raw(self, server, **kw) -> RawH2:
        r = RawH2(server.port, **kw)
        self.addCleanup(r.close)
        return r

    def background(self, argv) -> Background:
        b = Background(argv)
        self.addCleanup(b.stop)
        return b

    def assertSseHead(self, stream, retry: int = 2000) -> None:
        """An HTTP/2 SSE answer: exactly the HTTP/1.1 stream head's fields without
        `Connection`, then first block exactly `retry: N`."""
        self.assertEqual(stream.headers, H2_STREAM_HEADERS, stream.describe())
        first = stream.sse.blocks[0] if stream.sse.blocks else None
        self.assertIsNotNone(first, stream.describe())
        self.assertEqual(first.raw, f"retry: {retry}\n\n".encode(), stream.describe())

    # ---------------------------------------------------------------- curl

    def test_curl_prior_knowledge_healthz_and_publish(self):
        server = self.start_server()
        url = f"http://127.0.0.1:{server.port}"
        out = subprocess.run(["curl", "-sS", "-v", "--http2-prior-knowledge", f"{url}/healthz"],
                             capture_output=True, timeout=20)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout, b"ok\n")
        self.assertIn(b"< HTTP/2 200", out.stderr)

        out = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "--data-binary", "@-",
                              "-w", "\n%{http_code} %{http_version} %{content_type}",
                              f"{url}/pub/curl2"], input=b"over h2", capture_output=True,
                             timeout=20)
        self.assertEqual(out.returncode, 0, out.stderr)
        body, _, trailer = out.stdout.rpartition(b"\n")
        code, version, ctype = trailer.decode().split(" ", 2)
        self.assertEqual((code, version), ("202", "2"), out.stdout)
        self.assertTrue(ctype.startswith("application/json"), ctype)
        ack = json.loads(body)
        self.assertEqual(set(ack), {"topic", "id"})
        self.assertEqual(ack["topic"], "curl2")
        # The event is there: a poll from before it over HTTP/1.1 sees it.
        resp = server.request("GET", "/poll/curl2?lastEventId=0-0")
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual([(e["id"], e["data"]) for e in resp.json()["events"]],
                         [(ack["id"], "over h2")], resp)

    def test_curl_stream_bytes_exact_then_sigterm(self):
        server = self.start_server(*RETRY, "--drain-ms", "5000")
        url = f"http://127.0.0.1:{server.port}"
        curl = self.background(["curl", "-sSN", "--http2-prior-knowledge", f"{url}/sse/news"])
        curl.wait_output(lambda out: len(out) >= len(RETRY_BLOCK), 10, "the retry line")
        self.assertEqual(curl.output(), RETRY_BLOCK)
        expected = RETRY_BLOCK
        ids = []
        pub = self.client(server)
        for i, (data, event) in enumerate(EVENTS):
            if i % 2:  # alternately over HTTP/1.1 and over HTTP/2
                eid = server.publish("news", data, event)
            else:
                eid = h2_publish(self, pub, "news", data, event)
            ids.append(eid)
            expected += encode_event(eid, data, event)
        assert_strictly_increasing(self, ids, "ids on topic news")
        out = curl.wait_output(lambda out: len(out) >= len(expected) or
                               not expected.startswith(out), 15, "every event")
        self.assertEqual(out, expected)
        pub.close()
        self.assertEqual(server.stop(signal.SIGTERM), 0, "server exit code")
        self.assertEqual(curl.finish(), 0, f"curl should see a clean end: {curl.stderr()!r}")
        out = curl.output()
        self.assertTrue(out.startswith(expected), out)
        self.assertIn(out[len(expected):], (b"", RETRY_BLOCK), "after the last event")

    # ---------------------------------------------------------------- python h2

    def test_many_streams_share_one_connection(self):
        server = self.start_server(*RETRY)
        c = self.client(server)
        targets = ["/sse/a", "/sse/b", "/sse?topic=a&topic=b"] * 8
        streams = [c.get(t, [("accept", "text/event-stream")]) for t in targets]
        c.pump(lambda: all(s.sse.retry is not None or s.done for s in streams), 15,
               "24 streams subscribed")
        for s in streams:
            self.assertSseHead(s)

        other = self.client(server)
        expected = {"a": [], "b": []}
        for i, (data, event) in enumerate(EVENTS * 2):
            topic = "ab"[i % 2]
            via = i % 3
            if via == 0:
                eid = server.publish(topic, data, event)              # HTTP/1.1
            elif via == 1:
                eid = h2_publish(self, c, topic, data, event)         # this connection
            else:
                eid = h2_publish(self, other, topic, data, event)     # another connection
            expected[topic].append(encode_event(eid, data, event))
        n = {"a": len(expected["a"]), "b": len(expected["b"])}

        def want(s):
            return n["a"] + n["b"] if "?" in s.path else n[s.path[-1]]
        c.pump(lambda: all(len(s.events) >= want(s) or s.done for s in streams), 20,
               "every event on every stream")
        for s in streams:
            self.assertFalse(s.done, s.describe())
            if "?" in s.path:
                got = [b.raw for b in s.events]
                for topic in "ab":
                    self.assertEqual([r for r in got if r in expected[topic]], expected[topic],
                                     f"{s.describe()}: topic {topic}")
                self.assertEqual(len(got), want(s), s.describe())
            else:
                self.assertEqual(bytes(s.data), RETRY_BLOCK + b"".join(expected[s.path[-1]]),
                                 s.describe())
        self.assertIsNone(c.goaway)

    def test_last_event_id_resume_and_gap(self):
        server = self.start_server(*RETRY)
        ids = [server.publish("feed", f"event {i}".encode()) for i in range(5)]
        c = self.client(server)
        resumed = c.get("/sse/feed", [("last-event-id", ids[1])])
        by_query = c.get(f"/sse/feed?lastEventId={ids[3]}")
        gap = c.get("/sse/feed", [("last-event-id", "1-0")])  # long before this run
        c.pump(lambda: len(resumed.events) >= 3 and len(by_query.events) >= 1 and
               len(gap.events) >= 6, 10, "the replayed events")
        for s in (resumed, by_query, gap):
            self.assertSseHead(s)
        self.assertEqual([(e.id, e.data) for e in resumed.events],
                         [(ids[i], f"event {i}".encode()) for i in (2, 3, 4)])
        self.assertEqual([(e.id, e.data) for e in by_query.events], [(ids[4], b"event 4")])
        first = gap.events[0]
        self.assertEqual((first.event, first.id), ("gap", None), first.raw)
        info = json.loads(first.data)
        self.assertEqual(info, {"topic": "feed", "lastEventId": "1-0", "firstId": ids[0],
                                "reason": "earlier_run"})
        self.assertEqual([e.id for e in gap.events[1:]], ids)
        # Live after the replay: no gap, no duplicate.
        live = server.publish("feed", b"live")
        c.pump(lambda: len(resumed.events) >= 4 and len(by_query.events) >= 2 and
               len(gap.events) >= 7, 10, "the live event")
        for s, before in ((resumed, 3), (by_query, 1), (gap, 6)):
            self.assertEqual([(e.id, e.data) for e in s.events[before:]], [(live, b"live")])

    def test_plain_endpoints_answer_as_over_http11(self):
        server = self.start_server()
        first = server.publish("p", b"one")
        second = server.publish("p", b"two\r\nlines", "upd")
        cases = [
            ("GET", "/healthz", None),
            ("GET", f"/poll/p?lastEventId={first}", None),
            ("GET", "/poll/p?lastEventId=garbage", None),
            ("GET", "/nope", None),
            ("GET", "/healthz/extra", None),
            ("DELETE", "/sse/x", None),
            ("GET", "/pub/x", None),
            ("PUT", "/pub/x", b"data"),
            ("POST", "/healthz", b""),
            ("DELETE", "/metrics", None),
            ("GET", "/sse/a%20b", None),
            ("GET", "/sse/", None),
            ("GET", "/sse", None),
            ("GET", "/sse?" + "&".join(f"topic=t{i}" for i in range(9)), None),
            ("POST", "/pub/", b"x"),
            ("POST", "/pub/utf", b"bad \xff utf-8"),
            ("POST", "/pub/big", b"x" * 65537),
            ("GET", "/" + "a" * 3000, None),
        ]
        c = self.client(server)
        for method, target, body in cases:
            with self.subTest(method=method, target=target[:60]):
                h1 = server.request(method, target, body)
                s = c.request(method, target, body=body)
                self.assertEqual(s.status, h1.status, f"{s.describe()} vs HTTP/1.1 {h1}")
                self.assertEqual(bytes(s.data), h1.body, s.describe())
                # The same fields as HTTP/1.1's answer, but for the connection-specific ones.
                h1_fields = sorted((k.lower(), v) for k, v in h1.headers
                                   if k.lower() not in CONNECTION_SPECIFIC)
                h2_fields = sorted((k, v) for k, v in s.headers if not k.startswith(":"))
                self.assertEqual(h2_fields, h1_fields, f"{s.describe()} vs HTTP/1.1 {h1}")
                self.assertTrue(s.ended, s.describe())
        self.assertEqual(json.loads(c.request("GET", f"/poll/p?lastEventId={first}").data),
                         {"events": [{"id": second, "event": "upd", "data": "two\nlines"}],
                          "lastEventId": second})
        # /metrics over HTTP/2 is a valid exposition.
        m = c.request("GET", "/metrics")
        self.assertEqual(m.status, 200, m.describe())
        self.assertTrue(m.header("content-type").startswith("text/plain"), m.headers)
        Metrics(bytes(m.data).decode())
        # Publishing and a size limit at exactly the bound.
        ok = c.request("POST", "/pub/big", body=b"x" * 65536)
        check_publish_response(to_response(ok), "big")
        # A batch publish (NDJSON) is answered with the ids in order, which the subscribers get.
        stream = c.get("/sse?topic=b1&topic=b2")
        c.pump(lambda: stream.status is not None, 10, "the batch stream's head")
        batch = c.request("POST", "/pub", headers=[("content-type", "application/x-ndjson")],
                          body=b'{"topic":"b1","data":"x"}\n{"topic":"b2","data":"y","event":"e"}\n')
        self.assertEqual(batch.status, 202, batch.describe())
        ids = [e["id"] for e in json.loads(bytes(batch.data))["events"]]
        self.assertEqual(len(ids), 2)
        c.pump(lambda: len(stream.events) >= 2, 10, "the batch's events")
        self.assertEqual(sorted(e.id for e in stream.events), sorted(ids))
        bad = c.request("POST", "/pub", headers=[("content-type", "application/x-ndjson")],
                        body=b'{"topic":"b1","data":"x"}\nnot json\n')
        self.assertEqual(bad.status, 400, bad.describe())
        self.assertIn(b"line 2", bytes(bad.data))
        # The live page and the topic listing.
        page = c.request("GET", "/")
        self.assertEqual(page.status, 200, page.describe())
        self.assertTrue(page.header("content-type").startswith("text/html"), page.headers)
        listing = c.request("GET", "/topics")
        self.assertEqual(listing.status, 200, listing.describe())
        self.assertIn("b1", [t["topic"] for t in json.loads(bytes(listing.data))["topics"]])
        # After all of it the connection still serves.
        self.assertIsNone(c.goaway, c.describe_goaway())
        self.assertEqual(bytes(c.request("GET", "/healthz").data), b"ok\n")

    def test_held_polls_share_the_connection(self):
        server = self.start_server("--poll-timeout-ms", "1000")
        c = self.client(server)
        first = h2_publish(self, c, "held", b"first")
        # Held polls on the connection the publish goes through: answered by it.
        polls = [c.get(f"/poll/held?lastEventId={first}") for _ in range(3)]
        timed_out = c.get("/poll/quiet")
        c.read_once(0.2)
        self.assertFalse(any(p.done for p in polls + [timed_out]),
                         [p.describe() for p in polls + [timed_out]])
        second = h2_publish(self, c, "held", b"second")
        c.pump(lambda: all(p.done for p in polls), 10, "the held polls answered")
        for p in polls:
            self.assertEqual(p.status, 200, p.describe())
            self.assertEqual(p.header("content-type"), "application/json")
            self.assertEqual(json.loads(p.data), {"events": [{"id": second, "data": "second"}],
                                                  "lastEventId": second})
        # A poll on a topic that gets nothing is answered at --poll-timeout-ms.
        c.pump(lambda: timed_out.done, 10, "the poll timeout")
        self.assertEqual(timed_out.status, 200, timed_out.describe())
        self.assertEqual(json.loads(timed_out.data), {"events": [], "lastEventId": ""})

    def test_heartbeat_pings_flow_as_data(self):
        server = self.start_server(*RETRY, "--heartbeat-ms", "300")
        c = self.client(server)
        s = c.get("/sse/quiet")
        c.pump(lambda: len(s.sse.comments) >= 2 or s.done, 15, "two heartbeats")
        self.assertSseHead(s)
        self.assertEqual([b.raw for b in s.sse.comments][:2], [PING, PING])
        self.assertEqual(bytes(s.data), RETRY_BLOCK + PING * len(s.sse.comments)
                         + s.sse.partial)

    def test_client_reset_ends_that_stream_only(self):
        server = self.start_server(*RETRY)
        c = self.client(server)
        streams = [c.get("/sse/r") for _ in range(3)]
        c.pump(lambda: all(s.sse.retry is not None for s in streams), 10, "3 streams")
        server.wait_metric("ringcast_streams", lambda v: v == 3, 10, "3 open streams")
        e1 = server.publish("r", b"before")
        c.pump(lambda: all(len(s.events) >= 1 for s in streams), 10, "the first event")
        c.reset(streams[1], CANCEL)
        server.wait_metric("ringcast_streams", lambda v: v == 2, 10, "the reset stream freed")
        e2 = server.publish("r", b"after")
        c.pump(lambda: len(streams[0].events) >= 2 and len(streams[2].events) >= 2, 10,
               "the second event on the siblings")
        for s in (streams[0], streams[2]):
            self.assertEqual(bytes(s.data), RETRY_BLOCK + encode_event(e1, b"before")
                             + encode_event(e2, b"after"), s.describe())
        self.assertEqual([e.id for e in streams[1].events], [e1])
        # The connection goes on: a new stream on it works.
        again = c.get("/sse/r")
        c.pump(lambda: again.sse.retry is not None, 10, "a new stream after the reset")
        self.assertIsNone(c.goaway, c.describe_goaway())

    def test_stalled_stream_is_reset_siblings_continue(self):
        server = self.start_server(*RETRY, "--stall-timeout-ms", "1000", "--heartbeat-ms",
                                   "400", "--history", "100000", shards=1)
        c = self.client(server)
        stuck = c.get("/sse/flood")
        good = c.get("/sse/flood")
        c.hold.add(stuck.id)  # never a WINDOW_UPDATE for this one
        c.pump(lambda: stuck.sse.retry is not None and good.sse.retry is not None, 10,
               "both streams")
        pub = HttpConn(server.port, timeout=30)
        self.addCleanup(pub.close)
        ids = []
        body = b"x" * 16384
        for _ in range(40):  # 640 KiB: ten times the stuck stream's 64 KiB window
            ids.append(server.publish("flood", body, conn=pub))
            c.read_once(0.01)  # the good stream keeps up
        c.pump(lambda: stuck.reset_code is not None and len(good.events) >= len(ids), 30,
               "the stuck stream reset and every event on the good one")
        self.assertFalse(stuck.ended, f"reset expected, not END_STREAM: {stuck.describe()}")
        self.assertEqual([e.id for e in good.events], ids)
        self.assertEqual([e.id for e in stuck.events], ids[:len(stuck.events)])
        self.assertLess(len(stuck.events), len(ids))
        self.assertIsNone(c.goaway, c.describe_goaway())
        self.assertEqual(bytes(c.request("GET", "/healthz").data), b"ok\n")
        server.wait_metric("ringcast_drops_total", lambda v: v >= 1, 10,
                           "the stalled stream counted", reason="stalled")

    def test_small_flow_control_windows(self):
        # 1 KiB stream windows and the connection's 65,535 bytes: a 60 KB event crosses many
        # WINDOW_UPDATEs on every stream, and all three get every byte.
        server = self.start_server(*RETRY)
        c = self.client(server, initial_window=1024, connection_window=65535)
        streams = [c.get(t) for t in ("/sse/w", "/sse/w", "/sse?topic=w&topic=v")]
        c.pump(lambda: all(s.sse.retry is not None or s.done for s in streams), 10, "streams")
        expected = b""
        for i in range(4):
            data = f"big {i} ".encode() + bytes(range(32, 127)) * (600 + i)
            expected += encode_event(server.publish("w", data), data)
        c.pump(lambda: all(len(s.data) >= len(RETRY_BLOCK) + len(expected) or s.done
                           for s in streams), 20, "4 large events through 1 KiB windows")
        for s in streams:
            self.assertEqual(bytes(s.data), RETRY_BLOCK + expected, s.describe())
        self.assertIsNone(c.goaway)

    def test_closing_the_connection_frees_its_streams(self):
        server = self.start_server(*RETRY)
        for how in ("close", "reset"):
            with self.subTest(how=how):
                c = H2Client(server.port)
                streams = [c.get(f"/sse/free{i % 3}") for i in range(12)]
                c.pump(lambda: all(s.sse.retry is not None for s in streams), 10, "12 streams")
                server.wait_metric("ringcast_streams", lambda v: v == 12, 10, "12 open streams")
                if how == "reset":
                    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                      b"\x01\x00\x00\x00\x00\x00\x00\x00")
                c.close()
                server.wait_metric("ringcast_streams", lambda v: v == 0, 10,
                                   f"the streams freed after a {how}")
                server.wait_metric("ringcast_connections", lambda v: v <= 1, 10,
                                   f"the connection freed after a {how}")
                for i in range(3):  # publishing to the topics they read is fine
                    server.publish(f"free{i}", b"nobody")
        assert_healthy(self, server)

    def test_node_http2_client(self):
        node = shutil.which("node")
        if node is None:
            self.fail("`node` is not on PATH; tools/setup-clients.sh installs it")
        server = self.start_server(*RETRY)
        script = NODE_CLIENT.replace("PORT", str(server.port))
        client = self.background([node, "-e", script])
        client.wait_output(lambda o: o.count(b"subscribed\n") >= 3, 15, "three streams")
        eid = server.publish("node", b"to node")
        out = client.wait_output(lambda o: b"done" in o, 15, "node's report")
        self.assertEqual(client.finish(), 0, client.stderr())
        report = json.loads(out.split(b"done ", 1)[1])
        expected = (RETRY_BLOCK + encode_event(eid, b"to node")).decode()
        self.assertEqual(report["healthz"], {"status": 200, "body": "ok\n"})
        self.assertEqual(report["streams"], [{"status": 200, "type": "text/event-stream",
                                              "body": expected}] * 3)

    # ---------------------------------------------------------------- frames by hand

    def test_sigterm_ends_streams_then_goaway(self):
        server = self.start_server(*RETRY, "--drain-ms", "5000")
        r = self.raw(server)
        targets = {1: "/sse/down", 3: "/sse/down", 5: "/sse/other",
                   7: "/sse?topic=down&topic=other"}
        for sid, target in targets.items():
            r.request(sid, "GET", target)
        r.pump(lambda: all(r.stream(sid).sse.retry is not None for sid in targets), 10,
               "4 streams subscribed")
        expected = {"down": [], "other": []}
        for i in range(3):
            for topic in expected:
                data = f"{topic} {i} ".encode() + b"z" * 5000
                expected[topic].append(encode_event(server.publish(topic, data), data))
        server.send_signal(signal.SIGTERM)
        r.wait_closed(20, "the server to end the streams and close")
        self.assertEqual(server.wait(20), 0, "exit code after SIGTERM")
        for sid, target in targets.items():
            s = r.stream(sid)
            what = f"stream {sid} {target}"
            self.assertTrue(s.ended, f"{what}: no END_STREAM; {r.summary()}")
            self.assertIsNone(s.reset_code, f"{what}: reset {error_name(s.reset_code)}")
            self.assertEqual(s.sse.partial, b"", what)
            got = [b.raw for b in s.sse.events]
            if "?" in target:
                for topic in expected:
                    self.assertEqual([g for g in got if g in expected[topic]], expected[topic])
                self.assertEqual(len(got), 6, what)
            else:
                self.assertEqual(got, expected[target.rsplit("/", 1)[1]], what)
            tail = s.sse.blocks[-1]
            self.assertEqual(tail.raw, RETRY_BLOCK, f"{what}: the last block")
            self.assertEqual([b.raw for b in s.sse.blocks[1:-1] if b.kind != "event"],
                             [PING] * sum(b.kind == "comment" for b in s.sse.blocks[1:-1]))
        self.assertTrue(r.goaways, f"no GOAWAY before the close; {r.summary()}")
        last, code, _ = r.goaway
        self.assertEqual(code, NO_ERROR, r.summary())
        self.assertGreaterEqual(last, 7, "GOAWAY must cover the streams it processed")
        self.assertFalse(r.reset_by_peer, "the connection ended with a reset, not a close")

    def test_max_concurrent_streams(self):
        # The default is advertised.
        default = self.start_server()
        r = self.raw(default)
        r.pump(lambda: r.server_settings_frames >= 1, 10, "the server's SETTINGS")
        self.assertEqual(r.server_settings.get(SETTINGS_MAX_CONCURRENT_STREAMS), 256)

        server = self.start_server("--h2-max-streams", "4")
        # Six streams before we ever acknowledge the server's SETTINGS: the four allowed
        # ones are served, the two beyond are refused (safe to retry), the connection stays.
        early = self.raw(server, ack_settings=False)
        early.send(b"".join(early.request_frames(sid, "GET", "/sse/m")
                            for sid in (1, 3, 5, 7, 9, 11)))
        early.pump(lambda: all(early.stream(s).sse.retry is not None for s in (1, 3, 5, 7))
                   and all(early.stream(s).reset_code is not None for s in (9, 11)),
                   10, "four streams served and two refused")
        self.assertEqual(early.server_settings.get(SETTINGS_MAX_CONCURRENT_STREAMS), 4)
        for sid in (1, 3, 5, 7):
            self.assertEqual(early.stream(sid).status, 200)
        for sid in (9, 11):
            self.assertEqual(error_name(early.stream(sid).reset_code),
                             error_name(REFUSED_STREAM))
        self.assertEqual(early.goaways, [])
        # A fifth stream after our ACK is refused too: RFC 9113 §5.1.2 makes it a stream
        # error (REFUSED_STREAM: safe to retry), and the four streams go on.
        late = self.raw(server)
        late.pump(lambda: late.server_settings_frames >= 1, 10, "the server's SETTINGS")
        late.send(b"".join(late.request_frames(sid, "GET", "/sse/m") for sid in (1, 3, 5, 7)))
        late.pump(lambda: all(late.stream(s).sse.retry is not None for s in (1, 3, 5, 7)), 10,
                  "four streams")
        late.request(9, "GET", "/sse/m")
        late.pump(lambda: late.stream(9).reset_code is not None, 10, "the fifth stream refused")
        self.assertEqual(error_name(late.stream(9).reset_code), error_name(REFUSED_STREAM))
        self.assertIsNone(late.stream(9).status)
        self.assertEqual(late.goaways, [], late.summary())
        server.publish("m", b"still here")
        late.pump(lambda: all(any(e.data == b"still here" for e in late.stream(s).sse.events)
                              for s in (1, 3, 5, 7)), 10, "the four streams still served")
        assert_healthy(self, server, what="after the refused stream")

    # ---------------------------------------------------------------- switched off, upgrade

    def test_h2_off_the_preface_is_a_bad_request(self):
        server = self.start_server("--h2", "off")
        conn = server.conn()
        conn.send(PREFACE + settings_frame(), tolerate_reset=True)
        # "PRI * HTTP/2.0": a version other than 1.0 or 1.1 is 505 (README, status table).
        self.assertClosedError(conn, conn.read_response(), 505, "the HTTP/2 preface")
        out = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "--max-time", "10",
                              f"http://127.0.0.1:{server.port}/healthz"],
                             capture_output=True, timeout=20)
        self.assertNotEqual(out.returncode, 0, out)
        self.assertEqual(server.request("GET", "/healthz").body, b"ok\n")

    def test_upgrade_h2c_is_answered_as_http11(self):
        server = self.start_server(*RETRY)
        upgrade = [("Connection", "Upgrade, HTTP2-Settings"), ("Upgrade", "h2c"),
                   ("HTTP2-Settings", "AAMAAABkAAQAoAAAAAIAAAAA")]
        conn = server.conn()
        resp = conn.request("GET", "/healthz", headers=upgrade)
        self.assertEqual((resp.status, resp.body), (200, b"ok\n"), resp)
        self.assertTrue(resp.head.startswith(b"HTTP/1.1 200 "), resp.head)
        self.assertIsNone(resp.header("Upgrade"), resp)
        # Still HTTP/1.1 on that connection: a second request, then a stream.
        self.assertEqual(conn.request("GET", "/healthz").body, b"ok\n")
        stream = HttpConn(server.port)
        self.addCleanup(stream.close)
        stream.send(stream.build("GET", "/sse/up", headers=upgrade))
        got = b""
        for _ in bounded(10, "the stream head", 1000):
            stream.sock.settimeout(10)
            chunk = stream.sock.recv(65536)
            self.assertTrue(chunk, f"closed after {got!r}")
            got += chunk
            if len(got) >= len(STREAM_HEAD) + len(RETRY_BLOCK):
                break
        self.assertEqual(got, STREAM_HEAD + RETRY_BLOCK)
        # curl --http2 on http:// asks for the upgrade; it gets HTTP/1.1.
        out = subprocess.run(["curl", "-sS", "-v", "--http2",
                              f"http://127.0.0.1:{server.port}/healthz"],
                             capture_output=True, timeout=20)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout, b"ok\n")
        self.assertIn(b"Upgrade: h2c", out.stderr)
        self.assertIn(b"< HTTP/1.1 200", out.stderr)
        self.assertNotIn(b"< HTTP/1.1 101", out.stderr)

    # ---------------------------------------------------------------- nghttp2's clients

    def test_nghttp(self):
        server = self.start_server(*RETRY)
        url = f"http://127.0.0.1:{server.port}"
        out = subprocess.run(["nghttp", "-m", "5", f"{url}/healthz"], capture_output=True,
                             timeout=30)
        self.assertEqual((out.returncode, out.stdout), (0, b"ok\n" * 5), out.stderr)

        out = subprocess.run(["nghttp", "-v", f"{url}/healthz", f"{url}/nope", f"{url}/metrics"],
                             capture_output=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        log = out.stdout.decode("utf-8", "replace")
        self.assertIn("[SETTINGS_MAX_CONCURRENT_STREAMS(0x03):256]", log)
        # nghttp numbers its requests after the idle streams it uses as priority anchors:
        # the answers in stream id order are the URIs in order.
        statuses = sorted((int(sid), code) for sid, code in
                          re.findall(r"recv \(stream_id=(\d+)\) :status: (\d+)", log))
        self.assertEqual([code for _, code in statuses], ["200", "404", "200"], log[-3000:])
        self.assertIn("ringcast_streams", log)

        # stdbuf: nghttp writes bodies through stdio, fully buffered on a pipe.
        stream = self.background(["stdbuf", "-o0", "nghttp", f"{url}/sse/ng"])
        stream.wait_output(lambda o: o.startswith(RETRY_BLOCK), 10, "nghttp's stream")
        with tempfile.NamedTemporaryFile() as f:
            f.write(b"from nghttp")
            f.flush()
            out = subprocess.run(["nghttp", "-d", f.name, f"{url}/pub/ng"],
                                 capture_output=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        ack = json.loads(out.stdout)
        self.assertEqual(ack["topic"], "ng", out.stdout)
        expected = RETRY_BLOCK + encode_event(ack["id"], b"from nghttp")
        self.assertEqual(stream.wait_output(lambda o: len(o) >= len(expected), 10,
                                            "the event through nghttp"), expected)

    def test_h2load_bounded_runs(self):
        server = self.start_server(*RETRY)
        url = f"http://127.0.0.1:{server.port}"
        out = subprocess.run(["h2load", "-n", "400", "-c", "4", "-m", "8", f"{url}/healthz"],
                             capture_output=True, timeout=60)
        text = out.stdout.decode()
        self.assertEqual(out.returncode, 0, text + out.stderr.decode())
        self.assertRegex(text, r"requests: 400 total, 400 started, 400 done, 400 succeeded, "
                               r"0 failed, 0 errored, 0 timeout")
        self.assertRegex(text, r"status codes: 400 2xx, 0 3xx, 0 4xx, 0 5xx")

        c = self.client(server)
        sub = c.get("/sse/load")
        c.pump(lambda: sub.sse.retry is not None, 10, "the subscriber")
        with tempfile.NamedTemporaryFile() as f:
            f.write(b"load event")
            f.flush()
            out = subprocess.run(["h2load", "-n", "100", "-c", "2", "-m", "4", "-d", f.name,
                                  f"{url}/pub/load"], capture_output=True, timeout=60)
        text = out.stdout.decode()
        self.assertEqual(out.returncode, 0, text + out.stderr.decode())
        self.assertRegex(text, r"100 succeeded, 0 failed")
        self.assertRegex(text, r"status codes: 100 2xx, 0 3xx, 0 4xx, 0 5xx")
        c.pump(lambda: len(sub.events) >= 100, 20, "100 events")
        c.read_once(0.2)
        self.assertEqual(len(sub.events), 100)
        self.assertEqual({e.data for e in sub.events}, {b"load event"})
        assert_strictly_increasing(self, [e.id for e in sub.events], "h2load's events")


if __name__ == "__main__":
    unittest.main()
