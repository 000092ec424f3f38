"""Hostile TLS 1.3 peers on real sockets (issue #15). python's ssl makes the handshake; the
test then seals its own records with the logged traffic secrets (tls_records.py), so it can
send what no TLS library sends on request: runs and floods of KeyUpdates.

Checks:
  * 32 KeyUpdates(update_requested) in a row are followed and answered (the stream keeps
    delivering, every server record opening under the keys its KeyUpdates announce);
    application data starts a new run; the 33rd in a row ends the connection with an
    unexpected_message alert and EOF;
  * a peer that floods KeyUpdates and never reads is cut off, with ringcast's record layer
    (the run bound) and with OpenSSL's (--tls-offload off: the cap on queued output), and the
    server stays healthy. Heartbeats are pushed out of the way so no stall timeout can be what
    ends the connection.
"""

import unittest

from ringcast_harness import RingcastTestCase, bounded
from test_tls import RETRY, get, metrics, publish
from tls_pki import Pki
from tls_records import ALERT, APPLICATION_DATA, HANDSHAKE, KEY_UPDATE, RawTls13, key_update

NO_HEARTBEAT = ["--heartbeat-ms", "600000", "--stall-timeout-ms", "600000"]
ALERT_UNEXPECTED_MESSAGE = bytes([2, 10])  # fatal, unexpected_message


def app_data(records) -> bytes:
    return b"".join(content for kind, content in records if kind == APPLICATION_DATA)


def key_updates(records) -> int:
    return sum(1 for kind, content in records
               if kind == HANDSHAKE and content[:1] == bytes([KEY_UPDATE]))


class TlsHostileTest(RingcastTestCase):

    def setUp(self):
        self.pki = Pki(self)
        self.ctx = self.pki.client_context()

    def healthy(self, server) -> None:
        self.assertTrue(server.running, "ringcast died")
        self.assertTrue(get(server.port, self.ctx, "/healthz").endswith(b"\r\n\r\nok\n"))

    def wait_failures(self, server, at_least: int) -> None:
        for _ in bounded(10, f"ringcast_tls_failures_total >= {at_least}", 1000):
            if metrics(server.port, self.ctx).sum("ringcast_tls_failures_total") >= at_least:
                return

    def test_keyupdate_run_is_bounded(self):
        server = self.start_server(*self.pki.flags(*RETRY, *NO_HEARTBEAT), shards=1)
        c = RawTls13(server.port, self.pki.client_context())
        self.addCleanup(c.close)
        c.sock.sendall(c.seal(APPLICATION_DATA, b"GET /sse/ku HTTP/1.1\r\nHost: t\r\n\r\n"))
        c.read_records(lambda recs, eof: b"retry: 2000\n\n" in app_data(recs))

        c.sock.sendall(b"".join(c.seal(HANDSHAKE, key_update(True)) for _ in range(32)))
        publish(server.port, self.ctx, "ku", "after 32")
        records = c.read_records(lambda recs, eof: b"data: after 32\n\n" in app_data(recs))
        # Answered (at least once before the event, at most once per request), and the event
        # opened under the keys those answers announced.
        self.assertTrue(1 <= key_updates(records) <= 32, records)

        # Application data (a stream discards it) starts a new run; the 33rd in it is refused.
        burst = c.seal(APPLICATION_DATA, b"\n")
        burst += b"".join(c.seal(HANDSHAKE, key_update(True)) for _ in range(33))
        c.sock.sendall(burst)
        records = c.read_records(lambda recs, eof: eof)
        self.assertEqual(records[-1], (ALERT, ALERT_UNEXPECTED_MESSAGE), records)
        self.assertLessEqual(key_updates(records), 33)
        self.wait_failures(server, 1)
        self.healthy(server)

    def test_keyupdate_flood_from_a_peer_that_never_reads_is_cut_off(self):
        for offload in ("on", "off"):
            with self.subTest(tls_offload=offload):
                self.flood_never_reading(offload)

    def flood_never_reading(self, offload: str):
        # Small socket buffers on both sides: the answers cannot all hide in the kernel.
        server = self.start_server(*self.pki.flags(*RETRY, *NO_HEARTBEAT, "--sndbuf", "8192",
                                                   "--tls-offload", offload), shards=1)
        c = RawTls13(server.port, self.pki.client_context(), rcvbuf=4096)
        self.addCleanup(c.close)
        c.sock.sendall(c.seal(APPLICATION_DATA, b"GET /sse/flood HTTP/1.1\r\nHost: t\r\n\r\n"))
        flood = b"".join(c.seal(HANDSHAKE, key_update(True)) for _ in range(6000))
        try:
            c.sock.sendall(flood)  # ~160 KB of requests, none of the answers read
        except (BrokenPipeError, ConnectionResetError):
            pass  # cut off before the flood was all sent
        # Still not reading: the server must give up on the connection by itself (the old one
        # answered every request, queueing the answers in memory, and kept it open).
        self.wait_failures(server, 1)
        # Now read: whatever got out, then the end of the connection (EOF or reset).
        for _ in bounded(20, f"the end of the flooding connection (offload {offload})", 100_000):
            try:
                if not c.sock.recv(65536):
                    break
            except ConnectionResetError:
                break
        self.healthy(server)
        server.stop()


if __name__ == "__main__":
    unittest.main()
