"""Hostile HTTP/2 peers, frames written by hand: each attack ends with the exact close the
server owes it (GOAWAY with its error code, then the close; or 431 on one stream), and after
every one a fresh HTTP/1.1 client and a fresh HTTP/2 client still get /healthz.

  * a preface that starts right and goes wrong; a first frame that is not SETTINGS;
  * Rapid Reset (CVE-2023-44487): 150 streams opened and reset at once -> GOAWAY
    ENHANCE_YOUR_CALM; 40 resets (a page closing EventSources) are fine;
  * CONTINUATION floods (CVE-2024-27316): a header block larger than --max-header-bytes in
    CONTINUATION frames, and thousands of empty CONTINUATION frames -> GOAWAY, close; a block
    within the bound split over CONTINUATION frames is served;
  * an HPACK bomb (one 4 KB field referenced 200 times from the dynamic table) and a Huffman
    coded field that decodes past the bound -> 431 on that stream (the connection goes on) or
    GOAWAY;
  * SETTINGS and PING floods from a peer that never reads the ACKs -> closed; the server's
    memory stays bounded;
  * stream id misuse (even, zero, decreasing) -> GOAWAY PROTOCOL_ERROR; a window overflow ->
    FLOW_CONTROL_ERROR; an oversized frame -> FRAME_SIZE_ERROR; a PUSH_PROMISE from the client
    or invalid SETTINGS values -> GOAWAY;
  * malformed requests (no :path, upper-case or connection-specific fields, misplaced or
    unknown pseudo-headers) -> RST_STREAM PROTOCOL_ERROR on that stream only.
"""

import socket
import struct
import time
import unittest

from h2_client import (CANCEL, CONTINUATION, DATA, END_HEADERS, END_STREAM, ENHANCE_YOUR_CALM,
                       FLOW_CONTROL_ERROR, FRAME_SIZE_ERROR, HEADERS, NO_ERROR, PREFACE,
                       PROTOCOL_ERROR, PUSH_PROMISE, SETTINGS_ENABLE_PUSH,
                       SETTINGS_INITIAL_WINDOW_SIZE, RawH2, assert_healthy, error_name, frame, ping_frame,
                       rst_frame, settings_frame, window_update_frame)
from ringcast_harness import RingcastTestCase


def vm_rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


