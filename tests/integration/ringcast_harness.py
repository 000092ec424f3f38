"""Shared helpers for the ringcast loopback integration tests.

Everything here talks to a real ringcast process over 127.0.0.1 only:

  Server            starts/stops the binary named by $RINGCAST_BIN, keeps its stderr
  HttpConn          a raw HTTP/1.1 client connection (keep-alive, pipelining, raw bytes)
  Response          status, headers and body of one plain response
  SseParser         incremental parser for an event stream (head, retry, events, comments)
  SseStream         one subscriber socket feeding an SseParser
  pump()            selectors-based reader for many SseStreams at once
  Metrics           parsed Prometheus text exposition (/metrics)
  encode_event()    the exact wire bytes the server must write for one event
  RingcastTestCase  unittest base class: starts servers, stops them, prints their logs
                    when a test fails

Every wait is bounded by a deadline and an iteration count; nothing asserts on speed.
"""

from __future__ import annotations

import json
import os
import re
import resource
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

HOST = "127.0.0.1"

# The exact head of every event stream (contract).
STREAM_HEAD = (
    b"HTTP/1.1 200 OK\r\n"
    b"Content-Type: text/event-stream\r\n"
    b"Cache-Control: no-cache\r\n"
    b"X-Accel-Buffering: no\r\n"
    b"Connection: keep-alive\r\n"
    b"\r\n"
)
PING = b": ping\n\n"

DEFAULT_RETRY_MS = 3000
DEFAULT_RETRY_JITTER_MS = 1000

LISTENING_RE = re.compile(r"event=listening addr=127\.0\.0\.1:(\d+) shards=(\d+)")
ID_RE = re.compile(r"^(\d+)-(\d+)$")


# --------------------------------------------------------------------------------------
# Process-wide setup
# --------------------------------------------------------------------------------------

def _raise_fd_limit() -> None:
    """Tests open up to ~1,100 sockets; the server (our child) inherits the limit too."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
    if soft == resource.RLIM_INFINITY or soft >= want:
        return
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


_raise_fd_limit()


def free_port() -> int:
    """A loopback port free right now, for a helper server (nginx, haproxy) that cannot take
    port 0. Another process could take it before the helper binds; tests then fail loudly."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def ringcast_bin() -> str:
    path = os.environ.get("RINGCAST_BIN")
    if not path:
        here = os.path.dirname(os.path.abspath(__file__))
        path = os.path.normpath(os.path.join(here, "..", "..", "build", "release", "ringcast"))
        if not os.path.exists(path):
            raise RuntimeError("set RINGCAST_BIN to the ringcast binary under test")
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"RINGCAST_BIN={path!r} is not an executable file")
    return path


# --------------------------------------------------------------------------------------
# Bounded waiting
# --------------------------------------------------------------------------------------

def bounded(timeout: float, what: str, max_iterations: int = 1_000_000) -> Iterator[float]:
    """Yields the remaining time until `timeout` seconds have passed or `max_iterations`
    iterations were made, then raises TimeoutError naming `what`. Break out when done."""
    deadline = time.monotonic() + timeout
    for _ in range(max_iterations):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        yield remaining
    raise TimeoutError(f"gave up after {timeout:g}s waiting for {what}")


def wait_until(predicate: Callable[[], bool], timeout: float, what: str,
               interval: float = 0.05) -> None:
    for remaining in bounded(timeout, what):
        if predicate():
            return
        time.sleep(min(interval, remaining))


# --------------------------------------------------------------------------------------
# SSE wire format
# --------------------------------------------------------------------------------------

def split_lines(data: bytes) -> list[bytes]:
    """Splits an event body into lines the way the server must: CR, LF and CRLF each end a
    line; a trailing line break yields a final empty line; empty data is one empty line."""
    lines: list[bytes] = []
    start = 0
    i = 0
    n = len(data)
    while i < n:
        c = data[i]
        if c == 0x0D or c == 0x0A:
            lines.append(data[start:i])
            if c == 0x0D and i + 1 < n and data[i + 1] == 0x0A:
                i += 1
            start = i + 1
        i += 1
    lines.append(data[start:])
    return lines


