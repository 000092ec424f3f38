"""Redis stream entries are data from outside: whoever can write the stream keys (a shared Redis,
another tenant, a bug in another service) writes them, so every entry read is held to the rules
of a publish, and a resume replayed from a stream is bounded. A real redis-server on loopback;
the hostile entries are written into it directly (XADD over a raw socket), never through
ringcast. See docs/SECURITY.md ("Redis mode").

Checks:
  * entries with an event type carrying CR/LF (SSE field injection), data that is not UTF-8, or
    data over --max-event-bytes reach no subscriber, are counted by reason in
    ringcast_redis_entries_rejected_total and logged (event=redis_entry_rejected); the valid
    entry behind them arrives with its stream id;
  * a long poll over the history after such entries answers (the process does not abort);
  * an entry whose id is a full 64-bit Redis id, or a watched key overwritten with a string,
    does not stall the node's other topics;
  * a resume from 0-1 on 8 topics whose streams hold ~75 MB replays at most --history-bytes
    per topic: the process's resident size stays bounded, and each topic gets the gap event
    (reason "expired", firstId the first entry replayed) followed by the newest entries.
"""

import json
import unittest

from ringcast_harness import RingcastTestCase, SseStream, pump, wait_until
from redis_peer import RedisServer

PREFIX = "ringcast:"


class RedisHostileEntriesTest(RingcastTestCase):

    def setUp(self):
        self.redis = RedisServer().start()
        self.addCleanup(self.redis.cleanup)

    def node(self, *flags: str):
        return self.start_server("--redis", self.redis.address, "--log-level", "info", *flags)

    def write_hostile_entries(self, topic: str) -> None:
        key = PREFIX + topic
        self.redis.xadd(key, {"d": "hi", "e": "x\nid: 9-9\ndata: injected"})
        self.redis.xadd(key, {"d": "hi", "e": "a\rdata: injected"})
        self.redis.xadd(key, {"d": b"\xff\xfe injected"})
        self.redis.xadd(key, {"d": "injected " + "A" * 2000})  # over --max-event-bytes 1024

    def test_hostile_entries_reach_no_subscriber_and_are_counted(self):
        node = self.node("--max-event-bytes", "1024")
        stream = node.open_streams(["/sse/t"])[0]
        self.write_hostile_entries("t")
        good = self.redis.xadd(PREFIX + "t", {"d": "fine", "e": "tick"})
        stream.wait(lambda s: len(s.events) >= 1, 20, "the valid entry")
        events = [(b.id, b.event, b.data) for b in stream.events]
        self.assertEqual(events, [(good, "tick", b"fine")], stream.describe())
        self.assertNotIn(b"injected", stream.parser.body)
        m = node.metrics()
        name = "ringcast_redis_entries_rejected_total"
        self.assertEqual(m.sum(name, reason="event_type"), 2)
        self.assertEqual(m.sum(name, reason="utf8"), 1)
        self.assertEqual(m.sum(name, reason="too_large"), 1)
        self.assertEqual(m.sum(name), 4)
        self.assertEqual(m.sum("ringcast_redis_entries_read_total"), 1)
        # The log is read from the server's stderr by another thread: wait for the line.
        wait_until(lambda: "event=redis_entry_rejected" in node.log(), 10, "the log line")
        self.assertRegex(node.log(), r"event=redis_entry_rejected key=ringcast:t id=\S+ "
                                     r"reason=event_type suppressed=0")

    def test_poll_over_the_history_after_hostile_entries_answers(self):
        # Any entry that reached a topic's history used to abort the process when a poll
        # decoded it back (an assert in the poll path); now none reaches the history.
        node = self.node("--max-event-bytes", "1024")
        stream = node.open_streams(["/sse/p"])[0]  # keeps the node reading the stream
        self.write_hostile_entries("p")
        good = self.redis.xadd(PREFIX + "p", {"d": "fine"})
        stream.wait(lambda s: len(s.events) >= 1, 20, "the valid entry")
        resp = node.request("GET", "/poll/p?lastEventId=0-1")
        self.assertEqual(resp.status, 200, str(resp))
        body = resp.json()
        self.assertEqual(body["events"], [{"id": good, "data": "fine"}], resp.body)
        self.assertEqual(node.request("GET", "/healthz").status, 200)

    def test_full_width_redis_id_does_not_stall_other_topics(self):
        # Redis ids are two 64-bit numbers; one with a 20-digit part used to fail the whole
        # XREAD reply, again every round, so no topic of the node got anything more.
        node = self.node()
        wide, other = node.open_streams(["/sse/wide", "/sse/other"])
        wide_id = self.redis.xadd(PREFIX + "wide", {"d": "far"}, "18446744073709551614-0")
        sentinel = self.redis.xadd(PREFIX + "other", {"d": "still here"})
        pump([wide, other], lambda: wide.events and other.events, 20, "both topics")
        self.assertEqual([(b.id, b.data) for b in other.events], [(sentinel, b"still here")])
        self.assertEqual([(b.id, b.data) for b in wide.events], [(wide_id, b"far")])

    def test_key_holding_another_type_does_not_stall_other_topics(self):
        # Redis refuses a whole XREAD if one of its keys is not a stream (WRONGTYPE): a key
        # overwritten with a string used to stop every topic of the node.
        node = self.node()
        bad, good = node.open_streams(["/sse/bad", "/sse/good"])
        self.assertEqual(self.redis.pipeline([("SET", PREFIX + "bad", "not a stream")])[0], b"OK")
        # The first entry may still come from an XREAD that was blocked before the SET; the
        # second can only come from an XREAD that was asked after it.
        first = self.redis.xadd(PREFIX + "good", {"d": "first"})
        good.wait(lambda s: len(s.events) >= 1, 20, "the good topic's first entry")
        second = self.redis.xadd(PREFIX + "good", {"d": "second"})
        good.wait(lambda s: len(s.events) >= 2, 20, "the good topic's second entry")
        self.assertEqual([(b.id, b.data) for b in good.events],
                         [(first, b"first"), (second, b"second")])
        self.assertGreaterEqual(node.metrics().sum("ringcast_redis_wrong_type_keys_total"), 1)
        wait_until(lambda: "event=redis_key_wrong_type key=ringcast:bad type=string" in node.log(),
                   10, "the log line")
        # Once the key is a stream again, its topic is read again.
        self.redis.pipeline([("DEL", PREFIX + "bad")])
        back = self.redis.xadd(PREFIX + "bad", {"d": "back"})
        bad.wait(lambda s: s.events, 20, "the bad topic, a stream again")
        self.assertEqual([(b.id, b.data) for b in bad.events], [(back, b"back")])


