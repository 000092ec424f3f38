"""bench/compare.py's servers under test and the machine and process facts it reads from /proc:
how each server is started, stopped and found missing, and what its processes use. Shared by
bench/event_sizes.py and bench/redis_w3.py (through compare)."""

from __future__ import annotations

import os
import platform
import resource
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------------------------------------
# Machine and process measurements
# ---------------------------------------------------------------------------------------------


def machine() -> dict:
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return {"cpus": os.cpu_count(), "cpu_model": model, "kernel": platform.release(),
            "memory_gib": round(mem_kb / 1048576, 1),
            "nofile": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
            "date": time.strftime("%Y-%m-%d %H:%M:%S")}


def process_tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    for _ in range(1000):
        if not todo:
            break
        p = todo.pop()
        pids.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                pass
    return sorted(set(pids))


def rss_bytes(pids: list[int]) -> int:
    total = 0
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def cpu_seconds(pids: list[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
        except OSError:
            pass
    return total


def slab_bytes() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("Slab:"):
            return int(line.split()[1]) * 1024
    return 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(port: int, proc: subprocess.Popen, pki: "Pki | None" = None,
                 timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    scheme = "https" if pki else "http"
    ctx = ssl.create_default_context(cafile=pki.ca) if pki else None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{scheme}://127.0.0.1:{port}/healthz", timeout=1,
                                        context=ctx) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not become healthy")


def h2_get_status(port: int, path: str = "/healthz", timeout: float = 1) -> int | None:
    """GET path over cleartext HTTP/2 with prior knowledge (no upgrade), by hand: the preface,
    an empty SETTINGS, one HEADERS frame (HPACK: static-table names, no Huffman). The answer's
    :status, or None if the port does not answer it over HTTP/2 (for a port that speaks
    HTTP/2 only, as nginx 1.22's `listen ... http2` and Node's http2.createServer do)."""
    authority = f"127.0.0.1:{port}".encode()
    block = (b"\x82\x86" + b"\x04" + bytes([len(path)]) + path.encode()
             + b"\x01" + bytes([len(authority)]) + authority)
    def frame(kind: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
        return len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0) + frame(1, 5, 1, block))
            buf = b""
            for _ in range(64):  # frames read, bounded
                while len(buf) < 9 or len(buf) < 9 + int.from_bytes(buf[:3], "big"):
                    chunk = s.recv(65536)
                    if not chunk:
                        return None
                    buf += chunk
                size, kind, flags = int.from_bytes(buf[:3], "big"), buf[3], buf[4]
                stream = int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
                payload, buf = buf[9:9 + size], buf[9 + size:]
                if kind == 4 and not flags & 1:
                    s.sendall(frame(4, 1, 0))  # SETTINGS ACK
                elif kind == 7 or (kind == 3 and stream == 1):  # GOAWAY, RST_STREAM
                    return None
                elif kind == 1 and stream == 1:
                    if flags & 0x8:  # PADDED
                        payload = payload[1:len(payload) - payload[0]]
                    if flags & 0x20:  # PRIORITY
                        payload = payload[5:]
                    if payload[:1] == b"\x88":  # indexed :status 200
                        return 200
                    return 200 if b"200" in payload[:6] else 0
    except OSError:
        return None
    return None


def wait_h2(port: int, proc: subprocess.Popen, timeout: float = 20) -> None:
    """Wait until `port` answers GET /healthz over cleartext HTTP/2 (prior knowledge)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        if h2_get_status(port) == 200:
            return
        time.sleep(0.1)
    raise RuntimeError("server did not answer over HTTP/2 (prior knowledge)")


def metric_sum(port: int, name: str, pki: "Pki | None" = None) -> float | None:
    """The sum over a ringcast metric's series (its shards), or None if /metrics failed."""
    scheme = "https" if pki else "http"
    ctx = ssl.create_default_context(cafile=pki.ca) if pki else None
    try:
        with urllib.request.urlopen(f"{scheme}://127.0.0.1:{port}/metrics", timeout=10,
                                    context=ctx) as r:
            text = r.read().decode()
    except OSError:
        return None
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and line[len(name):len(name) + 1] in (" ", "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


class Pki:
    """A throwaway CA and a server certificate it signed (localhost, 127.0.0.1), made with the
    `openssl` command line in a temporary directory. ECDSA P-256, as most TLS sites serve now:
    its signatures cost the server far less per handshake than RSA-2048's."""

    EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="ringcast-bench-pki-"))
        self.openssl("req", "-x509", *self.EC, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
                     "-subj", "/CN=ringcast bench CA", "-addext", "basicConstraints=critical,CA:TRUE",
                     "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        self.openssl("req", *self.EC, "-keyout", "server.key", "-out", "server.csr", "-subj",
                     "/CN=localhost")
        (self.dir / "server.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                                             "extendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n")
        self.openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                     "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "server.ext")
        self.ca, self.cert, self.key = (str(self.dir / n) for n in ("ca.pem", "server.pem", "server.key"))

    def openssl(self, *args: str) -> None:
        subprocess.run(["openssl", *args], cwd=self.dir, check=True, capture_output=True, timeout=60)

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Servers under test
# ---------------------------------------------------------------------------------------------


class Server:
    name = "?"
    ids = "ringcast"   # how the load generator treats ids
    capacity = 10**9   # streams it can hold on this box (fd limits)
    speaks_tls = False  # can serve HTTPS here (--tls runs)
    tls: Pki | None = None  # set: the next start() serves HTTPS with this certificate
    speaks_h2 = False  # can serve cleartext HTTP/2 with prior knowledge here (--protocols h2)
    h2 = 0  # set: the next start() serves HTTP/2, this many streams to a connection
    h2_how = ""  # what the server does over HTTP/2, for the report

    @property
    def pub_port(self) -> int:
        """Where the load generator's (HTTP/1.1) publisher connects: the stream port, unless
        the server's HTTP/2 port speaks nothing else."""
        return self.port

    def h2_capacity(self) -> int:
        """Streams it can hold over HTTP/2 on this box: its connection limit times the streams
        on each connection (the kernel fd limit bounds connections, not streams)."""
        return self.capacity * max(1, self.h2)

    def alive(self) -> bool:
        return getattr(self, "proc", None) is not None and self.proc.poll() is None

    def exit_note(self) -> str:
        """Why the process ended (exit status or signal), and the last of its own log."""
        rc = self.proc.returncode
        how = f"killed by signal {-rc}" if rc is not None and rc < 0 else f"exit status {rc}"
        return f"{how}{self.log_tail()}"

    def log_tail(self) -> str:
        return ""

    def start(self) -> None: ...

    def missing(self) -> str | None:
        """Why this server cannot run on this machine (not installed), or None."""
        return None

    def stop(self) -> None:
        self.terminate(signal.SIGTERM)

    def terminate(self, sig: int) -> None:
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def pids(self) -> list[int]:
        return process_tree(self.proc.pid)


class Ringcast(Server):
    speaks_tls = True
    speaks_h2 = True
    h2_how = ("its own HTTP/2 framing on the same cleartext port as HTTP/1.1 (prior knowledge "
              "detected from the preface), `--h2-max-streams` 256 (or S if larger)")

    def __init__(self, binary: Path, io: str):
        self.binary, self.io = binary, io
        self.name = "ringcast" if io == "uring" else "ringcast-epoll"
        if io == "epoll":
            self.capacity = 18000  # the process fd table, shared by the shards

    def missing(self) -> str | None:
        return None if self.binary.exists() else f"{self.binary} not built (tools/build.sh Release)"

    def start(self) -> None:
        self.port = free_port()
        tls = ["--tls-cert", self.tls.cert, "--tls-key", self.tls.key] if self.tls else []
        self.proc = subprocess.Popen(
            [str(self.binary), "--listen", f"127.0.0.1:{self.port}", "--shards", "2", "--io",
             self.io, "--log-level", "warn", "--max-streams", "1100000", *tls,
             *(["--h2-max-streams", str(self.h2)] if self.h2 > 256 else [])],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_healthy(self.port, self.proc, self.tls)
        if self.h2 and not self.tls:
            wait_h2(self.port, self.proc)


class Nchan(Server):
    name = "nchan"
    ids = "opaque"
    speaks_tls = True
    speaks_h2 = True
    capacity = 36000  # 2 workers x worker_rlimit_nofile 20000, less listeners and spare
    MODULE = Path("/usr/lib/nginx/modules/ngx_nchan_module.so")
    h2_how = ("nginx 1.22's `listen ... http2` (cleartext, prior knowledge only: that port "
              "speaks nothing else), `http2_max_concurrent_streams` 128 (or S if larger); "
              "publishes to a second, HTTP/1.1 listener of the same server block. A stream is "
              "a request with its own pool and fake connection inside the HTTP/2 connection "
              "(not a worker_connections slot)")
    h2_pub_port = 0

    @property
    def pub_port(self) -> int:
        return self.h2_pub_port if self.h2 else self.port

    def log_tail(self) -> str:
        try:
            lines = (self.dir / "error.log").read_text().strip().splitlines()
        except OSError:
            return ""
        return f"; error.log: {lines[-1][-300:]}" if lines else ""

    def missing(self) -> str | None:
        if shutil.which("nginx") is None:
            return "nginx not found (tools/setup.sh installs nginx-light and libnginx-mod-nchan)"
        if not self.MODULE.exists():
            return f"{self.MODULE} not found (tools/setup.sh installs libnginx-mod-nchan)"
        return None

    def start(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="ringcast-nchan-"))
        conf = (ROOT / "bench/peers/nchan.conf.in").read_text()
        conf = conf.replace("@DIR@", str(self.dir)).replace("@PORT@", str(self.port))
        conf = conf.replace("load_module modules/ngx_nchan_module.so;",
                            "load_module /usr/lib/nginx/modules/ngx_nchan_module.so;")
        if self.tls:
            # nginx's own TLS (nginx-light has the ssl module): the same versions, ALPN and
            # session tickets as ringcast's.
            listen = f"listen 127.0.0.1:{self.port} reuseport backlog=4096;"
            assert listen in conf
            conf = conf.replace(listen, (
                f"listen 127.0.0.1:{self.port} ssl reuseport backlog=4096;\n"
                f"    ssl_certificate {self.tls.cert};\n    ssl_certificate_key {self.tls.key};\n"
                "    ssl_protocols TLSv1.2 TLSv1.3;\n    ssl_session_tickets on;"))
        elif self.h2:
            # nginx 1.22: `http2` on a cleartext listener makes it HTTP/2 with prior knowledge
            # only; the publisher's HTTP/1.1 goes to a second listener of the same server.
            self.h2_pub_port = free_port()
            listen = f"listen 127.0.0.1:{self.port} reuseport backlog=4096;"
            assert listen in conf
            conf = conf.replace(listen, (
                f"listen 127.0.0.1:{self.port} http2 reuseport backlog=4096;\n"
                f"    listen 127.0.0.1:{self.h2_pub_port} reuseport backlog=4096;\n"
                f"    http2_max_concurrent_streams {max(128, self.h2)};"))
        (self.dir / "nginx.conf").write_text(conf)
        self.proc = subprocess.Popen(
            ["nginx", "-c", str(self.dir / "nginx.conf"), "-p", str(self.dir), "-g", "daemon off;"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_healthy(self.pub_port, self.proc, self.tls)
        if self.h2:
            wait_h2(self.port, self.proc)

    def stop(self) -> None:
        self.terminate(signal.SIGQUIT)  # nginx's graceful stop
        shutil.rmtree(self.dir, ignore_errors=True)


class NodeBroadcast(Server):
    name = "node"
    capacity = 19000  # one process: RLIMIT_NOFILE
    speaks_h2 = True
    h2_how = ("bench/peers/node_broadcast_h2.mjs: the same broadcast code on "
              "`http2.createServer` (cleartext, prior knowledge only; compatibility API, "
              "Node's default settings: no stream limit, 10 MB per session, the default heap), "
              "publishes to an `http.createServer` listener of the same process")
    h2_pub_port = 0
    log: Path | None = None

    @property
    def pub_port(self) -> int:
        return self.h2_pub_port if self.h2 else self.port

    def missing(self) -> str | None:
        if shutil.which("node") is None:
            return "node not found (tools/setup.sh installs it through tools/setup-clients.sh)"
        return None

    def log_tail(self) -> str:
        try:
            lines = [x.strip() for x in self.log.read_text(errors="replace").splitlines()
                     if x.strip() and " on 127.0.0.1" not in x] if self.log else []
        except OSError:
            return ""
        fatal = [x for x in lines if "FATAL" in x or "Error" in x]
        return f"; stderr: {(fatal[0] if fatal else ' | '.join(lines[-3:]))[-300:]}" if lines else ""

    def start(self) -> None:
        self.port = free_port()
        if not self.h2:
            self.proc = subprocess.Popen(
                ["node", str(ROOT / "bench/peers/node_broadcast.mjs"), "--port", str(self.port)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_healthy(self.port, self.proc)
            return
        self.h2_pub_port = free_port()
        fd, name = tempfile.mkstemp(prefix="ringcast-node-h2-", suffix=".log")
        os.close(fd)
        self.log = Path(name)
        with self.log.open("w") as err:
            self.proc = subprocess.Popen(
                ["node", str(ROOT / "bench/peers/node_broadcast_h2.mjs"), "--port", str(self.port),
                 "--pub-port", str(self.h2_pub_port)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        wait_healthy(self.h2_pub_port, self.proc)
        wait_h2(self.port, self.proc)

    def stop(self) -> None:
        super().stop()
        if self.log:
            self.log.unlink(missing_ok=True)
            self.log = None
