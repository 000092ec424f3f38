"""HTTP/2 clients for the integration tests, over 127.0.0.1 only.

  H2Client       a well-behaved client on the `h2` package (Debian's python3-h2, an
                 implementation no one here wrote; it validates every frame and header the
                 server sends): many requests and SSE streams on one connection, flow control
                 done right except for streams the test holds shut
  RawH2          frames written by hand (struct) and read back without a state machine: for
                 hostile peers, GOAWAY/RST_STREAM codes, SETTINGS and what arrives after a GOAWAY
  frame()        the 9-byte frame header + payload
  sse_parser()   a harness SseParser for an HTTP/2 response body (no HTTP/1.1 head)
  h2_get()       one request on a fresh H2Client
  assert_healthy() a fresh HTTP/1.1 and a fresh HTTP/2 client both get /healthz

The `h2` package is imported only under Debian's /usr/bin/python3: the python3 that runs the
tests (ctest's, or the first on PATH) may be another interpreter without Debian's modules, so
importing this module under any other interpreter re-executes the same command line under
/usr/bin/python3 (once; RINGCAST_H2_REEXEC guards the loop). tools/setup-clients.sh installs
python3-h2 and nghttp2-client; if they are missing the tests fail rather than skip.

Every wait is bounded by a deadline and an iteration count; nothing asserts on speed.
"""

from __future__ import annotations

import os
import sys

H2_PYTHON = "/usr/bin/python3"
SETUP_HINT = "tools/setup-clients.sh installs python3-h2 and nghttp2-client from Debian"


def _run_under_debian_python() -> None:
    if os.path.realpath(sys.executable) == os.path.realpath(H2_PYTHON):
        return
    if os.environ.get("RINGCAST_H2_REEXEC"):
        raise RuntimeError(f"re-executed under {H2_PYTHON} but still running {sys.executable}")
    if not os.access(H2_PYTHON, os.X_OK):
        raise RuntimeError(f"{H2_PYTHON} is missing; the HTTP/2 tests need Debian's python3 "
                           f"with python3-h2 ({SETUP_HINT})")
    os.environ["RINGCAST_H2_REEXEC"] = "1"
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(H2_PYTHON, [H2_PYTHON, *sys.orig_argv[1:]])


_run_under_debian_python()

import socket  # noqa: E402
import ssl  # noqa: E402
import struct  # noqa: E402
import subprocess  # noqa: E402
import threading  # noqa: E402
import unittest  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Callable, Iterable  # noqa: E402

try:
    import h2.config  # noqa: E402
    import h2.connection  # noqa: E402
    import h2.events  # noqa: E402
    import h2.exceptions  # noqa: E402
    import h2.settings  # noqa: E402
    import hpack  # noqa: E402
except ImportError as e:  # pragma: no cover - a broken setup
    raise RuntimeError(f"{H2_PYTHON} cannot import the h2 package ({e}); {SETUP_HINT}") from e

from ringcast_harness import (HOST, HttpConn, Response, SseParser, bounded,  # noqa: E402
                              check_publish_response)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# Frame types (RFC 9113 §6)
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, \
    CONTINUATION = range(10)
FRAME_NAMES = ["DATA", "HEADERS", "PRIORITY", "RST_STREAM", "SETTINGS", "PUSH_PROMISE", "PING",
               "GOAWAY", "WINDOW_UPDATE", "CONTINUATION"]
# Flags
END_STREAM = 0x1
ACK = 0x1
END_HEADERS = 0x4
PADDED = 0x8
PRIORITY_FLAG = 0x20
# Settings
SETTINGS_HEADER_TABLE_SIZE = 0x1
SETTINGS_ENABLE_PUSH = 0x2
SETTINGS_MAX_CONCURRENT_STREAMS = 0x3
SETTINGS_INITIAL_WINDOW_SIZE = 0x4
SETTINGS_MAX_FRAME_SIZE = 0x5
SETTINGS_MAX_HEADER_LIST_SIZE = 0x6
# Error codes (RFC 9113 §7)
NO_ERROR = 0x0
PROTOCOL_ERROR = 0x1
INTERNAL_ERROR = 0x2
FLOW_CONTROL_ERROR = 0x3
STREAM_CLOSED = 0x5
FRAME_SIZE_ERROR = 0x6
REFUSED_STREAM = 0x7
CANCEL = 0x8
COMPRESSION_ERROR = 0x9
ENHANCE_YOUR_CALM = 0xB
ERROR_NAMES = {0: "NO_ERROR", 1: "PROTOCOL_ERROR", 2: "INTERNAL_ERROR", 3: "FLOW_CONTROL_ERROR",
               4: "SETTINGS_TIMEOUT", 5: "STREAM_CLOSED", 6: "FRAME_SIZE_ERROR",
               7: "REFUSED_STREAM", 8: "CANCEL", 9: "COMPRESSION_ERROR", 10: "CONNECT_ERROR",
               11: "ENHANCE_YOUR_CALM", 12: "INADEQUATE_SECURITY", 13: "HTTP_1_1_REQUIRED"}