def encode_event(event_id: str, data: bytes, event: str | None = None) -> bytes:
    """The exact bytes a subscriber must receive for one event."""
    out = [b"id: " + event_id.encode() + b"\n"]
    if event:
        out.append(b"event: " + event.encode() + b"\n")
    for line in split_lines(data):
        out.append(b"data: " + line + b"\n")
    out.append(b"\n")
    return b"".join(out)


def parse_id(event_id: str) -> tuple[int, int]:
    m = ID_RE.match(event_id)
    if not m:
        raise ValueError(f"event id {event_id!r} is not of the form <unix ms>-<n>")
    return int(m.group(1)), int(m.group(2))


def assert_strictly_increasing(test: unittest.TestCase, ids: list[str], what: str) -> None:
    keys = [parse_id(i) for i in ids]
    for a, b, ia, ib in zip(keys, keys[1:], ids, ids[1:]):
        test.assertLess(a, b, f"{what}: id {ib!r} does not follow {ia!r}")


# --------------------------------------------------------------------------------------
# Plain HTTP
# --------------------------------------------------------------------------------------

@dataclass
class Response:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    head: bytes  # raw status line + headers + blank line

    def header(self, name: str) -> str | None:
        """Value of the first header called `name` (case-insensitive), or None."""
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    def header_all(self, name: str) -> list[str]:
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __str__(self) -> str:
        body = self.body if len(self.body) <= 300 else self.body[:300] + b"..."
        return f"{self.status} {self.reason} headers={self.headers} body={body!r}"


