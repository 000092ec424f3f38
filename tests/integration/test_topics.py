"""Who is listening (#19) against the real binary, on two shards (the counts of one topic are
summed over both through the mailbox round trip):

  * GET /topics/{topic} (with curl): subscribers counts streams and held long polls on every
    shard; subscribersCluster equals it without Redis; lastEventId and the history follow
    publishes; a topic no shard holds is 404 and asking creates nothing (ringcast_topics);
  * GET /topics: sorted, paged by cursor, never lists the server's '_' topics; a huge limit,
    a bad cursor and bad prefix characters are 400;
  * with access control: info on a protected topic without a token is 401, with a token for
    another topic 403; a listing shows only the topics the caller's token may subscribe to;
  * --occupancy-events: a watcher of _occupancy.T sees occupied, the count, and vacated after
    the grace period; the watcher is not a subscriber of T.
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

from ringcast_harness import (HttpConn, RingcastTestCase, SseStream, bounded, http_request,
                              wait_until)

SECRET = b"topics-secret-0123456789abcdef0123"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def hs256(claims: dict) -> str:
    msg = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + \
        b64url(json.dumps(claims).encode())
    return msg + "." + b64url(hmac.new(SECRET, msg.encode(), hashlib.sha256).digest())


def curl_json(port: int, target: str, *extra: str) -> tuple[int, dict | None]:
    out = subprocess.run(["curl", "-s", "-w", "\n%{http_code}", *extra, f"http://127.0.0.1:{port}{target}"],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    body, _, code = out.rpartition("\n")
    return int(code), (json.loads(body) if code == "200" else None)


class TopicsTest(RingcastTestCase):
    def topics_gauge(self, server) -> float:
        return server.metrics().sum("ringcast_topics")

    def test_info_counts_every_shard_and_creates_nothing(self):
        server = self.start_server("--poll-timeout-ms", "20000")
        streams = server.open_streams(["/sse/news"] * 5)
        polls = []
        for _ in range(3):  # held long polls count too (the connections spread over shards)
            conn = server.conn()
            conn.send(conn.build("GET", "/poll/news"))
            polls.append(conn)
        wait_until(lambda: curl_json(server.port, "/topics/news")[1]["subscribers"] == 8, 10,
                   "8 subscribers of news")
        code, info = curl_json(server.port, "/topics/news")
        self.assertEqual(code, 200)
        self.assertEqual(info, {"topic": "news", "subscribers": 8, "subscribersCluster": 8,
                                "lastEventId": "", "historyEvents": 0, "historyBytes": 0})
        event_id = server.publish("news", b"hello")
        for conn in polls:
            self.assertEqual(conn.read_response().status, 200)  # answered: no longer held
        code, info = curl_json(server.port, "/topics/news")
        self.assertEqual(info["subscribers"], 5, info)
        self.assertEqual(info["lastEventId"], event_id)
        self.assertEqual(info["historyEvents"], 1)
        self.assertEqual(info["historyBytes"], len(f"id: {event_id}\ndata: hello\n\n"))
        for s in streams:
            s.close()
        wait_until(lambda: curl_json(server.port, "/topics/news")[1]["subscribers"] == 0, 10,
                   "news to have no subscriber")
        # "_stats" and news (its history) on each of the two shards; gauges refresh each tick.
        server.wait_metric("ringcast_topics", lambda v: v == 4, 10, "the topic gauge to settle")
        for i in range(30):
            self.assertEqual(curl_json(server.port, f"/topics/nothing{i}")[0], 404)
        self.assertEqual(curl_json(server.port, "/topics?prefix=nothing")[1]["topics"], [])
        time.sleep(0.6)  # two ticks: the gauges would show a topic created meanwhile
        self.assertEqual(self.topics_gauge(server), 4)

    def test_listing_pages_and_refuses_bad_input(self):
        server = self.start_server()
        names = [f"room.{i:02d}" for i in range(25)] + ["other"]
        server.open_streams([f"/sse/{n}" for n in names])
        seen, cursor = [], None
        for _ in bounded(10, "every page", 10):
            target = "/topics?prefix=room.&limit=10" + (f"&after={cursor}" if cursor else "")
            code, page = curl_json(server.port, target)
            self.assertEqual(code, 200)
            seen += [t["topic"] for t in page["topics"]]
            self.assertTrue(all(t["subscribers"] == 1 for t in page["topics"]), page)
            cursor = page["next"]
            if cursor is None:
                break
        self.assertEqual(seen, sorted(n for n in names if n.startswith("room.")))
        code, page = curl_json(server.port, "/topics")
        self.assertNotIn("_stats", [t["topic"] for t in page["topics"]])
        for target in ("/topics?limit=1001", "/topics?limit=18446744073709551617", "/topics?limit=-5",
                       "/topics?after=..", "/topics?after=%ZZ", "/topics?after=a%20b",
                       "/topics?prefix=a%2Fb", "/topics?prefix=%3Cscript%3E", "/topics?prefix=a*"):
            self.assertEqual(http_request(server.port, "GET", target).status, 400, target)
        code, page = curl_json(server.port, "/topics?limit=1000")
        self.assertEqual([t["topic"] for t in page["topics"]], sorted(names))  # nothing created

    def test_access_control(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        secret = os.path.join(tmp.name, "jwt.secret")
        with open(secret, "wb") as f:
            f.write(SECRET)
        server = self.start_server("--jwt-secret-file", secret, "--require-subscribe-token",
                                   "--publish-token", "pub-token-0123456789")
        everything = hs256({"exp": 4102444800, "subscribe": ["*"]})
        team = hs256({"exp": 4102444800, "subscribe": ["team.*"]})
        for topic in ("secret.plans", "team.a", "team.b"):
            self.assertTrue(server._track(SseStream(server.port, f"/sse/{topic}?access_token={everything}")))
        auth = lambda token: ("-H", f"Authorization: Bearer {token}")
        wait_until(lambda: curl_json(server.port, "/topics/secret.plans", *auth(everything))[0] == 200, 10,
                   "the protected topic to exist")
        self.assertEqual(curl_json(server.port, "/topics/secret.plans")[0], 401)
        self.assertEqual(curl_json(server.port, "/topics/secret.plans", *auth(team))[0], 403)
        self.assertEqual(curl_json(server.port, "/topics/ghost")[0], 401)
        self.assertEqual(curl_json(server.port, "/topics")[0], 401)
        code, page = curl_json(server.port, "/topics?limit=1000", *auth(team))
        self.assertEqual(code, 200)
        self.assertEqual([t["topic"] for t in page["topics"]], ["team.a", "team.b"])
        code, page = curl_json(server.port, "/topics?prefix=secret", *auth(team))
        self.assertEqual(page["topics"], [])
        code, page = curl_json(server.port, "/topics?limit=1000", *auth(everything))
        self.assertIn("secret.plans", [t["topic"] for t in page["topics"]])
        self.assertEqual(http_request(server.port, "GET", "/sse/_occupancy.secret.plans",
                                      headers=[("Authorization", f"Bearer {team}")]).status, 403)
        # The refused requests created nothing: no "ghost", no occupancy topic.
        self.assertEqual(curl_json(server.port, "/topics/ghost", *auth(everything))[0], 404)
        self.assertEqual(curl_json(server.port, "/topics/_occupancy.secret.plans", *auth(everything))[0], 404)

    def test_occupancy_events(self):
        server = self.start_server("--occupancy-events", "--occupancy-interval-ms", "200",
                                   "--occupancy-grace-ms", "500")
        watcher = server.stream("/sse/_occupancy.lobby")
        watcher.wait(lambda s: s.ready, 5, "the watcher's head")

        def data(s, name):
            return [json.loads(e.data) for e in s.events if e.event == name]
        # The aggregator learns of the watcher at a tick; until then a transition is not published
        # to it (a watcher arriving later gets the current counts, not past transitions). Its
        # first count (0) says it is known: only then may the topic become occupied.
        watcher.wait(lambda s: data(s, "occupancy"), 10, "the watcher's first count")
        self.assertEqual(data(watcher, "occupancy")[0]["subscribers"], 0)
        subs = server.open_streams(["/sse/lobby"] * 3)
        watcher.wait(lambda s: any(d["subscribers"] == 3 for d in data(s, "occupancy")), 10, "a count of 3")
        self.assertEqual(len(data(watcher, "occupied")), 1, watcher.describe())
        self.assertEqual(data(watcher, "occupancy")[-1],
                         {"topic": "lobby", "subscribers": 3, "subscribersCluster": 3})
        self.assertEqual(curl_json(server.port, "/topics/lobby")[1]["subscribers"], 3)  # not the watcher
        for s in subs:
            s.close()
        watcher.wait(lambda s: data(s, "vacated"), 10, "vacated")
        self.assertEqual(data(watcher, "vacated"), [{"topic": "lobby", "subscribers": 0, "subscribersCluster": 0}])
        self.assertGreaterEqual(server.metrics().sum("ringcast_occupancy_events_total"), 3)
        # Publishers never write to the server's topics.
        self.assertEqual(http_request(server.port, "POST", "/pub/_occupancy.lobby", b"x").status, 403)


if __name__ == "__main__":
    unittest.main()