MAX_WINDOW = 2**31 - 1


def error_name(code: int | None) -> str:
    return "None" if code is None else ERROR_NAMES.get(code, f"0x{code:x}")


def frame(ftype: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:
    """One frame: 24-bit length, type, flags, 31-bit stream id, payload."""
    n = len(payload)
    return struct.pack(">BHBBI", n >> 16, n & 0xFFFF, ftype, flags, stream_id & 0x7FFFFFFF) + payload


def settings_frame(pairs: Iterable[tuple[int, int]] = (), ack: bool = False) -> bytes:
    return frame(SETTINGS, ACK if ack else 0, 0, b"".join(struct.pack(">HI", k, v) for k, v in pairs))


def rst_frame(stream_id: int, code: int) -> bytes:
    return frame(RST_STREAM, 0, stream_id, struct.pack(">I", code))


def window_update_frame(stream_id: int, increment: int) -> bytes:
    return frame(WINDOW_UPDATE, 0, stream_id, struct.pack(">I", increment))


def ping_frame(opaque: bytes = b"12345678", ack: bool = False) -> bytes:
    return frame(PING, ACK if ack else 0, 0, opaque)


def sse_parser() -> SseParser:
    """An SseParser for an HTTP/2 body: there is no HTTP/1.1 head to wait for."""
    p = SseParser()
    p.head = b""
    return p


# --------------------------------------------------------------------------------------
# Sockets
# --------------------------------------------------------------------------------------

def h2_tls_context(ca: str, alpn: Iterable[str] = ("h2", "http/1.1")) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=ca)
    ctx.set_alpn_protocols(list(alpn))
    return ctx