class HttpConn:
    """One client connection speaking raw HTTP/1.1 to the server. Reuse it for keep-alive;
    send() arbitrary bytes for malformed requests; at_eof() to check the server closed."""

    def __init__(self, port: int, timeout: float = 10.0):
        self.port = port
        self.timeout = timeout
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self._buf = b""

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "HttpConn":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def send(self, data: bytes, tolerate_reset: bool = False) -> None:
        """sendall; with tolerate_reset, a peer that already closed is not an error (the
        server may answer and close before it has read everything we send)."""
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            if not tolerate_reset:
                raise

    def build(self, method: str, target: str, body: bytes | None = None,
              headers: Iterable[tuple[str, str]] = ()) -> bytes:
        lines = [f"{method} {target} HTTP/1.1", f"Host: {HOST}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in headers]
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")

    def request(self, method: str, target: str, body: bytes | None = None,
                headers: Iterable[tuple[str, str]] = ()) -> Response:
        self.send(self.build(method, target, body, headers))
        return self.read_response()

    def _recv_more(self, deadline: float, what: str) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"timed out waiting for {what}; have {self._buf[:200]!r}")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        except socket.timeout:
            raise TimeoutError(f"timed out waiting for {what}; have {self._buf[:200]!r}")
        if not chunk:
            raise ConnectionError(f"connection closed while waiting for {what}; "
                                  f"have {self._buf[:200]!r}")
        self._buf += chunk

    def read_response(self, timeout: float | None = None) -> Response:
        """Reads one response that carries a Content-Length (every plain response does)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        for _ in bounded(timeout or self.timeout, "a response head", 100_000):
            if b"\r\n\r\n" in self._buf:
                break
            self._recv_more(deadline, "a response head")
        end = self._buf.index(b"\r\n\r\n") + 4
        head, self._buf = self._buf[:end], self._buf[end:]
        lines = head[:-4].decode("latin-1").split("\r\n")
        m = re.match(r"^HTTP/1\.1 (\d{3}) (.*)$", lines[0])
        if not m:
            raise AssertionError(f"bad status line {lines[0]!r}")
        headers = []
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep or not name or name != name.strip():
                raise AssertionError(f"bad header line {line!r} in {head!r}")
            headers.append((name, value.strip(" \t")))
        resp = Response(int(m.group(1)), m.group(2), headers, b"", head)
        length = resp.header("Content-Length")
        if length is None:
            raise AssertionError(f"response without Content-Length: {head!r}")
        n = int(length)
        for _ in bounded(timeout or self.timeout, "a response body", 100_000):
            if len(self._buf) >= n:
                break
            self._recv_more(deadline, f"{n} body bytes")
        resp.body, self._buf = self._buf[:n], self._buf[n:]
        return resp

    def at_eof(self, timeout: float = 5.0) -> bool:
        """True if the server closed the connection (FIN or RST) within `timeout` without
        sending anything more; False if it sent more bytes or stayed open."""
        if self._buf:
            return False
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False


def http_request(port: int, method: str, target: str, body: bytes | None = None,
                 headers: Iterable[tuple[str, str]] = (), timeout: float = 10.0) -> Response:
    """One request on a fresh connection (closed afterwards)."""
    with HttpConn(port, timeout) as conn:
        return conn.request(method, target, body, headers)


# --------------------------------------------------------------------------------------
# Server-Sent Events
# --------------------------------------------------------------------------------------

@dataclass
class SseBlock:
    """One '\\n\\n'-terminated block of the stream body."""
    raw: bytes
    kind: str  # "event", "comment", "retry" or "unknown"
    id: str | None = None
    event: str | None = None
    data_lines: list[bytes] = field(default_factory=list)
    retry: int | None = None

    @property
    def data(self) -> bytes:
        return b"\n".join(self.data_lines)


def _parse_block(raw: bytes) -> SseBlock:
    lines = raw[:-2].split(b"\n")
    if all(line.startswith(b":") for line in lines):
        return SseBlock(raw, "comment")
    if len(lines) == 1 and lines[0].startswith(b"retry: "):
        value = lines[0][len(b"retry: "):]
        if value.isdigit():
            return SseBlock(raw, "retry", retry=int(value))
        return SseBlock(raw, "unknown")
    block = SseBlock(raw, "event")
    for line in lines:
        name, sep, value = line.partition(b":")
        if not sep:
            return SseBlock(raw, "unknown")
        if value.startswith(b" "):
            value = value[1:]
        if name == b"id":
            block.id = value.decode("utf-8")
        elif name == b"event":
            block.event = value.decode("utf-8")
        elif name == b"data":
            block.data_lines.append(value)
        else:
            return SseBlock(raw, "unknown")
    return block


class SseParser:
    """Incremental parser for a raw stream response: the HTTP head, then blocks. The server
    writes LF-only line endings, so every block ends at the first '\\n\\n'."""

    def __init__(self) -> None:
        self.head: bytes | None = None
        self.blocks: list[SseBlock] = []
        self.raw = bytearray()  # every byte received, head included
        self._pending = b""

    def feed(self, data: bytes) -> None:
        self.raw += data
        self._pending += data
        if self.head is None:
            end = self._pending.find(b"\r\n\r\n")
            if end < 0:
                return
            self.head = self._pending[:end + 4]
            self._pending = self._pending[end + 4:]
        start = 0
        while True:
            end = self._pending.find(b"\n\n", start)
            if end < 0:
                break
            self.blocks.append(_parse_block(self._pending[start:end + 2]))
            start = end + 2
        self._pending = self._pending[start:]

    @property
    def body(self) -> bytes:
        """Body bytes received so far (everything after the head)."""
        return bytes(self.raw[len(self.head):]) if self.head is not None else b""

    @property
    def partial(self) -> bytes:
        """Bytes of an unterminated trailing block (b'' on a block boundary)."""
        return self._pending

    @property
    def retry(self) -> int | None:
        return self.blocks[0].retry if self.blocks and self.blocks[0].kind == "retry" else None

    @property
    def events(self) -> list[SseBlock]:
        return [b for b in self.blocks if b.kind == "event"]

    @property
    def comments(self) -> list[SseBlock]:
        return [b for b in self.blocks if b.kind == "comment"]


class SseStream:
    """A subscriber: one socket that sent `GET target` and feeds what it reads to a parser.
    After construction the socket is non-blocking; read with pump() or wait()."""

    def __init__(self, port: int, target: str, headers: Iterable[tuple[str, str]] = (),
                 connect_timeout: float = 10.0, recv_buffer_bytes: int | None = None):
        self.target = target
        # recv_buffer_bytes: set before connecting, so the kernel absorbs little of what the
        # server sends to a client that does not read (the rest stays in the server).
        self.sock = socket.socket()
        if recv_buffer_bytes is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, recv_buffer_bytes)
        self.sock.settimeout(connect_timeout)
        self.sock.connect((HOST, port))
        lines = [f"GET {target} HTTP/1.1", f"Host: {HOST}:{port}", "Accept: text/event-stream"]
        lines += [f"{k}: {v}" for k, v in headers]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        self.sock.setblocking(False)
        self.parser = SseParser()
        self.eof = False
        self.reset = False  # EOF came as ECONNRESET rather than FIN

    def fileno(self) -> int:
        return self.sock.fileno()

    def read_available(self) -> bool:
        """Reads what is ready without blocking. Returns False once the peer has closed."""
        if self.eof:
            return False
        for _ in range(64):  # bounded: at most 64 x 256 KiB per call
            try:
                chunk = self.sock.recv(262144)
            except (BlockingIOError, InterruptedError):
                return True
            except ConnectionResetError:
                self.eof = self.reset = True
                return False
            if not chunk:
                self.eof = True
                return False
            self.parser.feed(chunk)
        return True

    # Convenience views
    @property
    def ready(self) -> bool:
        """Head and retry line received: the subscription is in effect."""
        return self.parser.retry is not None

    @property
    def events(self) -> list[SseBlock]:
        return self.parser.events

    def wait(self, predicate: Callable[["SseStream"], bool], timeout: float, what: str) -> None:
        pump([self], lambda: predicate(self), timeout, what)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def shutdown_write(self) -> None:
        self.sock.shutdown(socket.SHUT_WR)

    def abort(self) -> None:
        """Close with a TCP RST (SO_LINGER 0)."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        self.sock.close()

    def describe(self) -> str:
        p = self.parser
        head = "standard" if p.head == STREAM_HEAD else repr(p.head)
        return (f"stream {self.target!r}: head={head} blocks={len(p.blocks)} "
                f"events={len(p.events)} eof={self.eof} partial={p.partial[:120]!r} "
                f"last={p.blocks[-1].raw[:120] if p.blocks else None!r}")


