"""--max-streams caps open SSE streams across all shards.

Checks (--max-streams 10, 2 shards):
  * 10 streams (single- and multi-topic) are accepted; sum(ringcast_streams) == 10;
  * the 11th GET /sse/... (single or multi-topic) gets 503 with Content-Length and
    Connection: close, and the server closes it;
  * plain requests still work at the limit: /healthz 200, /metrics 200, publishing 202,
    and the 10 open streams receive the published event;
  * after one stream closes (and ringcast_streams shows 9), a new stream is accepted,
    and the one after that is refused again.
"""

import unittest

from ringcast_harness import HttpConn, RingcastTestCase, encode_event, pump

LIMIT = 10


class MaxStreamsTest(RingcastTestCase):

    def assertRefused(self, port: int, target: str) -> None:
        with HttpConn(port) as conn:
            resp = conn.request("GET", target)
            self.assertClosedError(conn, resp, 503, f"stream #{LIMIT + 1} {target}")

    def test_limit(self):
        server = self.start_server("--max-streams", str(LIMIT))
        targets = [f"/sse/lim{i % 3}" for i in range(LIMIT - 2)]
        targets += ["/sse?topic=lim0&topic=lim1", "/sse?topic=lim1&topic=lim2"]
        streams = server.open_streams(targets)
        for s in streams:
            self.assertStreamHead(s)
        self.assertEqual(server.metrics().sum("ringcast_streams"), LIMIT)

        self.assertRefused(server.port, "/sse/lim0")
        self.assertRefused(server.port, "/sse?topic=lim0&topic=other")
        self.assertRefused(server.port, "/sse/brand-new-topic")

        resp = server.request("GET", "/healthz")
        self.assertEqual((resp.status, resp.body), (200, b"ok\n"))
        self.assertEqual(server.metrics().sum("ringcast_streams"), LIMIT)
        event_id = server.publish("lim1", b"still delivering")
        receivers = [s for s in streams if "lim1" in s.target]
        pump(receivers, lambda: all(len(s.events) >= 1 for s in receivers), 10,
             "the event at the limit")
        for s in receivers:
            self.assertEqual([e.raw for e in s.events],
                             [encode_event(event_id, b"still delivering")], s.target)

        streams[0].close()
        server.wait_metric("ringcast_streams", lambda v: v == LIMIT - 1, 10,
                           "a closed stream to be freed")
        (replacement,) = server.open_streams(["/sse/lim0"])
        self.assertStreamHead(replacement)
        self.assertEqual(server.metrics().sum("ringcast_streams"), LIMIT)
        self.assertRefused(server.port, "/sse/lim0")


if __name__ == "__main__":
    unittest.main()
