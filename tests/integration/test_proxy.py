"""ringcast behind real reverse proxies: Debian's nginx and HAProxy, started by the test on
loopback with configs rendered from docs/deploy/ (nginx.conf, haproxy.cfg).

Checks, through each proxy:
  * no buffering: an event published after the stream is open arrives through the proxy while
    nothing else is sent (heartbeats off for that part), well within a generous bound;
    publish-to-delivery latency is measured direct and through the proxy and printed (the
    figures in docs/deploy/README.md come from this test; nothing asserts on them);
  * heartbeats keep a stream alive through the proxy for 3x the proxy's idle timeout;
  * a client that reconnects through the proxy with Last-Event-ID gets exactly the events it
    missed;
  * a long poll works through the proxy.
"""

import os
import shutil
import statistics
import subprocess
import tempfile
import time
import unittest

from ringcast_harness import (HOST, RingcastTestCase, SseStream, bounded, free_port, http_request,
                              pump, wait_until)

DEPLOY = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                       "docs", "deploy"))
PROXY_TIMEOUT_S = 2
HEARTBEAT_MS = 500


def render(template: str, values: dict[str, str]) -> str:
    with open(os.path.join(DEPLOY, template)) as f:
        text = f.read()
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    if "@" in "".join(line.split("#")[0] for line in text.splitlines()):
        raise AssertionError(f"{template}: a placeholder was left unrendered")
    return text


class Proxy:
    """nginx or haproxy in the foreground, in its own temp dir, forwarding to ringcast."""

    def __init__(self, kind: str, upstream_port: int, read_timeout_s: int):
        self.kind = kind
        self.dir = tempfile.mkdtemp(prefix=f"ringcast-{kind}-")
        self.port = free_port()
        values = {"RUN_DIR": self.dir, "LISTEN": f"{HOST}:{self.port}",
                  "UPSTREAM": f"{HOST}:{upstream_port}", "READ_TIMEOUT": str(read_timeout_s),
                  "MAXCONN": "4096"}
        if kind == "nginx":
            conf = os.path.join(self.dir, "nginx.conf")
            with open(conf, "w") as f:
                f.write(render("nginx.conf", values))
            # One process, no user switch: the test runs as whoever runs it.
            argv = ["nginx", "-c", conf, "-p", self.dir, "-g", "daemon off; master_process off;"]
        else:
            conf = os.path.join(self.dir, "haproxy.cfg")
            with open(conf, "w") as f:
                f.write(render("haproxy.cfg", values))
            argv = ["haproxy", "-db", "-f", conf]
        self.log_path = os.path.join(self.dir, "stderr.log")
        self.log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.log_file,
                                     stderr=subprocess.STDOUT)
        for _ in bounded(10, f"{kind} to answer /healthz", 1000):
            if self.proc.poll() is not None:
                raise AssertionError(f"{kind} exited {self.proc.returncode}:\n{self.log()}")
            try:
                if http_request(self.port, "GET", "/healthz", timeout=2).status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.05)

    def log(self) -> str:
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")[-4000:]

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


def latency_ms(server, port: int, topic: str, samples: int) -> list[float]:
    """Publish (direct) -> delivery (through `port`) times of `samples` events, one at a time."""
    stream = SseStream(port, f"/sse/{topic}")
    try:
        stream.wait(lambda s: s.ready, 10, f"stream head via {port}")
        out = []
        for i in range(samples):
            t0 = time.perf_counter()
            server.publish(topic, f"x{i}".encode())
            stream.wait(lambda s: len(s.events) == i + 1, 3, f"event {i} via {port}")
            out.append((time.perf_counter() - t0) * 1000)
        return out
    finally:
        stream.close()