def pump(streams: list[SseStream], until: Callable[[], bool], timeout: float,
         what: str) -> None:
    """Reads from all streams (selectors) until `until()` is true; raises TimeoutError after
    `timeout` seconds. Streams that reach EOF are dropped from the selector."""
    sel = selectors.DefaultSelector()
    try:
        for s in streams:
            if not s.eof:
                sel.register(s.sock, selectors.EVENT_READ, s)
        for remaining in bounded(timeout, what):
            if until():
                return
            if not sel.get_map():
                if until():
                    return
                raise AssertionError(f"every stream is closed but still waiting for {what}; "
                                     f"{summarize(streams)}")
            for key, _ in sel.select(min(remaining, 0.25)):
                stream: SseStream = key.data
                if not stream.read_available():
                    sel.unregister(stream.sock)
    except TimeoutError as e:
        raise TimeoutError(f"{e}; {summarize(streams)}") from None
    finally:
        sel.close()


def summarize(streams: list[SseStream]) -> str:
    """A short state report for timeouts: counts, and the streams with the fewest events."""
    if not streams:
        return "no streams"
    counts = [len(s.events) for s in streams]
    worst = sorted(streams, key=lambda s: len(s.events))[:3]
    return (f"{len(streams)} streams, events min {min(counts)} max {max(counts)}, "
            f"{sum(s.eof for s in streams)} at EOF, "
            f"{sum(not s.ready for s in streams)} not subscribed; fewest events: "
            + " | ".join(s.describe() for s in worst))


def read_available(streams: list[SseStream]) -> None:
    """One non-blocking read pass over all streams."""
    for s in streams:
        s.read_available()


