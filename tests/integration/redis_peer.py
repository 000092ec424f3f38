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

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.kill()  # an abrupt outage, as a crash would be
        self.proc.wait(timeout=10)
        self.proc.stdout.close()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
