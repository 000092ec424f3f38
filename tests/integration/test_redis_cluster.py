"""Scale-out over Redis Streams: three ringcast nodes and one real redis-server on loopback.

Checks (see README "Running a cluster" and docs/PROTOCOL.md "Redis mode"):
  * a publish on node A reaches every subscriber on B and C, in order, with the id A answered
    (the stream entry id), byte for byte the same on every node;
  * node B is killed; its clients resume with Last-Event-ID on C (which reads the topic) and
    on A (which holds nothing of it: replayed from the stream), with no loss and no
    duplicate, then get live events;
  * Redis killed mid-stream: publishes answer 503 with Retry-After, open streams stay open,
    /metrics shows ringcast_redis_up 0 and the log says so; Redis restarted: the nodes
    reconnect, show the recovery, and every event published afterwards arrives in order;
  * a topic with subscribers on one node only is read (XREAD) by that node alone.
"""

import signal
import time
import unittest

from ringcast_harness import (HttpConn, RingcastTestCase, SseStream, bounded, encode_event,
                              pump)
from redis_peer import RedisServer


class RedisClusterTest(RingcastTestCase):

    def setUp(self):
        self.redis = RedisServer().start()
        self.addCleanup(self.redis.cleanup)

    def node(self, *flags: str, check_exit: bool = True):
        return self.start_server("--redis", self.redis.address, "--log-level", "info", *flags,
                                 check_exit=check_exit)

    def publish_many(self, node, topic: str, n: int, tag: str) -> list[tuple[str, bytes]]:
        out = []
        with HttpConn(node.port) as conn:
            for i in range(n):
                data = f"{tag} {i}\nline two of {i}".encode()
                out.append((node.publish(topic, data, conn=conn), data))
        return out

    def assertExactly(self, stream: SseStream, events: list[tuple[str, bytes]], what: str):
        want = b"".join(encode_event(i, d) for i, d in events)
        got = b"".join(b.raw for b in stream.parser.blocks if b.kind == "event")
        self.assertEqual(got, want, f"{what}: {stream.describe()}")

    def wait_events(self, streams, n: int, what: str, timeout: float = 20.0):
        pump(streams, lambda: all(len(s.events) >= n for s in streams), timeout, what)

    def test_publish_on_a_reaches_b_and_c_in_order_with_the_same_ids(self):
        a, b, c = self.node(), self.node(), self.node()
        subs = b.open_streams(["/sse/news"] * 3) + c.open_streams(["/sse/news"] * 3)
        events = self.publish_many(a, "news", 60, "ev")
        ids = [i for i, _ in events]
        self.assertEqual(len(set(ids)), len(ids))
        self.wait_events(subs, len(events), "60 events on B and C")
        for s in subs:
            self.assertExactly(s, events, "subscriber on B/C")
        # One serialization per event per node that reads the topic; A reads nothing.
        for node, name in ((b, "B"), (c, "C")):
            m = node.metrics()
            self.assertEqual(m.sum("ringcast_redis_entries_read_total"), len(events), name)
            self.assertEqual(m.sum("ringcast_serializations_total"), len(events), name)
            self.assertEqual(m.sum("ringcast_redis_up"), 1, name)
        m = a.metrics()
        self.assertEqual(m.sum("ringcast_redis_publishes_total"), len(events))
        self.assertEqual(m.sum("ringcast_redis_entries_read_total"), 0)

    def test_killed_node_clients_resume_on_other_nodes_without_loss(self):
        a, c = self.node(), self.node()
        b = self.node(check_exit=False)
        watcher = c.open_streams(["/sse/feed"])[0]  # C reads the topic throughout
        on_b = b.open_streams(["/sse/feed"] * 4)
        first = self.publish_many(a, "feed", 20, "before")
        self.wait_events(on_b + [watcher], 20, "20 events on B")
        b.proc.kill()
        b.wait(10)
        later = self.publish_many(a, "feed", 15, "while B is down")
        self.wait_events([watcher], 35, "35 events on C")
        # Each client resumes from the last id it saw: two on C (its own history serves them),
        # two on A (A never read the topic: replayed from the stream).
        resumed = []
        for k, old in enumerate(on_b):
            last = old.events[-1].id
            self.assertEqual(last, first[-1][0])
            target = c if k < 2 else a
            resumed.append(target._track(SseStream(target.port, "/sse/feed",
                                                   headers=[("Last-Event-ID", last)])))
        pump(resumed, lambda: all(s.ready for s in resumed), 20, "resumed streams")
        self.wait_events(resumed, len(later), "the events missed while B was down")
        live = self.publish_many(a, "feed", 5, "after")
        self.wait_events(resumed + [watcher], len(later) + len(live), "live events after the resume")
        self.wait_events([watcher], len(first) + len(later) + len(live), "every event on C")
        for s in resumed:
            self.assertExactly(s, later + live, "resumed stream")
            self.assertEqual([blk.kind for blk in s.parser.blocks if blk.kind == "event" and
                              blk.event == "gap"], [], "no gap event")
        self.assertExactly(watcher, first + later + live, "C's own subscriber")
        # A held nothing of the topic: both its resumes came from the stream. (C serves a resume
        # from history only on the shard whose subscriber kept it watching; on its other shard
        # it replays from the stream too, which is conservative, not wrong.)
        self.assertEqual(a.metrics().sum("ringcast_redis_replays_total"), 2)

    def test_redis_restart_mid_stream(self):
        a, b = self.node(), self.node()
        subs = b.open_streams(["/sse/live"] * 3)
        before = self.publish_many(a, "live", 5, "before")
        self.wait_events(subs, 5, "events before the outage")
        self.redis.stop()
        a.wait_metric("ringcast_redis_up", lambda v: v == 0, 10, "A to notice the outage")
        b.wait_metric("ringcast_redis_up", lambda v: v == 0, 10, "B to notice the outage")
        resp = a.request("POST", "/pub/live", b"lost")
        self.assertEqual(resp.status, 503, str(resp))
        self.assertEqual(resp.header("Retry-After"), "1")
        self.assertGreaterEqual(a.metrics().sum("ringcast_redis_unavailable_total"), 1)
        # Streams stay open through the outage.
        for s in subs:
            s.read_available()
            self.assertFalse(s.eof, "a stream was closed during the Redis outage")
        self.redis.start()
        a.wait_metric("ringcast_redis_up", lambda v: v == 1, 20, "A to reconnect")
        # Publish at once: B may still be backing off and must catch up from its last id.
        after = self.publish_many(a, "live", 10, "after")
        b.wait_metric("ringcast_redis_up", lambda v: v == 1, 20, "B to reconnect")
        self.wait_events(subs, 15, "events after the restart")
        for s in subs:
            self.assertExactly(s, before + after, "subscriber across the Redis restart")
        for node in (a, b):
            self.assertGreaterEqual(node.metrics().sum("ringcast_redis_reconnects_total"), 1)
            self.assertIn("event=redis_down", node.log())
            self.assertIn("event=redis_up", node.log())

    def test_topic_with_subscribers_on_one_node_only(self):
        a, b, c = self.node(), self.node(), self.node()
        elsewhere = b.open_streams(["/sse/other"])  # B reads another topic meanwhile
        solo = c.open_streams(["/sse/solo"] * 2)
        events = self.publish_many(a, "solo", 12, "solo")
        self.wait_events(solo, 12, "solo events on C")
        for s in solo:
            self.assertExactly(s, events, "solo subscriber")
        other = self.publish_many(a, "other", 3, "other")
        self.wait_events(elsewhere, 3, "other events on B")
        self.assertExactly(elsewhere[0], other, "B's subscriber")
        self.assertEqual(c.metrics().sum("ringcast_redis_entries_read_total"), 12)
        self.assertEqual(b.metrics().sum("ringcast_redis_entries_read_total"), 3)
        self.assertEqual(a.metrics().sum("ringcast_redis_entries_read_total"), 0)
        # After C's last subscriber leaves, C stops reading the topic.
        for s in solo:
            s.close()
        c.wait_metric("ringcast_streams", lambda v: v == 0, 10, "C's streams to close")
        time.sleep(0.3)  # not a timing assertion: lets the unwatch reach the bridge
        self.publish_many(a, "solo", 4, "unread")
        b_before = b.metrics().sum("ringcast_redis_entries_read_total")
        sentinel = self.publish_many(a, "other", 1, "sentinel")
        self.wait_events(elsewhere, 4, "the sentinel on B")
        self.assertEqual(b.metrics().sum("ringcast_redis_entries_read_total"), b_before + 1)
        self.assertEqual(elsewhere[0].events[-1].id, sentinel[0][0])
        self.assertEqual(c.metrics().sum("ringcast_redis_entries_read_total"), 12)


if __name__ == "__main__":
    unittest.main()