def connect(port: int, tls: ssl.SSLContext | None = None, timeout: float = 10.0,
            rcvbuf: int | None = None) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:  # before connect, so the window scale stays small
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(timeout)
    sock.connect((HOST, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if tls is not None:
        sock = tls.wrap_socket(sock, server_hostname="localhost")
    return sock


# --------------------------------------------------------------------------------------
# A well-behaved client on the h2 package
# --------------------------------------------------------------------------------------

@dataclass
class H2Stream:
    id: int
    method: str
    path: str
    headers: list[tuple[str, str]] | None = None  # the final response head
    informational: list[list[tuple[str, str]]] = field(default_factory=list)
    data: bytearray = field(default_factory=bytearray)
    trailers: list[tuple[str, str]] | None = None
    ended: bool = False            # END_STREAM received
    reset_code: int | None = None  # RST_STREAM received (or sent by us: reset_by_us)
    reset_by_us: bool = False
    sse: SseParser = field(default_factory=sse_parser)
    pending_body: bytes = b""      # request body not yet sent (flow control)
    pending_end: bool = True

    @property
    def status(self) -> int | None:
        v = self.header(":status")
        return int(v) if v is not None else None

    def header(self, name: str) -> str | None:
        for k, v in self.headers or []:
            if k == name:
                return v
        return None

    def header_names(self) -> list[str]:
        return [k for k, _ in self.headers or []]

    @property
    def done(self) -> bool:
        return self.ended or self.reset_code is not None

    @property
    def events(self):
        return self.sse.events

    def describe(self) -> str:
        data = bytes(self.data)
        if len(data) > 300:
            data = data[:150] + b"..." + data[-150:]
        path = self.path if len(self.path) <= 80 else self.path[:60] + f"...({len(self.path)} bytes)"
        return (f"stream {self.id} {self.method} {path}: status={self.status} "
                f"ended={self.ended} reset={error_name(self.reset_code)}"
                f"{' (by us)' if self.reset_by_us else ''} events={len(self.events)} "
                f"data={data!r}")


class H2Client:
    """One HTTP/2 connection driven by the h2 package, cleartext (prior knowledge) or TLS
    (ALPN must pick h2). Data is acknowledged (WINDOW_UPDATE) as it arrives, except on the
    streams in `hold`, whose windows stay shut."""

    def __init__(self, port: int, tls: ssl.SSLContext | None = None, timeout: float = 10.0,
                 initial_window: int | None = None, connection_window: int = MAX_WINDOW):
        self.port = port
        self.scheme = "https" if tls is not None else "http"
        self.sock = connect(port, tls, timeout)
        if tls is not None:
            alpn = self.sock.selected_alpn_protocol()
            if alpn != "h2":
                self.sock.close()
                raise AssertionError(f"ALPN chose {alpn!r}, not h2")
        config = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        self.conn = h2.connection.H2Connection(config=config)
        if initial_window is not None:
            self.conn.local_settings = h2.settings.Settings(
                client=True, initial_values={SETTINGS_INITIAL_WINDOW_SIZE: initial_window})
        self.conn.initiate_connection()
        if connection_window > 65535:
            self.conn.increment_flow_control_window(connection_window - 65535)
        self.streams: dict[int, H2Stream] = {}
        self.hold: set[int] = set()
        self.goaway: h2.events.ConnectionTerminated | None = None
        self.remote_settings: dict[int, int] = {}
        self.settings_acked = False
        self.closed = False  # the server closed the TCP connection (FIN or RST)
        self.events_seen: list = []
        self.flush()

    # ---- sending ----
    def flush(self) -> None:
        data = self.conn.data_to_send()
        if data and not self.closed:
            try:
                self.sock.sendall(data)
            except (BrokenPipeError, ConnectionResetError, ssl.SSLEOFError):
                self.closed = True

    def open(self, method: str, path: str, headers: Iterable[tuple[str, str]] = (),
             body: bytes | None = None, end_stream: bool = True) -> H2Stream:
        """Sends a request; the body goes out as flow control allows (pump sends the rest)."""
        sid = self.conn.get_next_available_stream_id()
        head = [(":method", method), (":scheme", self.scheme),
                (":authority", f"{HOST}:{self.port}"), (":path", path), *headers]
        if body is not None:
            head.append(("content-length", str(len(body))))
        stream = H2Stream(sid, method, path)
        self.streams[sid] = stream
        self.conn.send_headers(sid, head, end_stream=body is None and end_stream)
        if body is not None:
            stream.pending_body = body
            stream.pending_end = end_stream
            self._send_pending(stream, first=True)
        self.flush()
        return stream

    def get(self, path: str, headers: Iterable[tuple[str, str]] = ()) -> H2Stream:
        return self.open("GET", path, headers)

    def _send_pending(self, stream: H2Stream, first: bool = False) -> None:
        if stream.done:
            stream.pending_body = b""
            return
        for _ in range(10_000):
            if not stream.pending_body:
                if first and stream.pending_end:  # an empty body: END_STREAM on its own
                    self.conn.end_stream(stream.id)
                    stream.pending_end = False
                return
            first = False
            try:
                window = self.conn.local_flow_control_window(stream.id)
            except h2.exceptions.StreamClosedError:
                stream.pending_body = b""
                return
            n = min(window, self.conn.max_outbound_frame_size, len(stream.pending_body))
            if n <= 0:
                return
            chunk, stream.pending_body = stream.pending_body[:n], stream.pending_body[n:]
            self.conn.send_data(stream.id, chunk,
                                end_stream=not stream.pending_body and stream.pending_end)

    def reset(self, stream: H2Stream, code: int = CANCEL) -> None:
        self.conn.reset_stream(stream.id, code)
        stream.reset_code = code
        stream.reset_by_us = True
        self.flush()

    def ping(self, opaque: bytes = b"ringcast") -> None:
        self.conn.ping(opaque)
        self.flush()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    # ---- receiving ----
    def _handle(self, event) -> None:
        self.events_seen.append(event)
        E = h2.events
        sid = getattr(event, "stream_id", None)
        stream = self.streams.get(sid) if sid else None
        if isinstance(event, E.ResponseReceived):
            stream.headers = list(event.headers)
        elif isinstance(event, E.InformationalResponseReceived):
            stream.informational.append(list(event.headers))
        elif isinstance(event, E.TrailersReceived):
            stream.trailers = list(event.headers)
        elif isinstance(event, E.DataReceived):
            stream.data += event.data
            stream.sse.feed(event.data)
            if event.flow_controlled_length:
                if sid in self.hold:
                    # Only the connection's window: the stream's stays shut.
                    self.conn.increment_flow_control_window(event.flow_controlled_length)
                else:
                    self.conn.acknowledge_received_data(event.flow_controlled_length, sid)
        elif isinstance(event, E.StreamEnded):
            stream.ended = True
        elif isinstance(event, E.StreamReset):
            if stream is not None and not stream.reset_by_us:
                stream.reset_code = event.error_code
        elif isinstance(event, E.ConnectionTerminated):
            self.goaway = event
        elif isinstance(event, E.RemoteSettingsChanged):
            for k, v in event.changed_settings.items():
                self.remote_settings[int(k)] = v.new_value
        elif isinstance(event, E.SettingsAcknowledged):
            self.settings_acked = True
        elif isinstance(event, E.WindowUpdated):
            for s in self.streams.values():
                if s.pending_body:
                    self._send_pending(s)

    def read_once(self, timeout: float) -> bool:
        """Reads what arrives within `timeout`; False once the connection is closed."""
        if self.closed:
            return False
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data = self.sock.recv(262144)
        except socket.timeout:
            return True
        except (ConnectionResetError, ssl.SSLEOFError):
            data = b""
        except ssl.SSLError as e:
            if "timed out" in str(e):
                return True
            raise
        if not data:
            self.closed = True
            return False
        for event in self.conn.receive_data(data):
            self._handle(event)
        for s in self.streams.values():
            if s.pending_body:
                self._send_pending(s)
        self.flush()
        return True

    def pump(self, until: Callable[[], bool], timeout: float, what: str) -> None:
        """Reads until `until()` holds; raises AssertionError on timeout or when the
        connection closes first."""
        try:
            for remaining in bounded(timeout, what, 1_000_000):
                if until():
                    return
                if not self.read_once(min(remaining, 0.25)):
                    if until():
                        return
                    raise AssertionError(f"connection closed while waiting for {what}; "
                                         f"goaway={self.describe_goaway()}; {self.summary()}")
        except TimeoutError as e:
            raise AssertionError(f"{e}; goaway={self.describe_goaway()}; {self.summary()}") from None

    def request(self, method: str, path: str, headers: Iterable[tuple[str, str]] = (),
                body: bytes | None = None, timeout: float = 10.0) -> H2Stream:
        stream = self.open(method, path, headers, body)
        self.pump(lambda: stream.done, timeout, f"the answer to {method} {path}")
        return stream

    def wait_response(self, streams: list[H2Stream], timeout: float = 10.0) -> None:
        self.pump(lambda: all(s.headers is not None or s.done for s in streams), timeout,
                  f"response heads of {len(streams)} streams")

    def describe_goaway(self) -> str:
        g = self.goaway
        if g is None:
            return "None"
        return (f"GOAWAY({error_name(int(g.error_code))}, last_stream_id={g.last_stream_id}, "
                f"debug={g.additional_data!r})")

    def summary(self) -> str:
        streams = sorted(self.streams.values(), key=lambda s: len(s.events))
        return f"{len(streams)} streams; " + " | ".join(s.describe() for s in streams[:4])


def h2_get(port: int, path: str, tls: ssl.SSLContext | None = None,
           headers: Iterable[tuple[str, str]] = (), method: str = "GET",
           body: bytes | None = None, timeout: float = 10.0) -> H2Stream:
    """One request on a fresh HTTP/2 connection (closed afterwards)."""
    c = H2Client(port, tls, timeout)
    try:
        return c.request(method, path, headers, body, timeout)
    finally:
        c.close()


# --------------------------------------------------------------------------------------
# Frames by hand
# --------------------------------------------------------------------------------------

@dataclass
class Frame:
    type: int
    flags: int
    stream_id: int
    payload: bytes

    def __repr__(self) -> str:
        name = FRAME_NAMES[self.type] if self.type < len(FRAME_NAMES) else f"type{self.type}"
        extra = ""
        if self.type in (RST_STREAM, GOAWAY) and len(self.payload) >= 4:
            code = struct.unpack(">I", self.payload[-4:] if self.type == RST_STREAM
                                 else self.payload[4:8])[0]
            extra = f" {error_name(code)}"
        return f"{name}(flags=0x{self.flags:x}, stream={self.stream_id}, len={len(self.payload)}{extra})"


@dataclass
class RawStream:
    id: int
    headers: list[tuple[str, str]] | None = None
    data: bytearray = field(default_factory=bytearray)
    ended: bool = False
    reset_code: int | None = None
    sse: SseParser = field(default_factory=sse_parser)

    @property
    def status(self) -> int | None:
        for k, v in self.headers or []:
            if k == ":status":
                return int(v)
        return None


class RawH2:
    """An HTTP/2 peer writing frames by hand. It answers the server's SETTINGS with an ACK and
    PINGs with a PING ACK (unless told not to), opens the windows of the streams it reads,
    decodes response headers with hpack, and records every frame it receives. Reads continue
    after a GOAWAY until the server closes."""

    def __init__(self, port: int, tls: ssl.SSLContext | None = None, timeout: float = 10.0,
                 preface: bool = True, settings: Iterable[tuple[int, int]] = (),
                 ack_settings: bool = True, answer_pings: bool = True,
                 rcvbuf: int | None = None, connection_window: int = MAX_WINDOW):
        self.port = port
        self.scheme = "https" if tls is not None else "http"
        self.sock = connect(port, tls, timeout, rcvbuf)
        self.tls = tls is not None
        self.ack_settings = ack_settings
        self.answer_pings = answer_pings
        self.encoder = hpack.Encoder()
        self.decoder = hpack.Decoder()
        self.decoder.max_allowed_table_size = 65536
        self.frames: list[Frame] = []
        self.streams: dict[int, RawStream] = {}
        self.hold: set[int] = set()
        self.server_settings: dict[int, int] = {}
        self.server_settings_frames = 0
        self.settings_acked = 0  # SETTINGS ACKs from the server
        self.goaways: list[tuple[int, int, bytes]] = []  # (last_stream_id, code, debug)
        self.eof = False
        self.reset_by_peer = False
        self.send_failed = False
        self._buf = b""
        self._block: tuple[int, bytearray, int] | None = None  # (stream, fragment, flags)
        if preface:
            self.send(PREFACE + settings_frame(settings))
            if connection_window > 65535:
                self.send(window_update_frame(0, connection_window - 65535))

    # ---- sending ----
    def send(self, data: bytes) -> bool:
        """sendall; False (and send_failed) if the server has closed or reset."""
        try:
            self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError, ssl.SSLEOFError, ssl.SSLZeroReturnError):
            self.send_failed = True
            return False
        except ssl.SSLError:
            self.send_failed = True
            return False

    def header_block(self, method: str, path: str, extra: Iterable[tuple[str, str]] = ()) -> bytes:
        return self.encoder.encode([(":method", method), (":scheme", self.scheme),
                                    (":authority", f"{HOST}:{self.port}"), (":path", path),
                                    *extra])

    def request_frames(self, stream_id: int, method: str, path: str,
                       extra: Iterable[tuple[str, str]] = (), body: bytes | None = None) -> bytes:
        self.streams.setdefault(stream_id, RawStream(stream_id))
        block = self.header_block(method, path, extra)
        flags = END_HEADERS | (END_STREAM if body is None else 0)
        out = frame(HEADERS, flags, stream_id, block)
        if body is not None:
            out += frame(DATA, END_STREAM, stream_id, body)
        return out

    def request(self, stream_id: int, method: str, path: str,
                extra: Iterable[tuple[str, str]] = (), body: bytes | None = None) -> bool:
        return self.send(self.request_frames(stream_id, method, path, extra, body))

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    # ---- receiving ----
    def _on_frame(self, f: Frame) -> None:
        self.frames.append(f)
        p = f.payload
        if f.type == SETTINGS:
            if f.flags & ACK:
                self.settings_acked += 1
            else:
                self.server_settings_frames += 1
                for i in range(0, len(p) - len(p) % 6, 6):
                    k, v = struct.unpack(">HI", p[i:i + 6])
                    self.server_settings[k] = v
                if self.ack_settings:
                    self.send(settings_frame(ack=True))
        elif f.type == PING:
            if not f.flags & ACK and self.answer_pings:
                self.send(ping_frame(p, ack=True))
        elif f.type == GOAWAY:
            last, code = struct.unpack(">II", p[:8])
            self.goaways.append((last & 0x7FFFFFFF, code, p[8:]))
        elif f.type == RST_STREAM:
            s = self.streams.setdefault(f.stream_id, RawStream(f.stream_id))
            s.reset_code = struct.unpack(">I", p[:4])[0]
        elif f.type in (HEADERS, CONTINUATION):
            if f.type == HEADERS:
                body = p
                if f.flags & PADDED:
                    pad = body[0]
                    body = body[1:len(body) - pad]
                if f.flags & PRIORITY_FLAG:
                    body = body[5:]
                self._block = (f.stream_id, bytearray(body), f.flags)
            elif self._block is not None:
                self._block[1].extend(p)
            if f.flags & END_HEADERS and self._block is not None:
                sid, block, flags = self._block
                self._block = None
                s = self.streams.setdefault(sid, RawStream(sid))
                headers = [(k if isinstance(k, str) else k.decode(),
                            v if isinstance(v, str) else v.decode("latin-1"))
                           for k, v in self.decoder.decode(bytes(block))]
                if s.headers is None or (s.status or 0) < 200:
                    s.headers = headers
                if flags & END_STREAM:
                    s.ended = True
        elif f.type == DATA:
            s = self.streams.setdefault(f.stream_id, RawStream(f.stream_id))
            body = p
            if f.flags & PADDED:
                body = body[1:len(body) - body[0]]
            s.data += body
            s.sse.feed(body)
            if f.flags & END_STREAM:
                s.ended = True
            if p:
                updates = window_update_frame(0, len(p))
                if f.stream_id not in self.hold and not s.ended:
                    updates += window_update_frame(f.stream_id, len(p))
                self.send(updates)

    def read_once(self, timeout: float) -> bool:
        """Reads what arrives within `timeout` and handles whole frames; False at EOF."""
        if self.eof:
            return False
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data = self.sock.recv(262144)
        except socket.timeout:
            return True
        except ConnectionResetError:
            self.reset_by_peer = True
            data = b""
        except (ssl.SSLEOFError, ssl.SSLZeroReturnError):
            data = b""
        except ssl.SSLError as e:
            if "timed out" in str(e):
                return True
            self.reset_by_peer = True
            data = b""
        except OSError as e:
            if isinstance(e, TimeoutError):
                return True
            raise
        if not data:
            self.eof = True
            return False
        self._buf += data
        for _ in range(100_000):
            if len(self._buf) < 9:
                break
            n = int.from_bytes(self._buf[:3], "big")
            if len(self._buf) < 9 + n:
                break
            ftype, flags, sid = self._buf[3], self._buf[4], int.from_bytes(self._buf[5:9], "big")
            payload, self._buf = self._buf[9:9 + n], self._buf[9 + n:]
            self._on_frame(Frame(ftype, flags, sid & 0x7FFFFFFF, payload))
        return True

    def pump(self, until: Callable[[], bool], timeout: float, what: str) -> None:
        try:
            for remaining in bounded(timeout, what, 1_000_000):
                if until():
                    return
                if not self.read_once(min(remaining, 0.25)):
                    if until():
                        return
                    raise AssertionError(f"connection closed while waiting for {what}; "
                                         f"{self.summary()}")
        except TimeoutError as e:
            raise AssertionError(f"{e}; {self.summary()}") from None

    def wait_closed(self, timeout: float = 10.0, what: str = "the server to close") -> None:
        """Reads (and records) everything until the server closes the connection."""
        try:
            for remaining in bounded(timeout, what, 1_000_000):
                if not self.read_once(min(remaining, 0.25)):
                    return
        except TimeoutError as e:
            raise AssertionError(f"{e}; {self.summary()}") from None

    def stream(self, sid: int) -> RawStream:
        return self.streams.setdefault(sid, RawStream(sid))

    @property
    def goaway(self) -> tuple[int, int, bytes] | None:
        return self.goaways[-1] if self.goaways else None

    def summary(self) -> str:
        frames = self.frames[-12:]
        return (f"eof={self.eof} reset_by_peer={self.reset_by_peer} "
                f"send_failed={self.send_failed} goaways="
                f"{[(last, error_name(code), debug) for last, code, debug in self.goaways]} "
                f"{len(self.frames)} frames, last: {frames}"
                + (f"; unparsed bytes {self._buf[:160]!r}" if self._buf else ""))


# --------------------------------------------------------------------------------------
# Assertions
# --------------------------------------------------------------------------------------

def assert_healthy(test: unittest.TestCase, server, tls: ssl.SSLContext | None = None,
                   h1_tls: ssl.SSLContext | None = None, what: str = "",
                   check_h2: bool = True) -> None:
    """The server is running and a fresh HTTP/1.1 client and a fresh HTTP/2 client (unless
    not check_h2) each get 200 "ok\\n" from /healthz (over TLS when `tls`/`h1_tls` are given)."""
    test.assertTrue(server.running, f"ringcast died {what}")
    if h1_tls is None:
        with HttpConn(server.port) as c:
            resp = c.request("GET", "/healthz")
        test.assertEqual((resp.status, resp.body), (200, b"ok\n"), f"HTTP/1.1 /healthz {what}")
    else:
        sock = connect(server.port, h1_tls)
        try:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            got = b""
            for _ in bounded(10, "an HTTP/1.1 answer over TLS", 10_000):
                try:
                    chunk = sock.recv(65536)
                except (ssl.SSLEOFError, ConnectionResetError):
                    chunk = b""
                if not chunk:
                    break
                got += chunk
        finally:
            sock.close()
        test.assertTrue(got.startswith(b"HTTP/1.1 200") and got.endswith(b"\r\n\r\nok\n"),
                        f"HTTP/1.1 /healthz over TLS {what}: {got!r}")
    if not check_h2:
        return
    s = h2_get(server.port, "/healthz", tls)
    test.assertEqual((s.status, bytes(s.data), s.ended), (200, b"ok\n", True),
                     f"HTTP/2 /healthz {what}: {s.describe()}")


# --------------------------------------------------------------------------------------
# Glue
# --------------------------------------------------------------------------------------

def to_response(stream: H2Stream) -> Response:
    """The harness's Response shape for an HTTP/2 answer (header names are lower case)."""
    headers = [(k, v) for k, v in stream.headers or [] if not k.startswith(":")]
    return Response(stream.status or 0, "", headers, bytes(stream.data), b"")


def h2_publish(test: unittest.TestCase, client: H2Client, topic: str, data: bytes,
               event: str | None = None) -> str:
    """POSTs one event over HTTP/2, checks the 202 acknowledgement, returns the id."""
    target = f"/pub/{topic}" + (f"?event={event}" if event is not None else "")
    s = client.request("POST", target, body=data)
    test.assertTrue(s.ended, s.describe())
    check_publish_response(to_response(s), topic)
    return to_response(s).json()["id"]


class Background:
    """A client process (curl, nghttp) whose stdout a thread collects."""

    def __init__(self, argv: list[str]):
        self.argv = argv
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self._out = bytearray()
        self._err = bytearray()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._read, args=(p, b), daemon=True)
                         for p, b in ((self.proc.stdout, self._out),
                                      (self.proc.stderr, self._err))]
        for t in self._threads:
            t.start()

    def _read(self, pipe, buf: bytearray) -> None:
        for _ in range(1_000_000):
            chunk = pipe.read1(65536)
            if not chunk:
                break
            with self._lock:
                buf += chunk

    def output(self) -> bytes:
        with self._lock:
            return bytes(self._out)

    def stderr(self) -> bytes:
        with self._lock:
            return bytes(self._err)

    def wait_output(self, predicate, timeout: float, what: str) -> bytes:
        for remaining in bounded(timeout, f"{what} from {self.argv[0]}"):
            out = self.output()
            if predicate(out):
                return out
            if self.proc.poll() is not None and not self._threads[0].is_alive():
                raise AssertionError(f"{self.argv[0]} exited {self.proc.returncode} while "
                                     f"waiting for {what}; output {out!r}; stderr "
                                     f"{self.stderr()[-2000:]!r}")
            self._threads[0].join(min(0.05, remaining))
        return b""  # unreachable

    def finish(self, timeout: float = 10.0) -> int:
        rc = self.proc.wait(timeout=timeout)
        for t in self._threads:
            t.join(timeout=5)
        return rc

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        for t in self._threads:
            t.join(timeout=5)
        self.proc.stdout.close()
        self.proc.stderr.close()