class H2HostileTest(RingcastTestCase):

    def raw(self, server, **kw) -> RawH2:
        r = RawH2(server.port, **kw)
        self.addCleanup(r.close)
        return r

    def assertGoawayClose(self, r: RawH2, code: int, what: str, timeout: float = 10) -> None:
        """The server sends GOAWAY with `code` and closes the connection."""
        r.wait_closed(timeout, f"the close after {what}")
        self.assertTrue(r.goaways, f"{what}: closed without GOAWAY; {r.summary()}")
        self.assertEqual(error_name(r.goaway[1]), error_name(code), f"{what}: {r.summary()}")

    def assertGoawayErrorClose(self, r: RawH2, what: str, timeout: float = 10) -> None:
        """GOAWAY with some error code (not NO_ERROR), then the close."""
        r.wait_closed(timeout, f"the close after {what}")
        self.assertTrue(r.goaways, f"{what}: closed without GOAWAY; {r.summary()}")
        self.assertNotEqual(r.goaway[1], NO_ERROR, f"{what}: {r.summary()}")

    # ---------------------------------------------------------------- preface

    def test_bad_preface_after_a_partial_match(self):
        server = self.start_server()
        good = PREFACE[:18]  # "PRI * HTTP/2.0\r\n\r\n": could still become the preface
        self.assertTrue(PREFACE.startswith(good))
        r = self.raw(server, preface=False)
        r.send(good)
        time.sleep(0.3)  # the server has seen the matching part on its own (no assertion)
        r.send(b"XX\r\n\r\n" + settings_frame())
        self.assertGoawayClose(r, PROTOCOL_ERROR, "a preface going wrong after 18 bytes")
        assert_healthy(self, server, what="after the bad preface")

        # The same 24 bytes in one write.
        r = self.raw(server, preface=False)
        r.send(b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n" + settings_frame())
        self.assertGoawayClose(r, PROTOCOL_ERROR, "a wrong preface in one write")
        assert_healthy(self, server, what="after the wrong preface")

    def test_first_frame_not_settings(self):
        server = self.start_server()
        r = self.raw(server, preface=False)
        r.send(PREFACE + ping_frame())
        self.assertGoawayClose(r, PROTOCOL_ERROR, "a PING instead of SETTINGS")
        assert_healthy(self, server)

    # ---------------------------------------------------------------- Rapid Reset

    def test_rapid_reset_gets_enhance_your_calm(self):
        server = self.start_server()
        # A page closing 40 EventSources: fine, the connection keeps serving.
        calm = self.raw(server)
        calm.send(b"".join(calm.request_frames(2 * i + 1, "GET", f"/sse/rr{i % 3}")
                           + rst_frame(2 * i + 1, CANCEL) for i in range(40)))
        calm.request(81, "GET", "/healthz")
        calm.pump(lambda: calm.stream(81).ended, 10, "/healthz after 40 resets")
        self.assertEqual((calm.stream(81).status, bytes(calm.stream(81).data)), (200, b"ok\n"))
        self.assertEqual(calm.goaways, [], calm.summary())

        # 150 streams opened and reset at once.
        r = self.raw(server)
        sent = 0
        for batch in range(15):
            data = b"".join(r.request_frames(2 * i + 1, "GET", "/sse/rr")
                            + rst_frame(2 * i + 1, CANCEL)
                            for i in range(batch * 10, batch * 10 + 10))
            if not r.send(data):
                break
            sent += 10
        self.assertGreater(sent, 100, r.summary())
        self.assertGoawayClose(r, ENHANCE_YOUR_CALM, "150 rapid resets")
        assert_healthy(self, server, what="after the rapid reset")
        # The calm connection was not touched by the other's fate.
        calm.request(83, "GET", "/healthz")
        calm.pump(lambda: calm.stream(83).ended, 10, "/healthz on the calm connection")
        self.assertEqual(calm.stream(83).status, 200)

    # ---------------------------------------------------------------- CONTINUATION

    def test_continuation_within_the_bound_is_served(self):
        server = self.start_server("--max-header-bytes", "4096")
        r = self.raw(server)
        block = r.encoder.encode([(":method", "GET"), (":scheme", "http"),
                                  (":authority", "127.0.0.1"), (":path", "/healthz"),
                                  ("x-pad", "p" * 3000)], huffman=False)
        self.assertGreater(len(block), 3000)
        parts = [block[i:i + 1000] for i in range(0, len(block), 1000)]
        data = frame(HEADERS, END_STREAM, 1, parts[0])
        for i, part in enumerate(parts[1:], 1):
            data += frame(CONTINUATION, END_HEADERS if i == len(parts) - 1 else 0, 1, part)
        r.send(data)
        r.pump(lambda: r.stream(1).ended or r.eof, 10, "the answer")
        self.assertEqual((r.stream(1).status, bytes(r.stream(1).data)), (200, b"ok\n"),
                         r.summary())
        self.assertEqual(r.goaways, [])

    def test_header_block_over_the_bound_in_continuations(self):
        server = self.start_server("--max-header-bytes", "4096")
        r = self.raw(server)
        headers = [(":method", "GET"), (":scheme", "http"), (":authority", "127.0.0.1"),
                   (":path", "/healthz")] + [(f"x-pad-{i}", "p" * 900) for i in range(40)]
        block = r.encoder.encode(headers, huffman=False)  # ~37 KB, nine times the bound
        parts = [block[i:i + 1000] for i in range(0, len(block), 1000)]
        data = [frame(HEADERS, END_STREAM, 1, parts[0])]
        data += [frame(CONTINUATION, END_HEADERS if i == len(parts) - 1 else 0, 1, p)
                 for i, p in enumerate(parts[1:], 1)]
        for i in range(0, len(data), 4):
            if not r.send(b"".join(data[i:i + 4])):
                break
        self.assertGoawayErrorClose(r, "a 37 KB header block")
        self.assertIsNone(r.stream(1).status, "the oversized request must not be answered")
        assert_healthy(self, server, what="after the oversized header block")

    def test_flood_of_empty_continuation_frames(self):
        server = self.start_server()
        r = self.raw(server)
        first = r.header_block("GET", "/healthz")
        r.send(frame(HEADERS, END_STREAM, 1, first))  # no END_HEADERS: a block is open
        empty = frame(CONTINUATION, 0, 1) * 1000
        batches = 0
        for _ in range(30):  # up to 30,000 empty frames
            if not r.send(empty):
                break
            batches += 1
        self.assertGoawayErrorClose(r, f"{batches * 1000} empty CONTINUATION frames")
        assert_healthy(self, server, what="after the CONTINUATION flood")

    # ---------------------------------------------------------------- HPACK

    def assert431OrGoaway(self, r: RawH2, sid: int, what: str) -> None:
        r.pump(lambda: r.stream(sid).status is not None or r.stream(sid).reset_code is not None
               or r.eof or r.goaways, 10, what)
        if r.goaways:
            self.assertNotEqual(r.goaway[1], NO_ERROR, f"{what}: {r.summary()}")
            r.wait_closed(10, f"the close after {what}")
            return
        self.assertEqual(r.stream(sid).status, 431, f"{what}: {r.summary()}")
        # Only that stream: the connection (and its HPACK state) goes on.
        r.request(sid + 2, "GET", "/healthz")
        r.pump(lambda: r.stream(sid + 2).ended, 10, f"/healthz after {what}")
        self.assertEqual((r.stream(sid + 2).status, bytes(r.stream(sid + 2).data)),
                         (200, b"ok\n"), r.summary())

    def test_hpack_bomb(self):
        server = self.start_server()
        r = self.raw(server)
        bomb = ("x-bomb", "b" * 4000)
        # One literal added to the dynamic table, then 199 one-byte references to it:
        # ~4.2 KB on the wire, 800 KB of header list.
        block = r.encoder.encode([(":method", "GET"), (":scheme", "http"),
                                  (":authority", "127.0.0.1"), (":path", "/sse/bomb"),
                                  *([bomb] * 200)], huffman=False)
        self.assertLess(len(block), 8192)
        r.send(frame(HEADERS, END_HEADERS | END_STREAM, 1, block))
        self.assert431OrGoaway(r, 1, "an HPACK bomb")
        assert_healthy(self, server, what="after the HPACK bomb")

    def test_huffman_field_decoding_past_the_bound(self):
        server = self.start_server()
        r = self.raw(server)
        block = r.encoder.encode([(":method", "GET"), (":scheme", "http"),
                                  (":authority", "127.0.0.1"), (":path", "/healthz"),
                                  ("x-big", "a" * 12000)], huffman=True)
        self.assertLess(len(block), 8192)  # 5 bits per 'a'
        r.send(frame(HEADERS, END_HEADERS | END_STREAM, 1, block))
        self.assert431OrGoaway(r, 1, "a 12,000-byte field in 7.5 KB of Huffman code")
        assert_healthy(self, server, what="after the oversized header list")

    # ---------------------------------------------------------------- floods

    def flood_without_reading(self, what: str, unit: bytes) -> None:
        server = self.start_server("--sndbuf", "8192", shards=1)
        assert_healthy(self, server)
        rss_before = vm_rss_kib(server.proc.pid)
        r = self.raw(server, rcvbuf=4096, ack_settings=False, answer_pings=False)
        batch = unit * 2000
        sent = 0
        stopped = "send failed"
        r.sock.settimeout(5)
        for _ in range(300):  # at most 600,000 frames
            try:
                r.sock.sendall(batch)
            except (BrokenPipeError, ConnectionResetError):
                break
            except socket.timeout:
                stopped = "the server stopped reading"
                break
            sent += 2000
        else:
            stopped = "all sent"
        # Closed: reading what is left reaches EOF (or a reset) soon. A server that only
        # stopped reading would start again as we read, and never close.
        r.wait_closed(10, f"the close after {what} ({sent} frames sent, {stopped})")
        self.assertTrue(r.goaways == [] or r.goaway[1] != NO_ERROR, r.summary())
        grown = vm_rss_kib(server.proc.pid) - rss_before
        self.assertLess(grown, 64 * 1024, f"{what}: the server's RSS grew by {grown} KiB")
        assert_healthy(self, server, what=f"after {what}")

    def test_settings_flood_without_reading_acks(self):
        self.flood_without_reading("a SETTINGS flood", settings_frame())

    def test_ping_flood_without_reading_acks(self):
        self.flood_without_reading("a PING flood", ping_frame())

    # ---------------------------------------------------------------- ids, windows, sizes

    def test_stream_id_misuse(self):
        server = self.start_server()
        cases = [
            ("an even stream id", [(2, "/healthz")]),
            ("a decreasing stream id", [(5, "/sse/ids"), (3, "/sse/ids")]),
        ]
        for what, requests in cases:
            with self.subTest(what):
                r = self.raw(server)
                r.send(b"".join(r.request_frames(sid, "GET", path) for sid, path in requests))
                self.assertGoawayClose(r, PROTOCOL_ERROR, what)
                assert_healthy(self, server, what=f"after {what}")
        with self.subTest("HEADERS on stream 0"):
            r = self.raw(server)
            r.send(frame(HEADERS, END_HEADERS | END_STREAM, 0, r.header_block("GET", "/healthz")))
            self.assertGoawayClose(r, PROTOCOL_ERROR, "HEADERS on stream 0")
            assert_healthy(self, server)

    def test_malformed_requests_are_stream_errors(self):
        # RFC 9113 §8.1.1: a malformed request is a stream error (PROTOCOL_ERROR); the
        # connection and its other streams go on.
        server = self.start_server()
        r = self.raw(server)
        base = [(":method", "GET"), (":scheme", "http"), (":authority", "127.0.0.1")]
        cases = [
            ("no :path", base),
            ("an upper-case field name", base + [(":path", "/healthz"), ("X-Upper", "1")]),
            ("a connection-specific field", base + [(":path", "/healthz"),
                                                   ("connection", "keep-alive")]),
            ("a pseudo-header after a regular field", base[:2] + [("x-a", "1"),
                                                                ("authority", "h"),
                                                                (":path", "/healthz")]),
            ("an unknown pseudo-header", base + [(":path", "/healthz"), (":bogus", "1")]),
        ]
        sid = 1
        for what, headers in cases:
            with self.subTest(what):
                r.send(frame(HEADERS, END_HEADERS | END_STREAM, sid,
                             r.encoder.encode(headers, huffman=False)))
                r.pump(lambda: r.stream(sid).reset_code is not None or r.eof or r.goaways
                       or r.stream(sid).status is not None, 10, what)
                self.assertEqual(r.goaways, [], f"{what}: {r.summary()}")
                self.assertIsNone(r.stream(sid).status, f"{what}: answered; {r.summary()}")
                self.assertEqual(error_name(r.stream(sid).reset_code), error_name(PROTOCOL_ERROR),
                                 f"{what}: {r.summary()}")
            sid += 2
        r.request(sid, "GET", "/healthz")
        r.pump(lambda: r.stream(sid).ended, 10, "/healthz after the malformed requests")
        self.assertEqual((r.stream(sid).status, bytes(r.stream(sid).data)), (200, b"ok\n"))
        assert_healthy(self, server)

    def test_push_promise_and_bad_settings_from_the_client(self):
        server = self.start_server()
        r = self.raw(server)
        r.request(1, "GET", "/sse/pp")
        r.pump(lambda: r.stream(1).status is not None, 10, "a stream")
        r.send(frame(PUSH_PROMISE, END_HEADERS, 1,
                     struct.pack(">I", 2) + r.header_block("GET", "/healthz")))
        self.assertGoawayClose(r, PROTOCOL_ERROR, "a PUSH_PROMISE from the client")
        assert_healthy(self, server)
        r = self.raw(server, settings=[(SETTINGS_ENABLE_PUSH, 2)])
        self.assertGoawayClose(r, PROTOCOL_ERROR, "SETTINGS_ENABLE_PUSH=2")
        r = self.raw(server, settings=[(SETTINGS_INITIAL_WINDOW_SIZE, 2**31)])
        self.assertGoawayClose(r, FLOW_CONTROL_ERROR, "SETTINGS_INITIAL_WINDOW_SIZE=2^31")
        assert_healthy(self, server)

    def test_window_overflow_and_oversized_frame(self):
        server = self.start_server()
        # RawH2 opened the connection window to 2^31-1 already: one more byte overflows the
        # server's send window.
        r = self.raw(server)
        r.pump(lambda: r.server_settings_frames >= 1, 10, "the server's SETTINGS")
        r.send(window_update_frame(0, 1))
        self.assertGoawayClose(r, FLOW_CONTROL_ERROR, "a connection window over 2^31-1")
        assert_healthy(self, server)

        # A DATA frame bigger than SETTINGS_MAX_FRAME_SIZE (16,384 by default).
        r = self.raw(server)
        r.send(frame(HEADERS, END_HEADERS, 1, r.header_block("POST", "/pub/big",
                                                              [("content-length", "20000")]))
               + frame(DATA, END_STREAM, 1, b"x" * 20000))
        self.assertGoawayClose(r, FRAME_SIZE_ERROR, "a 20,000-byte DATA frame")
        assert_healthy(self, server)


if __name__ == "__main__":
    unittest.main()
