"""Graceful shutdown and command-line validation.

Checks:
  * with 20 streams open and events in flight (published, acknowledged with 202, not yet
    read by the subscribers), SIGTERM makes every stream receive every acknowledged event
    byte-exact, end on an event boundary, and then reach EOF; after the last event only
    `: ping` comments and at most one final `retry: N` (N in the configured window, a
    reconnect hint) may appear; the process exits 0 within a bounded time and stops
    listening;
  * SIGINT on an idle server, and SIGTERM with idle keep-alive and half-sent requests
    open, also exit 0;
  * an unknown flag, a missing value or a bad value exits 2 with a message on stderr
    naming the flag (and never starts listening).
"""

import signal
import subprocess
import unittest

from ringcast_harness import (DEFAULT_RETRY_JITTER_MS, DEFAULT_RETRY_MS, HOST, PING,
                              RingcastTestCase, encode_event, pump, ringcast_bin)

EXIT_TIMEOUT = 20  # --drain-ms is 5000: generous bound, not a speed assertion


class ShutdownTest(RingcastTestCase):

    def assertDrainTail(self, stream) -> None:
        """After the events, a draining stream may get pings and one last `retry:` block
        (a jittered reconnect hint) before EOF; nothing else."""
        blocks = stream.parser.blocks[1:]
        last_event = max((i for i, b in enumerate(blocks) if b.kind == "event"), default=-1)
        tail = blocks[last_event + 1:]
        retries = [b for b in tail if b.kind == "retry"]
        self.assertEqual([b.raw for b in tail if b.kind not in ("retry", "comment")], [],
                         f"{stream.target}: after the last event")
        self.assertLessEqual(len(retries), 1, f"{stream.target}: {[b.raw for b in tail]}")
        for b in retries:
            self.assertIs(b, tail[-1], f"{stream.target}: retry is not last")
            self.assertGreaterEqual(b.retry, DEFAULT_RETRY_MS)
            self.assertLessEqual(b.retry, DEFAULT_RETRY_MS + DEFAULT_RETRY_JITTER_MS)
        self.assertEqual([b.raw for b in tail if b.kind == "comment"],
                         [PING] * sum(b.kind == "comment" for b in tail))

    def test_sigterm_flushes_and_closes_streams(self):
        server = self.start_server("--drain-ms", "5000")
        targets = [f"/sse/down{i % 2}" for i in range(18)] + ["/sse?topic=down0&topic=down1"] * 2
        streams = server.open_streams(targets)

        # A first event, read normally.
        expected = {"down0": [], "down1": []}
        for topic in expected:
            data = f"{topic} warm-up".encode()
            expected[topic].append(encode_event(server.publish(topic, data), data))
        pump(streams, lambda: all(len(s.events) >= (1 if "?" not in s.target else 2)
                                  for s in streams), 10, "the warm-up events")

        # Events in flight: 3 x 16 KiB per topic, published and acknowledged but unread.
        for i in range(3):
            for topic in expected:
                data = (f"{topic} {i} ".encode() + b"z" * 16384)
                expected[topic].append(encode_event(server.publish(topic, data), data))

        server.send_signal(signal.SIGTERM)
        pump(streams, lambda: all(s.eof for s in streams), EXIT_TIMEOUT,
             "every stream to reach EOF after SIGTERM")
        self.assertEqual(server.wait(EXIT_TIMEOUT), 0, "exit code after SIGTERM")

        for s in streams:
            self.assertEqual(s.parser.partial, b"", f"{s.target}: ended inside an event")
            self.assertDrainTail(s)
            got = [b.raw for b in s.events]
            if "?" in s.target:
                for topic in expected:
                    mine = [raw for raw in got if raw in expected[topic]]
                    self.assertEqual(mine, expected[topic], f"{s.target}: {topic}")
                self.assertEqual(len(got), 8, s.target)
            else:
                self.assertEqual(got, expected[s.target.rsplit("/", 1)[1]], s.target)

    def test_sigint_idle(self):
        server = self.start_server()
        self.assertEqual(server.request("GET", "/healthz").status, 200)
        server.send_signal(signal.SIGINT)
        self.assertEqual(server.wait(EXIT_TIMEOUT), 0, "exit code after SIGINT")

    def test_sigterm_with_idle_connections(self):
        server = self.start_server("--drain-ms", "1000")
        keep_alive = server.conn()
        self.assertEqual(keep_alive.request("GET", "/healthz").status, 200)
        partial = server.conn()
        partial.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # head never finished
        partial_body = server.conn()
        partial_body.send(b"POST /pub/x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab")
        (stream,) = server.open_streams(["/sse/idle"])
        server.send_signal(signal.SIGTERM)
        self.assertEqual(server.wait(EXIT_TIMEOUT), 0, "exit code after SIGTERM")
        pump([stream], lambda: stream.eof, 5, "the stream's EOF")
        self.assertEqual(stream.parser.partial, b"")
        self.assertDrainTail(stream)

    def test_bad_flags_exit_2(self):
        base = [ringcast_bin(), "--listen", f"{HOST}:0", "--shards", "2"]
        cases = [
            (["--bogus-flag"], "bogus-flag"),
            (["--bogus-flag", "1"], "bogus-flag"),
            (["--shards", "abc"], "shards"),
            (["--shards", "-1"], "shards"),  # (0 is not bad: the server may read it as "auto")
            (["--max-streams", "lots"], "max-streams"),
            (["--max-streams", "-1"], "max-streams"),
            (["--max-event-bytes", "x"], "max-event-bytes"),
            (["--history", "many"], "history"),
            (["--heartbeat-ms", "soon"], "heartbeat-ms"),
            (["--retry-ms", "-5"], "retry-ms"),
            (["--retry-jitter-ms", "1.5"], "retry-jitter-ms"),
            (["--drain-ms", ""], "drain-ms"),
            (["--listen", "127.0.0.1:99999"], "listen"),
            (["--listen", "nonsense"], "listen"),
            (["--heartbeat-ms"], "heartbeat-ms"),  # missing value
        ]
        for extra, flag in cases:
            with self.subTest(args=extra):
                try:
                    done = subprocess.run(base + extra, stdin=subprocess.DEVNULL,
                                          capture_output=True, timeout=10)
                except subprocess.TimeoutExpired as e:
                    self.fail(f"{extra}: still running after 10 s (stderr {e.stderr!r})")
                stderr = done.stderr.decode("utf-8", "replace")
                self.assertEqual(done.returncode, 2, f"{extra}: stderr {stderr!r}")
                self.assertIn(flag, stderr, f"{extra}: message does not name the flag")
                self.assertNotIn("event=listening", stderr)


if __name__ == "__main__":
    unittest.main()
