"""A shard holds more sockets than one ring's descriptor table: it adds io_uring instances.

With `--ring-files 64` each ring's fixed-file table holds 64 descriptors, so 600 streams on one
shard need about ten rings (the accept moves on before a ring is full). Checks:
  * every stream is accepted and answered (none is reset by a full table);
  * events fan out to every stream on every ring, exactly and in order;
  * streams on all rings close and free their slots; afterwards new streams are accepted again;
  * the server logs the rings it added.
The same mechanism is what lets one process hold far more streams than RLIMIT_NOFILE.
"""

import unittest

from ringcast_harness import RingcastTestCase, encode_event, pump

STREAMS = 600


class MultiRingTest(RingcastTestCase):

    def test_streams_spread_over_rings(self):
        server = self.start_server("--ring-files", "64", "--max-streams", "2000", shards=1)
        streams = server.open_streams([f"/sse/rings{i % 3}" for i in range(STREAMS)])
        server.wait_metric("ringcast_streams", lambda v: v == STREAMS, 20, "all streams open")
        self.assertGreaterEqual(server.log().count("event=ring_added"), 8, server.log())
        published = {t: [] for t in range(3)}
        for n in range(5):
            for t in range(3):
                data = f"ring event {n} topic {t}".encode()
                published[t].append((server.publish(f"rings{t}", data), data))
        pump(streams, lambda: all(len(s.events) >= 5 for s in streams), 30, "every event")
        for i, s in enumerate(streams):
            got = [(e.id, e.data) for e in s.events]
            self.assertEqual(got, published[i % 3], s.describe())
            self.assertEqual(b"".join(e.raw for e in s.events),
                             b"".join(encode_event(eid, d) for eid, d in published[i % 3]))
        for s in streams:
            s.close()
        server.wait_metric("ringcast_streams", lambda v: v == 0, 20, "streams to close")
        again = server.open_streams([f"/sse/rings0" for _ in range(STREAMS)])
        server.wait_metric("ringcast_streams", lambda v: v == STREAMS, 20, "streams to reopen")
        eid = server.publish("rings0", b"after reuse")
        pump(again, lambda: all(len(s.events) >= 1 for s in again), 30, "the event after reuse")
        self.assertTrue(all(s.events[0].id == eid for s in again))


if __name__ == "__main__":
    unittest.main()
