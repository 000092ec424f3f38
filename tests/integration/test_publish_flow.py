"""Publish flow control (--publish-wait-ms, core/shard_flow.cc) against the real binary, two
shards, so streams and topic owners sit on different shards:

  * subscribers that do not read for a while: the sequential publisher waits (its publishes are
    held, counted in /metrics) instead of running the history past them; once they read, every
    subscriber gets every event in order, no gap, no drop, and every publish is answered 202;
  * a subscriber that never reads beside one that does: the publisher waits once (until the
    stalled stream's send has been pending --publish-wait-ms), then the stalled stream falls off
    the history and is dropped as a slow consumer while the reader, still protected, gets every
    event;
  * --publish-wait-ms 0: no waiting at all, the stalled stream is dropped.

Small socket buffers on both sides (--sndbuf, SO_RCVBUF) make "not reading" fill the path fast.
Every wait is bounded; nothing asserts on speed.
"""

import threading
import time
import unittest

from ringcast_harness import RingcastTestCase, SseStream, bounded, pump, wait_until

HISTORY = 32
PAD = b"x" * 1000


def body(n: int) -> bytes:
    return b"%d|" % n + PAD


class Publisher(threading.Thread):
    """Publishes `count` events one at a time on one keep-alive connection (what requests,
    fetch and curl do) and records each answer's status."""

    def __init__(self, server, topic: str, count: int):
        super().__init__(daemon=True)
        self.server, self.topic, self.count = server, topic, count
        self.statuses: list[int] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with self.server.conn(timeout=60.0) as conn:
                for n in range(self.count):
                    resp = conn.request("POST", f"/pub/{self.topic}", body(n))
                    self.statuses.append(resp.status)
        except BaseException as e:  # reported by the test
            self.error = e


class PublishFlowTest(RingcastTestCase):
    def subscribe(self, server, topic: str) -> SseStream:
        s = SseStream(server.port, f"/sse/{topic}", recv_buffer_bytes=4096)
        self.addCleanup(s.close)
        s.wait(lambda st: st.ready, 10.0, "stream head")
        return s

    def check_all(self, stream: SseStream, count: int) -> None:
        events = stream.events
        self.assertEqual([e.event for e in events if e.event == "gap"], [])
        self.assertEqual([e.data.split(b"|")[0] for e in events], [b"%d" % n for n in range(count)])
        self.assertTrue(all(e.data == body(n) for n, e in enumerate(events)))

    def test_publisher_waits_for_subscribers_that_read_late(self):
        server = self.start_server("--history", str(HISTORY), "--sndbuf", "4096",
                                   "--publish-wait-ms", "60000")
        subs = [self.subscribe(server, "flow") for _ in range(4)]
        count = 200
        pub = Publisher(server, "flow", count)
        pub.start()
        # Nobody reads: the buffers fill, the streams fall half a history behind, the publisher waits.
        wait_until(lambda: server.metrics().sum("ringcast_publishes_held_total") > 0, 30.0,
                   "a publish held while the subscribers do not read")
        self.assertTrue(pub.is_alive())
        self.assertLess(len(pub.statuses), count)
        pump(subs, lambda: all(len(s.events) >= count for s in subs), 120.0, "every event read")
        pub.join(60.0)
        self.assertIsNone(pub.error)
        self.assertEqual(pub.statuses, [202] * count)
        for s in subs:
            self.check_all(s, count)
        m = server.metrics()
        self.assertEqual(m.sum("ringcast_drops_total"), 0)
        self.assertEqual(m.sum("ringcast_publish_overruns_total"), 0)
        self.assertEqual(m.sum("ringcast_events_published_total"), count)

    def test_a_stream_that_never_reads_costs_one_wait_then_is_dropped(self):
        server = self.start_server("--history", str(HISTORY), "--sndbuf", "4096",
                                   "--publish-wait-ms", "500")
        stalled = self.subscribe(server, "flow")
        reader = self.subscribe(server, "flow")
        count = 300
        pub = Publisher(server, "flow", count)
        pub.start()
        pump([reader], lambda: not pub.is_alive() and len(reader.events) >= count, 120.0,
             "the publisher done and the reader caught up")
        self.assertIsNone(pub.error)
        self.assertEqual(pub.statuses, [202] * count)
        self.check_all(reader, count)
        m = server.metrics()
        self.assertGreaterEqual(m.sum("ringcast_publishes_held_total"), 1)
        self.assertEqual(m.sum("ringcast_publish_overruns_total"), 0)
        self.assertGreaterEqual(m.sum("ringcast_drops_total", reason="slow_consumer"), 1)
        # The stalled stream was closed by the server: reading it now ends at EOF.
        for _ in bounded(30.0, "the stalled stream's end"):
            if not stalled.read_available():
                break
            time.sleep(0.01)

    def test_no_waiting_when_turned_off(self):
        server = self.start_server("--history", str(HISTORY), "--sndbuf", "4096",
                                   "--publish-wait-ms", "0")
        self.subscribe(server, "flow")
        count = 300
        pub = Publisher(server, "flow", count)
        pub.start()
        pub.join(120.0)
        self.assertFalse(pub.is_alive())
        self.assertIsNone(pub.error)
        self.assertEqual(pub.statuses, [202] * count)
        m = server.metrics()
        self.assertEqual(m.sum("ringcast_publishes_held_total"), 0)
        wait_until(lambda: server.metrics().sum("ringcast_drops_total", reason="slow_consumer") >= 1,
                   30.0, "the stalled stream dropped")


if __name__ == "__main__":
    unittest.main()
