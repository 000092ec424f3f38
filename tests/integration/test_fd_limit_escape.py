"""One ringcast process holds more streams than RLIMIT_NOFILE and delivers to all of them.

Accepted sockets are io_uring direct descriptors: they live in each ring's fixed-file table,
not in the process fd table. The load generator (tools/load/ringcast-load) does the same on the
client side, so both processes hold 30,000 streams under a 20,000 fd limit. Checks:
  * all 30,000 streams are established (the server's stream gauge says so);
  * the server's process fd table stays small while it holds them;
  * two events published to the one topic reach every stream: 60,000 deliveries, none lost,
    duplicated or reordered (the load generator checks each stream);
  * when the load generator exits, all 30,000 streams close at once and the server frees every
    one. With `--ring-files 4096 --ring-cq-entries 1024` each shard spreads its streams over
    several rings whose completion queues overflow in that mass close: the completions parked
    in the kernel's overflow list must still be reaped (a server that missed them would keep
    those streams forever and never finish draining).
"""

import json
import os
import resource
import subprocess
import tempfile
import threading
import time
import unittest

from ringcast_harness import RingcastTestCase

STREAMS = 30000


def load_binary() -> str:
    path = os.environ.get("RINGCAST_LOAD")
    if not path or not os.access(path, os.X_OK):
        raise RuntimeError("set RINGCAST_LOAD to the ringcast-load binary")
    return path


class FdLimitEscapeTest(RingcastTestCase):

    def test_more_streams_than_rlimit_nofile(self):
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        self.assertLess(soft, STREAMS, "the point is to exceed the fd limit")
        server = self.start_server("--max-streams", "40000", "--ring-files", "4096",
                                   "--ring-cq-entries", "1024", shards=2)
        fd_counts = []
        with tempfile.TemporaryDirectory() as tmp:
            report = os.path.join(tmp, "load.json")
            proc = subprocess.Popen(
                [load_binary(), "run", "--target", f"127.0.0.1:{server.port}", "--streams",
                 str(STREAMS), "--topics", "1", "--events", "2", "--rate", "2", "--timeout",
                 "240", "--json", report, "--quiet"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                text=True)
            streams_seen = 0
            deadline = time.monotonic() + 300
            while proc.poll() is None and time.monotonic() < deadline:
                try:
                    streams_seen = max(streams_seen, server.metrics().sum("ringcast_streams"))
                    fd_counts.append(len(os.listdir(f"/proc/{server.proc.pid}/fd")))
                except (AssertionError, OSError):
                    pass
                time.sleep(0.5)
            if proc.poll() is None:
                proc.kill()
            stderr = proc.stderr.read()
            proc.wait()
            self.assertEqual(proc.returncode, 0, stderr[-2000:])
            with open(report) as f:
                r = json.load(f)
        server.wait_metric("ringcast_streams", lambda v: v == 0, 60, "every stream to be freed")
        server.wait_metric("ringcast_connections", lambda v: v <= 1, 60, "every connection closed")
        self.assertIn("event=ring_added", server.log())
        self.assertEqual(r["streams_connected"], STREAMS)
        self.assertEqual(streams_seen, STREAMS)
        self.assertEqual(r["deliveries_expected"], 2 * STREAMS)
        self.assertEqual(r["deliveries_received"], 2 * STREAMS)
        self.assertEqual((r["lost"], r["duplicates"], r["reordered"]), (0, 0, 0))
        # Listeners, rings, eventfds, stdio: a few dozen at most, however many streams.
        self.assertLess(max(fd_counts), 200, fd_counts[-5:])


if __name__ == "__main__":
    unittest.main()
