"""Resume and gaps with real clients: curl sends Last-Event-ID; raw sockets play slow readers.

Checks (see docs/PROTOCOL.md):
  * curl with `Last-Event-ID: <id>` gets exactly the retained events after that id, then live
    events, with nothing repeated or missing between replay and live;
  * `?lastEventId=` works for clients that cannot set headers;
  * an id older than the history gets `event: gap` (reason "expired", firstId = the first
    replayed event) and then the retained events; ids from an earlier run, malformed and
    unknown ids get their reasons;
  * a multi-topic stream resumes each topic after the resume id;
  * curl sees `: ping` heartbeats on an idle stream;
  * a reader that stops reading falls off the history: disconnected by default, or (with
    --slow-consumer skip) sent a gap event and moved to the newest event, staying open.
"""

import json
import socket
import subprocess
import threading
import time
import unittest

from ringcast_harness import (HOST, RingcastTestCase, SseStream, bounded, encode_event, pump)


def curl_stream(port: int, target: str, headers: list[str] = ()) -> subprocess.Popen:
    args = ["curl", "-sN", f"http://{HOST}:{port}{target}"]
    for h in headers:
        args += ["-H", h]
    return subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)


class Collector:
    """Reads a subprocess's stdout on a thread."""

    def __init__(self, proc: subprocess.Popen):
        self.proc = proc
        self.out = bytearray()
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for _ in range(1_000_000):
            chunk = self.proc.stdout.read1(65536)
            if not chunk:
                return
            with self.lock:
                self.out += chunk

    def wait_for(self, needle: bytes, timeout: float) -> bytes:
        for _ in bounded(timeout, f"curl output containing {needle!r}", 100_000):
            with self.lock:
                if needle in self.out:
                    return bytes(self.out)
            time.sleep(0.02)
        return b""  # unreachable: bounded() raises

    def stop(self) -> bytes:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        with self.lock:
            return bytes(self.out)


def strip_retry(out: bytes) -> bytes:
    assert out.startswith(b"retry: "), out[:80]
    return out[out.index(b"\n\n") + 2:]


def gap_json(out: bytes) -> dict:
    start = out.index(b"event: gap\ndata: ") + len(b"event: gap\ndata: ")
    return json.loads(out[start:out.index(b"\n", start)])


