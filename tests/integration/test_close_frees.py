"""A subscriber that goes away frees its stream.

Checks:
  * 50 streams raise sum(ringcast_streams) by 50 (and connections by at least 50); closing
    them brings both gauges back to their earlier values;
  * a client that half-closes (shutdown(SHUT_WR)) is treated as gone: the stream is freed
    and the server closes its side (the client reads EOF);
  * a client that aborts with a TCP RST is freed as well;
  * streams that disappear while events are being published do not disturb the others,
    which still receive every event.
"""

import unittest

from ringcast_harness import RingcastTestCase, encode_event, pump


class CloseFreesTest(RingcastTestCase):

    def setUp(self):
        self.server = self.start_server()
        m = self.server.metrics()
        self.base_streams = m.sum("ringcast_streams")
        self.base_connections = m.sum("ringcast_connections")

    def wait_streams(self, value: float, what: str) -> None:
        self.server.wait_metric("ringcast_streams", lambda v: v == value, 10, what)

    def test_close_50(self):
        streams = self.server.open_streams([f"/sse/close{i % 5}" for i in range(50)])
        m = self.server.metrics()
        self.assertEqual(m.sum("ringcast_streams"), self.base_streams + 50)
        self.assertGreaterEqual(m.sum("ringcast_connections"), self.base_connections + 50)
        for s in streams:
            s.close()
        self.wait_streams(self.base_streams, "streams to return to the earlier value")
        self.server.wait_metric("ringcast_connections", lambda v: v == self.base_connections,
                                10, "connections to return to the earlier value")
        # Publishing to the now subscriber-less topics is fine.
        self.server.publish("close0", b"nobody listens")

    def test_half_close(self):
        (stream,) = self.server.open_streams(["/sse/half"])
        self.assertEqual(self.server.metrics().sum("ringcast_streams"), self.base_streams + 1)
        stream.shutdown_write()
        self.wait_streams(self.base_streams, "a half-closed stream to be freed")
        pump([stream], lambda: stream.eof, 10, "the server to close the half-closed stream")
        self.server.publish("half", b"after half-close")
        self.assertEqual(self.server.request("GET", "/healthz").status, 200)

    def test_reset(self):
        streams = self.server.open_streams(["/sse/rst"] * 10)
        self.assertEqual(self.server.metrics().sum("ringcast_streams"), self.base_streams + 10)
        for s in streams:
            s.abort()
        self.wait_streams(self.base_streams, "reset streams to be freed")
        self.server.publish("rst", b"after reset")
        self.assertEqual(self.server.request("GET", "/healthz").status, 200)

    def test_close_during_publishing(self):
        leaving = self.server.open_streams(["/sse/busy"] * 20)
        staying = self.server.open_streams(["/sse/busy"] * 5)
        expected = []
        for i in range(30):
            data = f"event {i}".encode()
            expected.append(encode_event(self.server.publish("busy", data), data))
            if i == 10:
                for s in leaving[:10]:
                    s.close()
            if i == 20:
                for s in leaving[10:]:
                    s.abort()
        pump(staying, lambda: all(len(s.events) >= 30 for s in staying), 15,
             "the remaining subscribers to receive every event")
        for s in staying:
            self.assertEqual([e.raw for e in s.events], expected)
        for s in staying:
            s.close()
        self.wait_streams(self.base_streams, "every stream to be freed")


if __name__ == "__main__":
    unittest.main()
