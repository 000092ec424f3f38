"""A TLS 1.3 client that can say what python's `ssl` cannot: python's `ssl` does the handshake
(over memory BIOs, on a real socket) and logs the traffic secrets (keylog_filename); from then
on this module seals and opens the application records itself (RFC 8446 §5.2, §7.1-7.3, with
the `cryptography` module's AEADs), so a test can send KeyUpdates and read the server's raw
records, its KeyUpdates and alerts included."""

import hashlib
import hmac
import os
import socket
import ssl
import struct
import tempfile

from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from ringcast_harness import HOST, bounded

APPLICATION_DATA, HANDSHAKE, ALERT = 23, 22, 21
KEY_UPDATE = 24

SUITES = {  # name -> (hash, key length, AEAD)
    "TLS_AES_128_GCM_SHA256": (hashlib.sha256, 16, AESGCM),
    "TLS_AES_256_GCM_SHA384": (hashlib.sha384, 32, AESGCM),
    "TLS_CHACHA20_POLY1305_SHA256": (hashlib.sha256, 32, ChaCha20Poly1305),
}


def expand_label(hash_fn, secret: bytes, label: str, length: int) -> bytes:
    """HKDF-Expand-Label with an empty context, for lengths up to one hash block."""
    full = b"tls13 " + label.encode()
    info = struct.pack(">HB", length, len(full)) + full + b"\x00"
    return hmac.new(secret, info + b"\x01", hash_fn).digest()[:length]


class Direction:
    """One direction's traffic keys, moved on by KeyUpdates."""

    def __init__(self, suite: str, secret: bytes):
        self.hash_fn, self.key_len, self.aead_cls = SUITES[suite]
        self.set(secret)

    def set(self, secret: bytes) -> None:
        self.secret = secret
        self.aead = self.aead_cls(expand_label(self.hash_fn, secret, "key", self.key_len))
        self.iv = expand_label(self.hash_fn, secret, "iv", 12)
        self.seq = 0

    def update(self) -> None:
        self.set(expand_label(self.hash_fn, self.secret, "traffic upd", len(self.secret)))

    def nonce(self) -> bytes:
        return bytes(a ^ b for a, b in zip(self.iv, self.seq.to_bytes(12, "big")))

    def seal(self, content_type: int, content: bytes) -> bytes:
        header = struct.pack(">BHH", APPLICATION_DATA, 0x0303, len(content) + 1 + 16)
        body = self.aead.encrypt(self.nonce(), content + bytes([content_type]), header)
        self.seq += 1
        return header + body

    def open(self, record: bytes) -> tuple[int, bytes]:
        inner = self.aead.decrypt(self.nonce(), record[5:], record[:5]).rstrip(b"\x00")
        self.seq += 1
        return inner[-1], inner[:-1]


def key_update(requested: bool) -> bytes:
    return bytes([KEY_UPDATE, 0, 0, 1, 1 if requested else 0])


class RawTls13:
    """A TLS 1.3 connection whose handshake python's ssl made and whose records are ours."""

    def __init__(self, port: int, ctx: ssl.SSLContext, rcvbuf: int | None = None):
        fd, self.keylog = tempfile.mkstemp(prefix="ringcast-keylog-")
        os.close(fd)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        ctx.keylog_filename = self.keylog
        self.sock = socket.socket()
        if rcvbuf is not None:  # before connect, so the window starts small
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(10)
        self.sock.connect((HOST, port))
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
        for _ in bounded(10, "the TLS 1.3 handshake", 1000):
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self.sock.sendall(outgoing.read())
                data = self.sock.recv(65536)
                if not data:
                    raise AssertionError("EOF during the handshake")
                incoming.write(data)
        self.sock.sendall(outgoing.read())  # the client's Finished
        self.pending = incoming.read()  # records past the handshake, if any arrived with it
        secrets = {}
        with open(self.keylog) as f:
            for line in f:  # "# comment" lines, then "<LABEL> <client random> <secret>"
                fields = line.split()
                if len(fields) == 3 and not line.startswith("#"):
                    secrets[fields[0]] = bytes.fromhex(fields[2])
        os.unlink(self.keylog)
        suite = tls.cipher()[0]
        self.tx = Direction(suite, secrets["CLIENT_TRAFFIC_SECRET_0"])
        self.rx = Direction(suite, secrets["SERVER_TRAFFIC_SECRET_0"])

    def seal(self, content_type: int, content: bytes) -> bytes:
        record = self.tx.seal(content_type, content)
        if content_type == HANDSHAKE and content[:1] == bytes([KEY_UPDATE]):
            self.tx.update()
        return record

    def read_records(self, until, timeout: float = 10.0) -> list[tuple[int, bytes]]:
        """Reads and opens the server's records (following its KeyUpdates) until `until(records,
        eof)` holds; EOF and a reset both count as the end."""
        records, eof = [], False
        for _ in bounded(timeout, "the server's records", 100_000):
            while len(self.pending) >= 5:
                length = 5 + struct.unpack(">H", self.pending[3:5])[0]
                if len(self.pending) < length:
                    break
                content_type, content = self.rx.open(self.pending[:length])
                self.pending = self.pending[length:]
                records.append((content_type, content))
                if content_type == HANDSHAKE and content[:1] == bytes([KEY_UPDATE]):
                    self.rx.update()
            if until(records, eof):
                return records
            if eof:
                raise AssertionError(f"EOF before the expected records; got {records!r}")
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                data = b""
            eof = not data
            self.pending += data
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.sock.close()