def open_streams(port: int, targets: list[str], timeout: float = 30.0) -> list[SseStream]:
    """Opens one stream per target and waits until every one is subscribed (head + retry)."""
    streams = [SseStream(port, t) for t in targets]
    pump(streams, lambda: all(s.ready or s.eof for s in streams), timeout,
         f"{len(streams)} streams to be subscribed")
    failed = [s.describe() for s in streams if not s.ready]
    if failed:
        for s in streams:
            s.close()
        raise AssertionError(f"{len(failed)} streams were not accepted, e.g. {failed[:3]}")
    return streams


# --------------------------------------------------------------------------------------
# Prometheus text exposition
# --------------------------------------------------------------------------------------

_SAMPLE_RE = re.compile(
    r"^([a-zA-Z_:][a-zA-Z0-9_:]*)"          # metric name
    r"(?:\{(.*)\})?"                         # optional labels
    r" +(\S+)"                               # value
    r"(?: +-?\d+)?$"                          # optional timestamp
)
_LABEL_RE = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\.)*)"\s*(,|$)')


class Metrics:
    """Samples of one /metrics scrape: {(name, ((label, value), ...)): float}."""

    def __init__(self, text: str):
        self.text = text
        self.samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        self.types: dict[str, str] = {}
        for n, line in enumerate(text.split("\n"), 1):
            if not line:
                continue
            if line.startswith("#"):
                parts = line.split(None, 3)
                if len(parts) >= 4 and parts[1] == "TYPE":
                    self.types[parts[2]] = parts[3].strip()
                continue
            m = _SAMPLE_RE.match(line)
            if not m:
                raise AssertionError(f"/metrics line {n} is not a valid sample: {line!r}")
            labels = []
            raw = m.group(2) or ""
            pos = 0
            for _ in range(len(raw) + 1):
                if pos >= len(raw):
                    break
                lm = _LABEL_RE.match(raw, pos)
                if not lm or lm.end() == pos:
                    raise AssertionError(f"/metrics line {n} has bad labels: {line!r}")
                labels.append((lm.group(1), lm.group(2)))
                pos = lm.end()
            key = (m.group(1), tuple(sorted(labels)))
            if key in self.samples:
                raise AssertionError(f"/metrics repeats series {key}")
            self.samples[key] = float(m.group(3))
        if not text.endswith("\n"):
            raise AssertionError("/metrics text does not end with a newline")

    def series(self, name: str, **labels: str) -> dict[tuple[tuple[str, str], ...], float]:
        """All series of `name` whose labels include `labels`."""
        want = set(labels.items())
        return {lbl: v for (n, lbl), v in self.samples.items()
                if n == name and want <= set(lbl)}

    def sum(self, name: str, **labels: str) -> float:
        """Sum over matching series; raises if the metric is missing entirely."""
        found = self.series(name, **labels)
        if not found:
            raise AssertionError(f"metric {name}{labels or ''} not in /metrics:\n{self.text}")
        return sum(found.values())

    def label_values(self, name: str, label: str) -> set[str]:
        return {dict(lbl).get(label) for lbl in self.series(name)} - {None}


# --------------------------------------------------------------------------------------
# The server process
# --------------------------------------------------------------------------------------

