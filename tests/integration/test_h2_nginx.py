"""nginx serving HTTP/2 over TLS in front of ringcast, with the shipped config
docs/deploy/nginx-h2.conf rendered on loopback (the test's own CA, tls_pki.Pki), and an
HTTP/2 client no one here wrote (the `h2` package, h2_client.H2Client).

  * ALPN picks h2 at nginx; 20 SSE streams share that one client connection; every stream
    receives every published event (published through nginx over the same connection): the
    ids of the 202 answers and the data, in order;
  * what it costs behind nginx: nginx proxies over HTTP/1.1 only, so ringcast holds one
    HTTP/1.1 connection per stream (ringcast_streams == 20, ringcast_connections >= 20,
    ringcast_h2_connections == 0). docs/deploy/README.md says when that is good enough.

nginx missing is a failure, not a skip: tools/setup.sh installs it.
"""

import os
import shutil
import subprocess
import tempfile
import time
import unittest

from h2_client import H2Client, h2_publish, h2_tls_context
from ringcast_harness import HOST, RingcastTestCase, bounded, free_port
from test_proxy import render
from tls_pki import Pki

STREAMS = 20
TOPICS = 4
EVENTS_PER_TOPIC = 3


class NginxH2:
    """nginx in the foreground, one process, with nginx-h2.conf rendered into a temp dir."""

    def __init__(self, upstream_port: int, pki: Pki, read_timeout_s: int = 60):
        self.dir = tempfile.mkdtemp(prefix="ringcast-nginx-h2-")
        self.port = free_port()
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(render("nginx-h2.conf", {
                "RUN_DIR": self.dir, "LISTEN": f"{HOST}:{self.port}",
                "UPSTREAM": f"{HOST}:{upstream_port}", "READ_TIMEOUT": str(read_timeout_s),
                "MAXCONN": "4096", "CERT": pki.cert, "KEY": pki.key}))
        self.log_path = os.path.join(self.dir, "stderr.log")
        self.log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            ["nginx", "-c", conf, "-p", self.dir, "-g", "daemon off; master_process off;"],
            stdin=subprocess.DEVNULL, stdout=self.log_file, stderr=subprocess.STDOUT)
        ctx = h2_tls_context(pki.ca)
        for _ in bounded(10, "nginx to answer /healthz over HTTP/2", 1000):
            if self.proc.poll() is not None:
                raise AssertionError(f"nginx exited {self.proc.returncode}:\n{self.log()}")
            try:
                c = H2Client(self.port, tls=ctx, timeout=2)
                try:
                    if c.request("GET", "/healthz").status == 200:
                        break
                finally:
                    c.close()
            except (OSError, AssertionError, TimeoutError):
                pass
            time.sleep(0.05)

    def log(self) -> str:
        out = []
        for path in (self.log_path, os.path.join(self.dir, "nginx-error.log")):
            if os.path.exists(path):
                with open(path, "rb") as f:
                    out.append(f.read().decode("utf-8", "replace")[-3000:])
        return "\n".join(out)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log_file.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class H2NginxTest(RingcastTestCase):

    def test_streams_share_one_client_connection_through_nginx(self):
        if shutil.which("nginx") is None:
            self.fail("nginx is not installed (tools/setup.sh installs it)")
        pki = Pki(self)
        server = self.start_server()
        proxy = NginxH2(server.port, pki)
        self.addCleanup(proxy.stop)

        c = H2Client(proxy.port, tls=h2_tls_context(pki.ca))  # fails unless ALPN picked h2
        self.addCleanup(c.close)
        topics = [f"nx{t}" for t in range(TOPICS)]
        streams = [c.get(f"/sse/{topics[i % TOPICS]}") for i in range(STREAMS)]
        c.pump(lambda: all(s.sse.retry is not None or s.done for s in streams), 15,
               f"{STREAMS} streams through nginx")
        for s in streams:
            self.assertEqual(s.status, 200, s.describe())
            self.assertFalse(s.done, s.describe())
            self.assertEqual(s.header("content-type"), "text/event-stream", s.describe())

        server.wait_metric("ringcast_streams", lambda v: v == STREAMS, 10,
                           f"{STREAMS} streams at ringcast")
        m = server.metrics()
        print(f"\n{STREAMS} HTTP/2 streams on one connection to nginx: ringcast_connections="
              f"{m.sum('ringcast_connections'):g} ringcast_h2_connections="
              f"{m.sum('ringcast_h2_connections'):g}", flush=True)
        self.assertGreaterEqual(m.sum("ringcast_connections"), STREAMS)  # one upstream each
        self.assertEqual(m.sum("ringcast_h2_connections"), 0)            # nginx: HTTP/1.1 only

        published = {t: [] for t in topics}
        for n in range(EVENTS_PER_TOPIC):
            for t in topics:
                data = f"{t} via nginx {n}".encode()
                published[t].append((h2_publish(self, c, t, data), data))
        c.pump(lambda: all(len(s.events) >= EVENTS_PER_TOPIC or s.done for s in streams), 15,
               "every event through nginx")
        for i, s in enumerate(streams):
            self.assertEqual([(e.id, e.data) for e in s.events], published[topics[i % TOPICS]],
                             s.describe())
        self.assertIsNone(c.goaway)
        self.assertTrue(proxy.proc.poll() is None, f"nginx exited:\n{proxy.log()}")


if __name__ == "__main__":
    unittest.main()
