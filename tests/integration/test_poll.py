"""The long-poll fallback, GET /poll/{topic}?lastEventId=ID, with curl and raw sockets.

Checks (see docs/PROTOCOL.md, "Long poll"):
  * with retained events after the id, curl gets them at once as JSON, with the same ids and
    data an SSE stream of the topic gets, and lastEventId = the last of them;
  * with nothing new, the request is held until an event is published, then answered with it;
  * with nothing at all, it is answered after --poll-timeout-ms with no events and the id to
    poll from next;
  * polling in a loop from lastEventId sees every event exactly once, in order;
  * the connection is kept alive after the answer (a second poll reuses it), and a request
    pipelined behind a held poll is answered after it;
  * a poll counts toward connections, not --max-streams;
  * a held poll whose client leaves is cleaned up; a draining server answers held polls;
  * unknown or expired ids get a "gap" reason, like a stream's gap event.
"""

import json
import signal
import subprocess
import time
import unittest

from ringcast_harness import HOST, HttpConn, RingcastTestCase, bounded, wait_until


def curl_json(port: int, target: str, headers: list[str] = (), timeout: float = 20.0):
    args = ["curl", "-sS", "--max-time", str(timeout), f"http://{HOST}:{port}{target}"]
    for h in headers:
        args += ["-H", h]
    done = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout + 5)
    if done.returncode != 0:
        raise AssertionError(f"curl {target} exited {done.returncode}: {done.stderr!r}")
    return json.loads(done.stdout)