class Server:
    """A ringcast process listening on 127.0.0.1:<free port>."""

    def __init__(self, *flags: str, shards: int = 2):
        self.flags = list(flags)
        self.shards = shards
        self.argv = [ringcast_bin(), "--listen", f"{HOST}:0", "--shards", str(shards), *flags]
        # RINGCAST_IO=epoll runs the whole suite against the epoll baseline backend.
        if os.environ.get("RINGCAST_IO") and not any(f.startswith("--io") for f in flags):
            self.argv += ["--io", os.environ["RINGCAST_IO"]]
        self.proc: subprocess.Popen | None = None
        # Extra subprocess.Popen arguments, e.g. user= and group= to run as another user.
        self.popen_kwargs: dict = {}
        self.port: int | None = None
        self.returncode: int | None = None
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self._listening = threading.Event()
        self._threads: list[threading.Thread] = []
        self._clients: list = []  # sockets/streams opened through this object

    # ---- lifecycle ----
    def start(self, timeout: float = 10.0) -> "Server":
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     **self.popen_kwargs)
        for pipe, tag in ((self.proc.stderr, ""), (self.proc.stdout, "[stdout] ")):
            t = threading.Thread(target=self._read_pipe, args=(pipe, tag), daemon=True)
            t.start()
            self._threads.append(t)
        for _ in bounded(timeout, "the 'listening' line", 10_000):
            if self._listening.wait(0.05):
                break
            if self.proc.poll() is not None:
                self._join_readers()
                raise RuntimeError(f"ringcast exited with {self.proc.returncode} before "
                                   f"listening:\n{self.log()}")
        m = LISTENING_RE.search(self.log())
        self.port = int(m.group(1))
        if int(m.group(2)) != self.shards:
            raise AssertionError(f"asked for {self.shards} shards, server says: {m.group(0)}")
        return self

    def _read_pipe(self, pipe, tag: str) -> None:
        for raw in iter(pipe.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._lock:
                self._lines.append(tag + line)
            if not tag and LISTENING_RE.search(line):
                self._listening.set()
        pipe.close()

    def _join_readers(self) -> None:
        for t in self._threads:
            t.join(timeout=5)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def send_signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float) -> int:
        """Waits for exit; returns the exit code (negative = killed by that signal)."""
        self.returncode = self.proc.wait(timeout=timeout)
        self._join_readers()
        return self.returncode

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        """Closes our client sockets, sends `sig`, waits; SIGKILL if it does not exit."""
        self.close_clients()
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                return self.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.wait(10)
                with self._lock:
                    self._lines.append(f"[harness] did not exit within {timeout}s of "
                                       f"signal {sig}; killed")
                return self.returncode
        return self.wait(10)

    def log(self) -> str:
        with self._lock:
            return "\n".join(self._lines)

    # ---- clients ----
    def _track(self, client):
        self._clients.append(client)
        return client

    def close_clients(self) -> None:
        for c in self._clients:
            try:
                c.close()
            except OSError:
                pass
        self._clients.clear()

    def conn(self, timeout: float = 10.0) -> HttpConn:
        return self._track(HttpConn(self.port, timeout))

    def request(self, method: str, target: str, body: bytes | None = None,
                headers: Iterable[tuple[str, str]] = ()) -> Response:
        return http_request(self.port, method, target, body, headers)

    def stream(self, target: str) -> SseStream:
        return self._track(SseStream(self.port, target))

    def open_streams(self, targets: list[str], timeout: float = 30.0) -> list[SseStream]:
        streams = open_streams(self.port, targets, timeout)
        self._clients.extend(streams)
        return streams

    def publish(self, topic: str, data: bytes, event: str | None = None,
                conn: HttpConn | None = None) -> str:
        """POSTs one event, checks the 202 acknowledgement, returns the id."""
        target = f"/pub/{topic}" + (f"?event={event}" if event is not None else "")
        if conn is None:
            resp = self.request("POST", target, data)
        else:
            resp = conn.request("POST", target, data)
        check_publish_response(resp, topic)
        return resp.json()["id"]

    def metrics(self) -> Metrics:
        resp = self.request("GET", "/metrics", headers=[("Connection", "close")])
        if resp.status != 200:
            raise AssertionError(f"/metrics answered {resp}")
        ctype = resp.header("Content-Type") or ""
        if not ctype.startswith("text/plain"):
            raise AssertionError(f"/metrics Content-Type is {ctype!r}")
        return Metrics(resp.body.decode("utf-8"))

    def wait_metric(self, name: str, predicate: Callable[[float], bool], timeout: float,
                    what: str, **labels: str) -> float:
        """Polls /metrics until predicate(sum of `name`) holds; returns that sum."""
        last = None
        try:
            for remaining in bounded(timeout, what, 10_000):
                last = self.metrics().sum(name, **labels)
                if predicate(last):
                    return last
                time.sleep(min(0.05, remaining))
        except TimeoutError as e:
            raise AssertionError(f"{e} (last {name} = {last})") from None
        return last  # unreachable


