"""A real redis-server for the scale-out tests and bench: started on a free loopback port with
no persistence (`--save "" --appendonly no`), stopped (and restartable on the same port) by the
caller. Every wait is bounded."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time

from ringcast_harness import HOST, bounded


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class RedisServer:
    def __init__(self, port: int | None = None):
        self.binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not os.access(self.binary, os.X_OK):
            raise RuntimeError("redis-server is missing: run tools/setup.sh")
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="ringcast-redis-")
        self.proc: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    def start(self, timeout: float = 10.0) -> "RedisServer":
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", HOST, "--save", "",
             "--appendonly", "no", "--dir", self.dir, "--protected-mode", "no"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for remaining in bounded(timeout, f"redis-server on port {self.port}", 10_000):
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited: {self.proc.stdout.read()!r}")
            try:
                if self.command("PING") == b"+PONG\r\n":
                    return self
            except OSError:
                pass
            time.sleep(min(0.05, remaining))
        return self  # unreachable

    def command(self, *args: str, timeout: float = 5.0) -> bytes:
        """One command over RESP; returns the raw first reply line (enough for PING/INCR)."""
        out = f"*{len(args)}\r\n".encode()
        for a in args:
            b = a.encode()
            out += b"$%d\r\n%s\r\n" % (len(b), b)
        with socket.create_connection((HOST, self.port), timeout=timeout) as s:
            s.sendall(out)
            data = b""
            for _ in bounded(timeout, f"redis reply to {args[0]}", 1000):
                chunk = s.recv(65536)
                if not chunk or b"\r\n" in data + chunk:
                    data += chunk
                    break
                data += chunk
            return data

    def pipeline(self, commands: list[tuple[bytes | str, ...]], timeout: float = 30.0) -> list:
        """Sends every command at once (binary-safe arguments) and reads one reply per command:
        bytes for a bulk string or status, int, None for nil, a list for an array, and a
        RedisError (returned, not raised) for an error reply."""
        out = bytearray()
        for args in commands:
            out += b"*%d\r\n" % len(args)
            for a in args:
                b = a.encode() if isinstance(a, str) else a
                out += b"$%d\r\n%s\r\n" % (len(b), b)
        with socket.create_connection((HOST, self.port), timeout=timeout) as s:
            s.sendall(out)
            reader = _RespReader(s, timeout)
            return [reader.reply() for _ in commands]

    def xadd(self, key: str, fields: dict[str, bytes | str], entry_id: str = "*") -> str:
        """One XADD with exactly these fields; returns the new entry's id."""
        args: list[bytes | str] = ["XADD", key, entry_id]
        for name, value in fields.items():
            args += [name, value]
        reply = self.pipeline([tuple(args)])[0]
        if not isinstance(reply, bytes):
            raise RuntimeError(f"XADD {key} answered {reply!r}")
        return reply.decode()

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.kill()  # an abrupt outage, as a crash would be
        self.proc.wait(timeout=10)
        self.proc.stdout.close()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class RedisError(Exception):
    pass


class _RespReader:
    """Just enough RESP2 to read replies in a test; every read is bounded by `timeout`."""

    def __init__(self, sock: socket.socket, timeout: float):
        self.sock = sock
        self.buf = b""
        self.deadline = time.monotonic() + timeout

    def _fill(self) -> None:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("redis reply")
        self.sock.settimeout(left)
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("redis closed the connection mid-reply")
        self.buf += chunk

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest
        if kind == b"-":
            return RedisError(rest.decode("utf-8", "replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self._fill()
            value, self.buf = self.buf[:n], self.buf[n + 2:]
            return value
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise ValueError(f"not RESP: {line[:80]!r}")