class PollTest(RingcastTestCase):
    def test_replay_matches_the_stream(self):
        server = self.start_server("--poll-timeout-ms", "5000")
        stream = server.stream("/sse/news")
        stream.wait(lambda s: s.ready, 5, "stream head")
        first = server.publish("news", b"one")
        bodies = [b"two\nlines", "caf\u00e9 \"q\" \\ \t".encode(), b""]
        ids = [server.publish("news", body, event="upd") for body in bodies]
        stream.wait(lambda s: len(s.events) == 4, 10, "4 events on the stream")
        answer = curl_json(server.port, f"/poll/news?lastEventId={first}")
        self.assertEqual(answer["lastEventId"], ids[-1])
        self.assertNotIn("gap", answer)
        self.assertEqual([e["id"] for e in answer["events"]], ids)
        # Same ids and the same data an EventSource client gets from the stream.
        streamed = stream.parser.events[1:]
        self.assertEqual([e["id"] for e in answer["events"]], [b.id for b in streamed])
        self.assertEqual([e["data"] for e in answer["events"]],
                         [b.data.decode("utf-8") for b in streamed])
        self.assertEqual([e["event"] for e in answer["events"]], ["upd"] * 3)
        # The header works as well as the query.
        again = curl_json(server.port, "/poll/news", [f"Last-Event-ID: {ids[0]}"])
        self.assertEqual([e["id"] for e in again["events"]], ids[1:])

    def test_held_until_an_event_arrives(self):
        server = self.start_server("--poll-timeout-ms", "20000")
        last = server.publish("held", b"old")
        proc = subprocess.Popen(["curl", "-sS", "--max-time", "20",
                                 f"http://{HOST}:{server.port}/poll/held?lastEventId={last}"],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        self.addCleanup(proc.kill)
        # Held: answered only once something is published (no timing assumed beyond that).
        wait_until(lambda: server.metrics().sum("ringcast_polls_total") >= 1, 10, "the poll")
        time.sleep(0.3)
        self.assertIsNone(proc.poll(), "the poll was answered before any event")
        new = server.publish("held", b"new")
        out, err = proc.communicate(timeout=15)
        answer = json.loads(out)
        self.assertEqual(answer, {"events": [{"id": new, "data": "new"}], "lastEventId": new})

    def test_timeout_answers_empty_and_keeps_the_connection(self):
        server = self.start_server("--poll-timeout-ms", "300")
        answer = curl_json(server.port, "/poll/quiet")
        self.assertEqual(answer, {"events": [], "lastEventId": ""})
        last = server.publish("quiet", b"x")
        conn = server.conn()
        r1 = conn.request("GET", f"/poll/quiet?lastEventId={last}")
        self.assertEqual(r1.status, 200, str(r1))
        self.assertEqual(r1.header("Content-Type"), "application/json")
        self.assertEqual(r1.json(), {"events": [], "lastEventId": last})
        r2 = conn.request("GET", "/healthz")  # the same connection, after the answer
        self.assertEqual(r2.status, 200)

    def test_poll_loop_sees_every_event_once(self):
        server = self.start_server("--poll-timeout-ms", "2000")
        published = []
        seen = []
        last = server.publish("loop", b"start")
        conn = server.conn()
        for i in range(30):
            published.append(server.publish("loop", f"e{i}".encode()))
            if i % 3 == 0:
                continue  # let events pile up between some polls
            answer = conn.request("GET", f"/poll/loop?lastEventId={last}").json()
            seen += [e["id"] for e in answer["events"]]
            last = answer["lastEventId"]
        for _ in bounded(10, "the last events", 100):
            if seen and seen[-1] == published[-1]:
                break
            answer = conn.request("GET", f"/poll/loop?lastEventId={last}").json()
            seen += [e["id"] for e in answer["events"]]
            last = answer["lastEventId"]
        self.assertEqual(seen, published)

    def test_pipelined_request_behind_a_held_poll(self):
        server = self.start_server("--poll-timeout-ms", "20000")
        last = server.publish("pipe", b"a")
        conn = server.conn()
        conn.send(conn.build("GET", f"/poll/pipe?lastEventId={last}") + conn.build("GET", "/healthz"))
        wait_until(lambda: server.metrics().sum("ringcast_polls_total") >= 1, 10, "the poll")
        new = server.publish("pipe", b"b")
        r1 = conn.read_response()
        self.assertEqual(r1.json()["events"], [{"id": new, "data": "b"}])
        r2 = conn.read_response()
        self.assertEqual((r2.status, r2.body), (200, b"ok\n"))

    def test_polls_are_connections_not_streams(self):
        server = self.start_server("--poll-timeout-ms", "20000", "--max-streams", "1")
        conns = []
        for _ in range(5):
            c = server.conn()
            c.send(c.build("GET", "/poll/many"))
            conns.append(c)
        wait_until(lambda: server.metrics().sum("ringcast_polls_total") >= 5, 10, "5 polls")
        m = server.metrics()
        self.assertEqual(m.sum("ringcast_streams"), 0)
        self.assertGreaterEqual(m.sum("ringcast_connections"), 5)
        stream = server.stream("/sse/many")  # the one stream --max-streams allows still fits
        stream.wait(lambda s: s.ready, 5, "stream head")
        # A client that leaves frees its poll.
        for c in conns:
            c.close()
        wait_until(lambda: server.metrics().sum("ringcast_connections") <= 2, 10,
                   "closed polls to be freed")
        new = server.publish("many", b"z")
        stream.wait(lambda s: len(s.events) == 1, 10, "the event on the stream")
        self.assertEqual(stream.parser.events[0].id, new)

    def test_drain_answers_held_polls(self):
        server = self.start_server("--poll-timeout-ms", "60000")
        conn = server.conn()
        conn.send(conn.build("GET", "/poll/bye"))
        wait_until(lambda: server.metrics().sum("ringcast_polls_total") >= 1, 10, "the poll")
        server.send_signal(signal.SIGTERM)
        resp = conn.read_response(timeout=10)
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.json()["events"], [])
        self.assertEqual((resp.header("Connection") or "").lower(), "close")
        self.assertEqual(server.wait(15), 0)

    def test_gap_reasons(self):
        server = self.start_server("--history", "2")
        ids = [server.publish("g", f"{i}".encode()) for i in range(4)]
        expired = curl_json(server.port, f"/poll/g?lastEventId={ids[0]}")
        self.assertEqual(expired["gap"], "expired")
        self.assertEqual([e["id"] for e in expired["events"]], ids[2:])
        old = curl_json(server.port, "/poll/g?lastEventId=1-0")
        self.assertEqual(old["gap"], "earlier_run")
        bad = curl_json(server.port, "/poll/g?lastEventId=nope")
        self.assertEqual(bad["gap"], "malformed")
        self.assertEqual([e["id"] for e in bad["events"]], ids[2:])

    def test_bad_requests(self):
        server = self.start_server()
        for method, target, status in (("GET", "/poll/bad%20name", 400), ("POST", "/poll/x", 405),
                                       ("GET", "/poll/", 400)):
            with self.subTest(target=target):
                conn = server.conn()
                resp = conn.request(method, target, b"" if method == "POST" else None)
                self.assertClosedError(conn, resp, status, target)


if __name__ == "__main__":
    unittest.main()
