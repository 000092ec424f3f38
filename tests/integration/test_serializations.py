"""Each published event is serialized exactly once, however many subscribers it has.

With 1 subscriber and again with 1,000 subscribers (spread over 2 shards) on a topic,
publishing E events must raise, once every subscriber has received them:
  * ringcast_events_published_total by exactly E,
  * ringcast_serializations_total   by exactly E (not E x shards, not E x subscribers),
  * ringcast_deliveries_total       by exactly subscribers x E,
  * ringcast_bytes_sent_total       by at least the event bytes the subscribers received,
  * ringcast_sends_total            by at least 1.
Counters are polled until they reach the expected value (they may be updated just after
the bytes are on the wire), then compared exactly.
"""

import unittest

from ringcast_harness import RingcastTestCase, encode_event, pump

EVENTS = 5

COUNTERS = [
    "ringcast_events_published_total",
    "ringcast_serializations_total",
    "ringcast_deliveries_total",
    "ringcast_bytes_sent_total",
    "ringcast_sends_total",
]


class SerializationsTest(RingcastTestCase):

    def counters(self, server) -> dict[str, float]:
        m = server.metrics()
        return {name: m.sum(name) for name in COUNTERS}

    def check_fanout(self, server, topic: str, subscribers: int) -> None:
        streams = server.open_streams([f"/sse/{topic}"] * subscribers, timeout=40)
        before = self.counters(server)

        expected = []
        for i in range(EVENTS):
            data = f"{topic} event {i}\nwith two lines".encode()
            expected.append(encode_event(server.publish(topic, data), data))
        pump(streams, lambda: all(len(s.events) >= EVENTS for s in streams), 20,
             f"{subscribers} subscribers to receive {EVENTS} events")
        for s in streams:
            self.assertEqual([e.raw for e in s.events], expected, s.target)

        deliveries = subscribers * EVENTS
        server.wait_metric(
            "ringcast_deliveries_total",
            lambda v: v - before["ringcast_deliveries_total"] >= deliveries, 10,
            f"deliveries to rise by {deliveries}")
        after = self.counters(server)
        delta = {k: after[k] - before[k] for k in COUNTERS}
        what = f"with {subscribers} subscriber(s): {delta}"
        self.assertEqual(delta["ringcast_events_published_total"], EVENTS, what)
        self.assertEqual(delta["ringcast_serializations_total"], EVENTS, what)
        self.assertEqual(delta["ringcast_deliveries_total"], deliveries, what)
        self.assertGreaterEqual(delta["ringcast_bytes_sent_total"],
                                subscribers * sum(len(e) for e in expected), what)
        self.assertGreaterEqual(delta["ringcast_sends_total"], 1, what)

        for s in streams:
            s.close()
        server.wait_metric("ringcast_streams", lambda v: v == 0, 10,
                           "streams to return to 0")

    def test_one_subscriber(self):
        server = self.start_server()
        self.check_fanout(server, "solo", 1)

    def test_thousand_subscribers(self):
        server = self.start_server()
        self.check_fanout(server, "crowd", 1000)
        # And again on the same server, to see the counters keep exact per-event pace.
        self.check_fanout(server, "crowd2", 1000)

    def test_overflowing_completion_queue_loses_nothing(self):
        # io_uring only (whatever RINGCAST_IO says). A CQ of 64 for a fan-out to 1,000 streams: the send completions overflow it (the
        # kernel keeps them, IORING_FEAT_NODROP) and the shard must still see every one, or
        # streams would stall with a send "in flight" forever.
        server = self.start_server("--io", "uring", "--ring-entries", "64", "--ring-cq-entries", "64")
        self.check_fanout(server, "squeeze", 1000)
        server.wait_metric("ringcast_cq_overflows_total", lambda v: v > 0, 5,
                           "the small completion queue to have overflowed")


if __name__ == "__main__":
    unittest.main()