class ResumeCurlTest(RingcastTestCase):

    def publish_many(self, server, topic: str, n: int, start: int = 0) -> list[tuple[str, bytes]]:
        out = []
        for i in range(start, start + n):
            data = f"{topic} event {i}".encode()
            out.append((server.publish(topic, data), data))
        return out

    def test_replay_then_live(self):
        server = self.start_server()
        events = self.publish_many(server, "replay", 6)
        for how in ("header", "query"):
            with self.subTest(how=how):
                if how == "header":
                    proc = curl_stream(server.port, "/sse/replay", [f"Last-Event-ID: {events[2][0]}"])
                else:
                    proc = curl_stream(server.port, f"/sse/replay?lastEventId={events[2][0]}")
                c = Collector(proc)
                c.wait_for(events[5][1], 10)
                live_id = server.publish("replay", f"live {how}".encode())
                out = strip_retry(c.wait_for(f"live {how}".encode(), 10))
                c.stop()
                expected = b"".join(encode_event(i, d) for i, d in events[3:])
                expected += encode_event(live_id, f"live {how}".encode())
                self.assertEqual(out, expected)
                events.append((live_id, f"live {how}".encode()))

    def test_gap_events(self):
        server = self.start_server("--history", "3")
        events = self.publish_many(server, "gappy", 7)  # retained: events[4..6]
        cases = [(events[0][0], "expired"), ("1-0", "earlier_run"), ("bogus", "malformed"),
                 ("99999999999999-0", "unknown")]
        for last_id, reason in cases:
            with self.subTest(reason=reason):
                c = Collector(curl_stream(server.port, "/sse/gappy", [f"Last-Event-ID: {last_id}"]))
                out = strip_retry(c.wait_for(events[6][1], 10))
                c.stop()
                self.assertEqual(gap_json(out), {"topic": "gappy", "lastEventId": last_id,
                                                 "firstId": events[4][0], "reason": reason})
                after_gap = out[out.index(b"\n\n") + 2:]
                self.assertEqual(after_gap, b"".join(encode_event(i, d) for i, d in events[4:]))

    def test_multi_topic_resume(self):
        server = self.start_server()
        a, b = [], []
        for i in range(4):
            a += self.publish_many(server, "ma", 1, i)
            b += self.publish_many(server, "mb", 1, i)
        # The client's last event was a[1]; b[1] came after it, so b resumes at b[1].
        c = Collector(curl_stream(server.port, "/sse?topic=ma&topic=mb",
                                  [f"Last-Event-ID: {a[1][0]}"]))
        out = c.wait_for(a[3][1], 10)
        out = c.wait_for(b[3][1], 10)
        c.stop()
        body = strip_retry(out)
        self.assertNotIn(b"event: gap", body)
        for i, d in a[2:] + b[1:]:
            self.assertIn(encode_event(i, d), body)
        for i, d in a[:2] + b[:1]:
            self.assertNotIn(d + b"\n", body)

    def test_curl_sees_heartbeats(self):
        server = self.start_server("--heartbeat-ms", "300")
        c = Collector(curl_stream(server.port, "/sse/quiet"))
        out = c.wait_for(b": ping\n\n: ping\n\n", 10)
        c.stop()
        self.assertEqual(strip_retry(out)[:16], b": ping\n\n: ping\n\n")

    def stalled_reader(self, port: int, topic: str) -> socket.socket:
        """A subscriber with a tiny receive buffer that stops reading after the head."""
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect((HOST, port))
        s.sendall(f"GET /sse/{topic} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        return s

    def flood(self, server, topic: str, n: int, size: int) -> list[str]:
        conn = server.conn()
        return [server.publish(topic, (f"{i:06d}" + "x" * size).encode(), conn=conn)
                for i in range(n)]

    def test_slow_consumer_disconnected(self):
        server = self.start_server("--history", "4", shards=1)
        slow = self.stalled_reader(server.port, "slow")
        server.wait_metric("ringcast_streams", lambda v: v == 1, 10, "the slow stream")
        self.flood(server, "slow", 200, 32 * 1024)
        server.wait_metric("ringcast_drops_total", lambda v: v >= 1, 10, "the slow consumer drop",
                           reason="slow_consumer")
        server.wait_metric("ringcast_streams", lambda v: v == 0, 10, "the stream to be freed")
        slow.close()

    def test_slow_consumer_skipped(self):
        server = self.start_server("--history", "4", "--slow-consumer", "skip", shards=1)
        slow = self.stalled_reader(server.port, "skip")
        server.wait_metric("ringcast_streams", lambda v: v == 1, 10, "the slow stream")
        ids = self.flood(server, "skip", 200, 32 * 1024)
        # Now read everything: the stream is still open, has a gap event, and ends with the newest.
        slow.setblocking(False)
        got = bytearray()
        for _ in bounded(20, "the newest event after the skip", 100_000):
            try:
                chunk = slow.recv(1 << 20)
                if not chunk:
                    break
                got += chunk
            except BlockingIOError:
                time.sleep(0.01)
            if f"id: {ids[-1]}\n".encode() in got:
                break
        slow.close()
        self.assertIn(b"event: gap\n", got)
        gap = gap_json(bytes(got))
        self.assertEqual(gap["reason"], "slow_consumer")
        self.assertIn(f"id: {ids[-1]}\n".encode(), got)
        # Every event that did arrive is whole and in order.
        seen = [line[4:].decode() for line in bytes(got).split(b"\n") if line.startswith(b"id: ")]
        self.assertEqual(seen, sorted(seen, key=lambda x: tuple(map(int, x.split("-")))))
        self.assertEqual(server.metrics().sum("ringcast_slow_consumer_skips_total") >= 1, True)


if __name__ == "__main__":
    unittest.main()
