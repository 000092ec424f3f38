"""Idle streams receive `: ping` comments (--heartbeat-ms 300).

Checks:
  * every idle stream (several, so both shards have some) receives at least two exact
    `: ping\\n\\n` comments, and nothing but pings after the retry line;
  * a stream that gets an event regularly receives every event, byte-exact and in order,
    with nothing but events and pings in between (no ping inside an event);
  * an idle stream that has been pinged still receives an event published afterwards;
  * ringcast_heartbeats_total rises.
"""

import time
import unittest

from ringcast_harness import PING, RingcastTestCase, encode_event, pump, read_available


class HeartbeatTest(RingcastTestCase):

    def test_heartbeat(self):
        server = self.start_server("--heartbeat-ms", "300")
        before = server.metrics().sum("ringcast_heartbeats_total")

        idle = server.open_streams(["/sse/quiet"] * 6 + ["/sse?topic=quiet2&topic=quiet3"] * 2)
        busy = server.open_streams(["/sse/busy"] * 2)
        everyone = idle + busy

        # Publish to "busy" every ~100 ms while reading everything.
        expected = []
        for i in range(25):
            data = f"tick {i}".encode()
            expected.append(encode_event(server.publish("busy", data), data))
            read_available(everyone)
            time.sleep(0.1)

        def pings(s):
            return sum(1 for b in s.parser.blocks if b.kind == "comment")

        pump(everyone, lambda: all(pings(s) >= 2 for s in idle) and
             all(len(s.events) >= len(expected) for s in busy), 15,
             "two pings on every idle stream and every tick on the busy ones")

        for s in idle:
            self.assertStreamHead(s)
            self.assertEqual([b.raw for b in s.parser.blocks[1:]],
                             [PING] * (len(s.parser.blocks) - 1), s.target)
        for s in busy:
            self.assertStreamHead(s)
            self.assertEqual([b.raw for b in s.events], expected, s.target)
            others = [b.raw for b in s.parser.blocks[1:] if b.kind != "event"]
            self.assertEqual(others, [PING] * len(others), s.target)

        # Pings do not get in the way of a later event.
        event_id = server.publish("quiet", b"finally\nsomething")
        quiet = [s for s in idle if s.target == "/sse/quiet"]
        pump(quiet, lambda: all(len(s.events) >= 1 for s in quiet), 10, "the late event")
        for s in quiet:
            self.assertEqual([b.raw for b in s.events],
                             [encode_event(event_id, b"finally\nsomething")])

        server.wait_metric("ringcast_heartbeats_total", lambda v: v > before, 10,
                           "ringcast_heartbeats_total to rise")


if __name__ == "__main__":
    unittest.main()
