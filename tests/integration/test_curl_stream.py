"""A real SSE client (curl -N) subscribes; events published with curl arrive byte-exact.

Checks:
  * the body curl prints is exactly `retry: N\\n\\n` followed by each event's wire bytes
    (id line, optional event line, one data line per body line with CR/LF/CRLF splitting,
    a trailing line break giving a final empty data line, an empty body giving one
    `data: \\n`, UTF-8 passed through untouched);
  * with `curl -i` the response head is exactly the contract's head;
  * publishing with curl gets 202 + application/json + {"topic","id"}; ids increase;
  * when the server shuts down, curl sees a clean end of a close-delimited body (exit 0).
"""

import json
import signal
import subprocess
import threading
import unittest

from ringcast_harness import (STREAM_HEAD, RingcastTestCase, assert_strictly_increasing,
                              bounded, encode_event, parse_id)

# (data, event type or None)
EVENTS = [
    (b"hello world", None),
    (b"line one\r\nline two\nline three\rline four", None),
    (b"typed event", "update"),
    (b"", None),
    ("héllo wörld ✓ 日本語 🎉".encode("utf-8"), None),
    (b"ends with a break\r\n", "note.v2"),
    (b"\n\n", None),
    (b"data: looks like a field\nid: 7", None),
]


class CurlProcess:
    """curl running in the background; its stdout is collected by a thread."""

    def __init__(self, args: list[str]):
        self.proc = subprocess.Popen(["curl", *args], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.out = bytearray()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for _ in range(1_000_000):
            chunk = self.proc.stdout.read1(65536)
            if not chunk:
                break
            with self._lock:
                self.out += chunk

    def output(self) -> bytes:
        with self._lock:
            return bytes(self.out)

    def wait_output(self, predicate, timeout: float, what: str) -> bytes:
        for remaining in bounded(timeout, what):
            out = self.output()
            if predicate(out):
                return out
            if self.proc.poll() is not None and not self._thread.is_alive():
                raise AssertionError(f"curl exited {self.proc.returncode} while waiting for "
                                     f"{what}; output {out!r}; stderr "
                                     f"{self.proc.stderr.read()!r}")
            self._thread.join(min(0.05, remaining))
        return b""  # unreachable

    def finish(self, timeout: float = 10.0) -> int:
        rc = self.proc.wait(timeout=timeout)
        self._thread.join(timeout=5)
        return rc

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._thread.join(timeout=5)
        self.proc.stdout.close()
        self.proc.stderr.close()


class CurlStreamTest(RingcastTestCase):

    def curl_stream(self, *args: str) -> CurlProcess:
        c = CurlProcess(list(args))
        self.addCleanup(c.stop)
        return c

    def curl_publish(self, port: int, topic: str, data: bytes, event: str | None) -> str:
        url = f"http://127.0.0.1:{port}/pub/{topic}" + (f"?event={event}" if event else "")
        done = subprocess.run(
            ["curl", "-sS", "-X", "POST", "--data-binary", "@-",
             "-H", "Content-Type: text/plain; charset=utf-8",
             "-w", "\n%{http_code} %{content_type}", url],
            input=data, capture_output=True, timeout=20)
        self.assertEqual(done.returncode, 0, f"curl POST failed: {done.stderr!r}")
        body, _, trailer = done.stdout.rpartition(b"\n")
        code, _, ctype = trailer.decode().partition(" ")
        self.assertEqual(code, "202", f"POST {url}: {done.stdout!r}")
        self.assertTrue(ctype.startswith("application/json"), ctype)
        ack = json.loads(body)
        self.assertEqual(set(ack), {"topic", "id"}, body)
        self.assertEqual(ack["topic"], topic)
        parse_id(ack["id"])
        return ack["id"]

    def test_body_bytes_exact(self):
        server = self.start_server("--retry-ms", "2000", "--retry-jitter-ms", "0")
        curl = self.curl_stream("-sN", f"http://127.0.0.1:{server.port}/sse/news")
        preamble = b"retry: 2000\n\n"
        curl.wait_output(lambda out: len(out) >= len(preamble), 10, "the retry line")
        self.assertEqual(curl.output(), preamble)

        expected = preamble
        ids = []
        for data, event in EVENTS:
            event_id = self.curl_publish(server.port, "news", data, event)
            ids.append(event_id)
            expected += encode_event(event_id, data, event)
        assert_strictly_increasing(self, ids, "ids on topic news")

        out = curl.wait_output(lambda out: len(out) >= len(expected) or
                               not expected.startswith(out), 15, "all events")
        self.assertEqual(out, expected)

        # Graceful shutdown ends the close-delimited body: curl exits 0. Besides the events
        # the server may send one last `retry:` (a reconnect hint) before the end.
        self.assertEqual(server.stop(signal.SIGTERM), 0, "server exit code")
        self.assertEqual(curl.finish(), 0, "curl should see a clean end of the stream")
        out = curl.output()
        self.assertTrue(out.startswith(expected), out)
        self.assertIn(out[len(expected):], (b"", b"retry: 2000\n\n"), "after the last event")

    def test_head_bytes_exact(self):
        server = self.start_server()  # default retry: 3000..4000
        curl = self.curl_stream("-sN", "-i", f"http://127.0.0.1:{server.port}/sse/news")
        out = curl.wait_output(lambda out: b"\n\n" in out[len(STREAM_HEAD):] or
                               not (out.startswith(STREAM_HEAD) or STREAM_HEAD.startswith(out)),
                               10, "the head and retry line")
        self.assertTrue(out.startswith(STREAM_HEAD), f"head was {out!r}")
        retry_block = out[len(STREAM_HEAD):]
        self.assertRegex(retry_block.decode(), r"^retry: \d+\n\n$")
        retry = int(retry_block[len(b"retry: "):-2])
        self.assertGreaterEqual(retry, 3000)
        self.assertLessEqual(retry, 4000)

        event_id = self.curl_publish(server.port, "news", b"one\ntwo", "greeting")
        expected = out + b"id: " + event_id.encode() + b"\nevent: greeting\ndata: one\ndata: two\n\n"
        got = curl.wait_output(lambda o: len(o) >= len(expected), 10, "the event")
        self.assertEqual(got, expected)

    def test_other_topic_not_delivered(self):
        server = self.start_server("--retry-ms", "1500", "--retry-jitter-ms", "0")
        curl = self.curl_stream("-sN", f"http://127.0.0.1:{server.port}/sse/news")
        curl.wait_output(lambda out: len(out) >= len(b"retry: 1500\n\n"), 10, "retry line")
        self.curl_publish(server.port, "sports", b"not for news", None)
        event_id = self.curl_publish(server.port, "news", b"for news", None)
        expected = b"retry: 1500\n\n" + encode_event(event_id, b"for news")
        out = curl.wait_output(lambda o: len(o) >= len(expected), 10, "the news event")
        self.assertEqual(out, expected)


if __name__ == "__main__":
    unittest.main()