def check_publish_response(resp: Response, topic: str) -> None:
    if resp.status != 202:
        raise AssertionError(f"publish to {topic!r} answered {resp}")
    ctype = resp.header("Content-Type") or ""
    if not ctype.startswith("application/json"):
        raise AssertionError(f"publish answered Content-Type {ctype!r}")
    body = resp.json()
    if set(body) != {"topic", "id"} or body["topic"] != topic or not isinstance(body["id"], str):
        raise AssertionError(f"publish answered body {resp.body!r}")
    parse_id(body["id"])
    expected = json.dumps({"topic": topic, "id": body["id"]}, separators=(",", ":")).encode()
    if resp.body.rstrip(b"\n") != expected:
        raise AssertionError(f"publish body {resp.body!r} is not exactly {expected!r}")


# --------------------------------------------------------------------------------------
# unittest glue
# --------------------------------------------------------------------------------------

class RingcastTestCase(unittest.TestCase):
    """Starts servers for a test, stops them afterwards (a non-zero exit is an error) and
    prints their stderr when the test failed."""

    def run(self, result=None):
        self._servers: list[Server] = []
        if result is None:
            return super().run(result)
        before = len(result.failures) + len(result.errors)
        out = super().run(result)
        if len(result.failures) + len(result.errors) > before:
            for s in self._servers:
                sys.stderr.write(f"\n----- ringcast log ({' '.join(s.argv)}) exit="
                                 f"{s.returncode} -----\n{s.log()}\n----- end of log -----\n")
        return out

    def start_server(self, *flags: str, shards: int = 2, check_exit: bool = True) -> Server:
        server = Server(*flags, shards=shards)
        self._servers.append(server)
        self.addCleanup(self._stop_server, server, check_exit)
        server.start()
        return server

    def _stop_server(self, server: Server, check_exit: bool) -> None:
        server.close_clients()
        if server.port is None:
            server.stop()  # it never started listening; the test has failed already
            return
        if server.returncode is not None:
            return  # the test stopped it and checked the exit itself
        was_running = server.running
        rc = server.stop()
        if check_exit and server.proc is not None:
            if not was_running:
                self.fail(f"ringcast died during the test (exit {rc})")
            self.assertEqual(rc, 0, "ringcast did not exit 0 on SIGTERM at the end of the test")

    # ---- assertions shared by several tests ----
    def assertStreamHead(self, stream: SseStream,
                         retry_ms: int = DEFAULT_RETRY_MS,
                         jitter_ms: int = DEFAULT_RETRY_JITTER_MS) -> None:
        self.assertEqual(stream.parser.head, STREAM_HEAD, f"head of {stream.target}")
        first = stream.parser.blocks[0] if stream.parser.blocks else None
        self.assertIsNotNone(first, f"{stream.target}: no retry line")
        self.assertEqual(first.kind, "retry", f"{stream.target}: first block {first.raw!r}")
        self.assertEqual(first.raw, f"retry: {first.retry}\n\n".encode())
        self.assertGreaterEqual(first.retry, retry_ms, f"{stream.target}: {first.raw!r}")
        self.assertLessEqual(first.retry, retry_ms + jitter_ms, f"{stream.target}: {first.raw!r}")

    def assertClosedError(self, conn: HttpConn, resp: Response, status: int, what: str) -> None:
        """An error response: exact status, Content-Length matching the body, Connection:
        close, and the server closes the connection afterwards."""
        self.assertEqual(resp.status, status, f"{what}: {resp}")
        self.assertRegex(resp.head.split(b"\r\n", 1)[0].decode("latin-1"),
                         rf"^HTTP/1\.1 {status} \S", f"{what}: status line")
        self.assertEqual(resp.header("Content-Length"), str(len(resp.body)), f"{what}: {resp}")
        self.assertEqual((resp.header("Connection") or "").lower(), "close", f"{what}: {resp}")
        self.assertTrue(conn.at_eof(), f"{what}: server did not close the connection")
