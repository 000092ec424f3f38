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
             self.io, "--log-level", "warn", "--max-streams", "1100000", *tls],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_healthy(self.port, self.proc, self.tls)


class Nchan(Server):
    name = "nchan"
    ids = "opaque"
    speaks_tls = True
    capacity = 36000  # 2 workers x worker_rlimit_nofile 20000, less listeners and spare
    MODULE = Path("/usr/lib/nginx/modules/ngx_nchan_module.so")

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
        (self.dir / "nginx.conf").write_text(conf)
        self.proc = subprocess.Popen(
            ["nginx", "-c", str(self.dir / "nginx.conf"), "-p", str(self.dir), "-g", "daemon off;"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_healthy(self.port, self.proc, self.tls)

    def stop(self) -> None:
        self.terminate(signal.SIGQUIT)  # nginx's graceful stop
        shutil.rmtree(self.dir, ignore_errors=True)


class NodeBroadcast(Server):
    name = "node"
    capacity = 19000  # one process: RLIMIT_NOFILE

    def missing(self) -> str | None:
        if shutil.which("node") is None:
            return "node not found (tools/setup.sh installs it through tools/setup-clients.sh)"
        return None

    def start(self) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            ["node", str(ROOT / "bench/peers/node_broadcast.mjs"), "--port", str(self.port)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_healthy(self.port, self.proc)