class ProxyTest(RingcastTestCase):
    def start_proxy(self, kind: str, upstream_port: int, read_timeout_s: int) -> Proxy:
        if shutil.which(kind) is None:
            self.fail(f"{kind} is not installed (tools/setup.sh installs it)")
        proxy = Proxy(kind, upstream_port, read_timeout_s)
        self.addCleanup(proxy.stop)
        return proxy

    def test_events_arrive_unbuffered(self):
        # Heartbeats and proxy timeouts far away: after the publish nothing else is sent, so
        # a buffering proxy would sit on the event.
        server = self.start_server("--heartbeat-ms", "60000")
        for kind in ("nginx", "haproxy"):
            with self.subTest(proxy=kind):
                proxy = self.start_proxy(kind, server.port, 60)
                stream = SseStream(proxy.port, f"/sse/unbuf-{kind}")
                self.addCleanup(stream.close)
                stream.wait(lambda s: s.ready, 10, f"stream head through {kind}")
                event_id = server.publish(f"unbuf-{kind}", b"now")
                stream.wait(lambda s: len(s.events) == 1, 3, f"the event through {kind}")
                self.assertEqual((stream.events[0].id, stream.events[0].data), (event_id, b"now"))
                direct = latency_ms(server, server.port, f"lat-direct-{kind}", 20)
                proxied = latency_ms(server, proxy.port, f"lat-{kind}", 20)
                print(f"\npublish->delivery over 20 events: direct median "
                      f"{statistics.median(direct):.2f} ms (max {max(direct):.2f}); via {kind} "
                      f"median {statistics.median(proxied):.2f} ms (max {max(proxied):.2f})",
                      flush=True)

    def test_heartbeats_outlive_the_proxy_timeout(self):
        server = self.start_server("--heartbeat-ms", str(HEARTBEAT_MS))
        for kind in ("nginx", "haproxy"):
            with self.subTest(proxy=kind):
                proxy = self.start_proxy(kind, server.port, PROXY_TIMEOUT_S)
                stream = SseStream(proxy.port, f"/sse/hb-{kind}")
                self.addCleanup(stream.close)
                stream.wait(lambda s: s.ready, 10, f"stream head through {kind}")
                hold_s = 3 * PROXY_TIMEOUT_S
                end = time.monotonic() + hold_s
                # Reads until the hold is over; the proxy would close an idle stream after 2 s.
                try:
                    pump([stream], lambda: stream.eof or time.monotonic() >= end, hold_s + 5,
                         f"{hold_s} s of stream through {kind}")
                except TimeoutError:
                    pass
                self.assertFalse(stream.eof, f"{kind} closed the stream: {stream.describe()}\n"
                                             f"{proxy.log()}")
                self.assertGreaterEqual(len(stream.parser.comments), 3,
                                        f"heartbeats through {kind}: {stream.describe()}")
                event_id = server.publish(f"hb-{kind}", b"still here")
                stream.wait(lambda s: len(s.events) == 1, 5, f"an event after the hold ({kind})")
                self.assertEqual(stream.events[0].id, event_id)

    def test_last_event_id_survives_a_reconnect(self):
        server = self.start_server()
        for kind in ("nginx", "haproxy"):
            with self.subTest(proxy=kind):
                proxy = self.start_proxy(kind, server.port, 60)
                topic = f"resume-{kind}"
                first = SseStream(proxy.port, f"/sse/{topic}")
                first.wait(lambda s: s.ready, 10, f"stream head through {kind}")
                seen = [server.publish(topic, f"a{i}".encode()) for i in range(3)]
                first.wait(lambda s: len(s.events) == 3, 5, f"3 events through {kind}")
                self.assertEqual([e.id for e in first.events], seen)
                first.close()  # the client (or the proxy) drops the stream ...
                missed = [server.publish(topic, f"b{i}".encode()) for i in range(4)]
                # ... and reconnects through the proxy, as EventSource would.
                again = SseStream(proxy.port, f"/sse/{topic}", headers=[("Last-Event-ID", seen[-1])])
                self.addCleanup(again.close)
                again.wait(lambda s: len(s.events) >= 4, 5, f"the missed events through {kind}")
                live = server.publish(topic, b"live")
                again.wait(lambda s: len(s.events) >= 5, 5, f"a live event through {kind}")
                self.assertEqual([e.id for e in again.events], missed + [live])
                self.assertEqual([e.data for e in again.events[:4]], [f"b{i}".encode() for i in range(4)])

    def test_long_poll_through_the_proxy(self):
        server = self.start_server("--poll-timeout-ms", "20000")
        for kind in ("nginx", "haproxy"):
            with self.subTest(proxy=kind):
                proxy = self.start_proxy(kind, server.port, 60)
                last = server.publish(f"poll-{kind}", b"old")
                new = server.publish(f"poll-{kind}", b"new")
                resp = http_request(proxy.port, "GET", f"/poll/poll-{kind}?lastEventId={last}")
                self.assertEqual(resp.status, 200, str(resp))
                self.assertEqual(resp.json(), {"events": [{"id": new, "data": "new"}],
                                               "lastEventId": new})


if __name__ == "__main__":
    unittest.main()
