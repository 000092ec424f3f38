"""tools/ringcast-capacity: the plan must follow from its inputs.

A case computed by hand (docs/CAPACITY.md walks through it), the same over HTTP/2 with
--streams-per-connection, and the figures it reads from a bench/compare.py result file
checked against that file.
"""

import json
import os
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
TOOL = os.path.join(ROOT, "tools", "ringcast-capacity")


def run(*args: str) -> dict:
    done = subprocess.run([sys.executable, TOOL, *args, "--json"], capture_output=True, timeout=30)
    if done.returncode != 0:
        raise AssertionError(f"ringcast-capacity {args} exited {done.returncode}: {done.stderr!r}")
    return json.loads(done.stdout)


class CapacityTest(unittest.TestCase):
    def test_hand_computed_case(self):
        # 5,000 B per stream; 8 GiB x 0.5 = 4,294,967,296 B -> 858,993 streams per box.
        # 400 ns per delivery; 4 cores x 0.5 -> 5,000,000 deliveries/s per box.
        # 2,000,000 streams: 2.33 boxes of memory -> 3. A broadcast of 10 events/s to every
        # stream is 20,000,000 deliveries/s: 4.0 boxes of CPU -> 4. CPU binds.
        out = run("--streams", "2000000", "--events-per-s", "10", "--box-ram-gib", "8",
                  "--box-cores", "4", "--headroom", "0.5", "--user-bytes-per-stream", "500",
                  "--kernel-bytes-per-socket", "4500", "--cpu-ns-per-delivery", "400")
        plan = out["plan"]
        self.assertEqual(plan["streams_per_box"], 858993)
        self.assertAlmostEqual(plan["deliveries_per_s_per_box"], 5_000_000)
        self.assertEqual(plan["deliveries_per_s"], 20_000_000)
        self.assertEqual((plan["boxes_by_memory"], plan["boxes_by_cpu"]), (3, 4))
        self.assertEqual((plan["boxes"], plan["binding"]), (4, "cpu"))
        # Few events to many idle streams: memory binds instead (100 events/s to 1,000 each).
        out = run("--streams", "2000000", "--events-per-s", "100", "--subscribers-per-event", "1000",
                  "--box-ram-gib", "8", "--box-cores", "4", "--headroom", "0.5",
                  "--user-bytes-per-stream", "500", "--kernel-bytes-per-socket", "4500",
                  "--cpu-ns-per-delivery", "400")
        self.assertEqual((out["plan"]["boxes"], out["plan"]["binding"]), (3, "memory"))

    def test_http2_streams_per_connection(self):
        # The worked example's round figures over HTTP/2 (docs/CAPACITY.md, "HTTP/2"):
        # 10 streams per connection: 500 + 200 + (4,500 + 2,500) / 10 = 1,400 B per stream;
        # 4,294,967,296 B / 1,400 = 3,067,833 streams per box on 306,784 sockets; 2,000,000
        # streams are 200,000 sockets and 0.65 boxes of memory -> 1 (CPU still needs 4).
        common = ("--streams", "2000000", "--events-per-s", "10", "--box-ram-gib", "8",
                  "--box-cores", "4", "--headroom", "0.5", "--user-bytes-per-stream", "500",
                  "--kernel-bytes-per-socket", "4500", "--cpu-ns-per-delivery", "400",
                  "--h2-connection-bytes", "2500", "--h2-stream-bytes", "200")
        plan = run(*common, "--streams-per-connection", "10")["plan"]
        self.assertEqual(plan["protocol"], "h2")
        self.assertAlmostEqual(plan["bytes_per_stream"], 1400)
        self.assertEqual(plan["streams_per_box"], 3067833)
        self.assertEqual(plan["sockets_per_box"], 306784)
        self.assertEqual(plan["sockets"], 200000)
        self.assertEqual((plan["boxes_by_memory"], plan["boxes_by_cpu"]), (1, 4))
        # One stream per HTTP/2 connection (HAProxy's default http-reuse, for one) costs more
        # than HTTP/1.1: 500 + 200 + 7,000 = 7,700 B; 557,787 streams per box; 3.59 -> 4.
        plan = run(*common, "--streams-per-connection", "1")["plan"]
        self.assertAlmostEqual(plan["bytes_per_stream"], 7700)
        self.assertEqual(plan["streams_per_box"], 557787)
        self.assertEqual((plan["sockets"], plan["boxes_by_memory"]), (2000000, 4))
        # Without the option: HTTP/1.1, a socket per stream, no HTTP/2 overhead (the worked
        # example's 5,000 B).
        plan = run(*common)["plan"]
        self.assertEqual((plan["protocol"], plan["sockets"], plan["bytes_per_stream"]),
                         ("http/1.1", 2000000, 5000))
        # The measured defaults are used when not given.
        out = run("--streams", "1000", "--events-per-s", "1", "--box-ram-gib", "1",
                  "--box-cores", "1", "--streams-per-connection", "40")
        self.assertEqual((out["figures"]["h2_connection_bytes"], out["figures"]["h2_stream_bytes"]),
                         (2500, 200))
        self.assertEqual(out["plan"]["sockets"], 25)
        done = subprocess.run([sys.executable, TOOL, *common, "--streams-per-connection", "0.5"],
                              capture_output=True, timeout=30)
        self.assertEqual(done.returncode, 2, done.stderr)
        self.assertIn(b"--streams-per-connection", done.stderr)

    def test_figures_come_from_the_result_file(self):
        results = {
            "machine": {"cpus": 2, "kernel": "test"}, "size": "small",
            "servers": {"ringcast": [
                {"w1": [{"streams": 10, "user_bytes_per_stream": u, "kernel_bytes_per_socket": k}],
                 "w2": [{"streams": 10, "server_cpu_s": 1.0}, {"streams": 1000, "server_cpu_s": c2}],
                 "w3": {"streams": 1000, "events_published": 500, "server_cpu_s": c3}}
                for u, k, c2, c3 in ((100, 4000, 0.05, 0.25), (300, 4200, 0.04, 0.30),
                                     (200, 4100, 0.06, 0.20))]}}
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(results, f)
        self.addCleanup(os.unlink, f.name)
        common = ("--streams", "1000", "--events-per-s", "1", "--box-ram-gib", "1", "--box-cores", "1",
                  "--results", f.name)
        steady = run(*common)["figures"]
        self.assertEqual(steady["user_bytes_per_stream"], 200)      # medians
        self.assertEqual(steady["kernel_bytes_per_socket"], 4100)
        # W2 at its largest size: 0.05 s / (5 events x 1000 streams) = 10,000 ns (median)
        self.assertAlmostEqual(steady["cpu_ns_per_delivery"], 10_000)
        burst = run(*common, "--pattern", "burst")["figures"]
        # W3: 0.25 s / (500 events x 1000 streams) = 500 ns (median)
        self.assertAlmostEqual(burst["cpu_ns_per_delivery"], 500)

    def test_reads_the_repository_figures(self):
        out = run("--streams", "100000", "--events-per-s", "1", "--box-ram-gib", "16", "--box-cores", "2")
        self.assertGreater(out["figures"]["kernel_bytes_per_socket"], 1000)
        self.assertEqual(out["plan"]["boxes"], 1)


if __name__ == "__main__":
    unittest.main()
