"""Fan-out to 500 raw-socket subscribers over 2 shards and 3 topics.

Checks:
  * 500 streams are accepted (exact head, retry in range) and /metrics reports
    sum(ringcast_streams) == 500 with one series per shard;
  * 20 events per topic, published interleaved across topics and over several publisher
    connections (so they land on both shards), reach every subscriber of their topic
    exactly once, in publish order, byte-exact, and nothing else arrives (heartbeat
    comments excepted);
  * ids are strictly increasing per topic;
  * multi-topic streams (/sse?topic=..&topic=..) receive each of their topics' events in
    that topic's order and no event of another topic;
  * after the streams close, sum(ringcast_streams) returns to 0.
"""

import unittest

from ringcast_harness import (PING, RingcastTestCase, assert_strictly_increasing,
                              encode_event, pump, read_available)

TOPICS = ["t0", "t1", "t2"]
STREAMS = 500
EVENTS_PER_TOPIC = 20
# A few multi-topic subscriptions (the rest are single-topic, round-robin over TOPICS).
MULTI = [["t0", "t1"]] * 6 + [["t1", "t2"]] * 4 + [["t0", "t1", "t2"]] * 4


def target_for(topics: list[str]) -> str:
    if len(topics) == 1:
        return f"/sse/{topics[0]}"
    return "/sse?" + "&".join(f"topic={t}" for t in topics)


def payload(topic: str, i: int) -> tuple[bytes, str | None]:
    """Varied bodies: single line, multi-line (LF / CRLF), UTF-8, empty, typed."""
    kind = i % 5
    if kind == 0:
        return f"{topic} event {i}".encode(), None
    if kind == 1:
        return f"{topic} event {i}\nsecond line\r\nthird line".encode(), "multi"
    if kind == 2:
        return f"{topic} #{i} — ünïcödé ✓".encode("utf-8"), None
    if kind == 3:
        return f"{topic} {i} trailing break\n".encode(), f"kind.{i}"
    return f"{topic} {i} ".encode() + b"x" * 300, None


class FanoutManyTest(RingcastTestCase):

    def test_fanout_500_streams(self):
        server = self.start_server()  # 2 shards
        subscriptions = [[TOPICS[i % len(TOPICS)]] for i in range(STREAMS - len(MULTI))]
        subscriptions += MULTI
        streams = server.open_streams([target_for(t) for t in subscriptions], timeout=40)
        for s in streams:
            self.assertStreamHead(s)

        m = server.metrics()
        self.assertEqual(m.sum("ringcast_streams"), STREAMS, "sum of ringcast_streams")
        self.assertEqual(m.label_values("ringcast_streams", "shard"), {"0", "1"})
        self.assertGreaterEqual(m.sum("ringcast_connections"), STREAMS)

        # Publish interleaved: t0#0, t1#0, t2#0, t0#1, ... over 4 keep-alive connections.
        publishers = [server.conn() for _ in range(4)]
        expected: dict[str, list[bytes]] = {t: [] for t in TOPICS}
        ids: dict[str, list[str]] = {t: [] for t in TOPICS}
        n = 0
        for i in range(EVENTS_PER_TOPIC):
            for topic in TOPICS:
                data, event = payload(topic, i)
                event_id = server.publish(topic, data, event, conn=publishers[n % 4])
                n += 1
                ids[topic].append(event_id)
                expected[topic].append(encode_event(event_id, data, event))
            # Read while publishing so no subscriber socket buffer ever fills up.
            read_available(streams)
        for topic in TOPICS:
            assert_strictly_increasing(self, ids[topic], f"ids of {topic}")

        want_counts = [EVENTS_PER_TOPIC * len(t) for t in subscriptions]

        def all_received() -> bool:
            return all(len(s.events) >= c for s, c in zip(streams, want_counts))

        pump(streams, all_received, 20, "every stream to receive its events")

        owner = {raw: t for t in TOPICS for raw in expected[t]}
        for stream, topics in zip(streams, subscriptions):
            blocks = stream.parser.blocks[1:]  # after the retry line
            others = [b.raw for b in blocks if b.kind != "event" and b.raw != PING]
            self.assertEqual(others, [], f"{stream.target}: unexpected blocks")
            self.assertEqual(stream.parser.partial, b"", f"{stream.target}: partial event")
            got = [b.raw for b in blocks if b.kind == "event"]
            if len(topics) == 1:
                self.assertEqual(got, expected[topics[0]], stream.target)
                continue
            strangers = [raw for raw in got if owner.get(raw) not in topics]
            self.assertEqual(strangers, [], f"{stream.target}: events not of its topics")
            for topic in topics:
                self.assertEqual([raw for raw in got if owner[raw] == topic], expected[topic],
                                 f"{stream.target}: events of {topic}")
            self.assertEqual(len(got), want_counts[subscriptions.index(topics)])

        m = server.metrics()
        self.assertEqual(m.sum("ringcast_events_published_total"), len(TOPICS) * EVENTS_PER_TOPIC)
        self.assertEqual(m.sum("ringcast_drops_total"), 0, "no subscriber should be dropped")

        for s in streams:
            s.close()
        server.wait_metric("ringcast_streams", lambda v: v == 0, 10,
                           "ringcast_streams to return to 0 after closing")


if __name__ == "__main__":
    unittest.main()