class RedisReplayBoundTest(RingcastTestCase):
    TOPICS = 8
    ENTRIES = 160            # per topic, well under --history (1024): only bytes can cap it
    DATA_BYTES = 60_000      # per entry: ~9.6 MB per stream, ~77 MB over the 8
    HISTORY_BYTES = 1 << 20  # --history-bytes: what one topic's replay may hold

    def setUp(self):
        self.redis = RedisServer().start()
        self.addCleanup(self.redis.cleanup)

    def fill_streams(self) -> dict[str, list[str]]:
        ids = {}
        for t in range(self.TOPICS):
            topic = f"r{t}"
            cmds = [("XADD", PREFIX + topic, "*", "d", f"{topic} {i} ".ljust(self.DATA_BYTES, "x"))
                    for i in range(self.ENTRIES)]
            replies = self.redis.pipeline(cmds, timeout=60)
            self.assertTrue(all(isinstance(r, bytes) for r in replies), replies[:3])
            ids[topic] = [r.decode() for r in replies]
        return ids

    def test_resume_from_stream_start_on_eight_topics_is_bounded(self):
        ids = self.fill_streams()
        node = self.start_server("--redis", self.redis.address, "--history-bytes",
                                 str(self.HISTORY_BYTES))
        rss_before = node.metrics().sum("ringcast_resident_bytes")
        # A client that does not read yet: whatever the replay holds stays in the server.
        query = "&".join(f"topic={t}" for t in ids)
        stream = node._track(SseStream(node.port, f"/sse?{query}", recv_buffer_bytes=4096,
                                       headers=[("Last-Event-ID", "0-1")]))
        node.wait_metric("ringcast_redis_replays_total", lambda v: v >= self.TOPICS, 30,
                         "the replays")
        # The head goes out only once the shard has put the replay into the stream's output.
        stream.wait(lambda s: s.parser.head is not None, 30, "the stream head")
        # The streams hold ~73 MiB, all of which the replay used to copy into the stream's
        # output; now it holds at most 8 x 1 MiB (plus transient copies and allocator slack).
        grown = node.metrics().sum("ringcast_resident_bytes") - rss_before
        self.assertLess(grown, 64 << 20, f"RSS grew by {grown / 2**20:.1f} MiB for one resume")
        self.drain_and_check(stream, ids)

    def drain_and_check(self, stream: SseStream, ids: dict[str, list[str]]) -> None:
        def complete():  # every topic's newest entry has arrived
            seen = {b.id for b in stream.events}
            return all(v[-1] in seen for v in ids.values())
        pump([stream], complete, 60, "every topic's newest entry")
        gaps = [json.loads(b.data) for b in stream.events if b.event == "gap"]
        self.assertEqual(sorted(g["topic"] for g in gaps), sorted(ids), "one gap event per topic")
        position = {i: (t, k) for t, v in ids.items() for k, i in enumerate(v)}
        for g in gaps:
            self.assertEqual((g["reason"], g["lastEventId"]), ("expired", "0-1"), g)
            topic, first = position[g["firstId"]]
            self.assertEqual(topic, g["topic"])
            replayed = [b for b in stream.events if b.event != "gap" and position[b.id][0] == topic]
            # The newest entries, contiguous from firstId, within the topic's byte cap.
            self.assertEqual([b.id for b in replayed], ids[topic][first:], topic)
            self.assertGreater(len(replayed), 0, topic)
            self.assertLessEqual(sum(len(b.raw) for b in replayed), self.HISTORY_BYTES, topic)
        self.assertGreaterEqual(len(gaps), self.TOPICS)


if __name__ == "__main__":
    unittest.main()
