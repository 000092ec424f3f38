"""The config file, --print-config and --log-level, against the real binary.

  * --print-config prints TOML that --config reads back to the same settings (round trip);
  * a server started from a file uses it, and flags given as well override it;
  * an unknown key or a bad value exits 2 naming the key and its line;
  * --log-level: every line is logfmt (ts=, level=, event=); warn drops info lines but keeps
    the listening line scripts wait for; debug adds debug lines.
"""

import os
import re
import subprocess
import tempfile
import unittest

from ringcast_harness import RingcastTestCase, ringcast_bin

LOGFMT = re.compile(r'^ts=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z level=(error|warn|info|debug) '
                    r'event=[a-z_]+( [a-z_]+=("([^"\\]|\\.)*"|[^ "]*))*$')


def write(text: str) -> str:
    f = tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False)
    f.write(text)
    f.close()
    return f.name


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([ringcast_bin(), *args], stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=10)


class ConfigFileTest(RingcastTestCase):
    def test_print_config_round_trip(self):
        first = run("--print-config", "--heartbeat-ms", "1234", "--enable-admin", "--io", "epoll",
                    "--listen", "127.0.0.1:0", "--slow-consumer", "skip")
        self.assertEqual(first.returncode, 0, first.stderr)
        self.assertIn("heartbeat-ms = 1234\n", first.stdout)
        self.assertIn("enable-admin = true\n", first.stdout)
        path = write(first.stdout)
        self.addCleanup(os.unlink, path)
        second = run("--config", path, "--print-config")
        self.assertEqual(second.returncode, 0, second.stderr)
        self.assertEqual(second.stdout, first.stdout)

    def test_server_uses_the_file_and_flags_override_it(self):
        path = write("heartbeat-ms = 300\nenable-admin = true\nmax-streams = 3\n")
        self.addCleanup(os.unlink, path)
        server = self.start_server("--config", path, "--max-streams", "2")
        # From the file: heartbeats every 300 ms and the admin endpoint.
        stream = server.stream("/sse/cfg")
        stream.wait(lambda s: len(s.parser.comments) >= 2, 10, "two heartbeats")
        resp = server.request("POST", "/admin/drop?topic=other", b"")
        self.assertEqual(resp.status, 200, str(resp))
        # From the flag: a third stream is refused at --max-streams 2, not 3.
        a = server.stream("/sse/cfg2")
        a.wait(lambda s: s.ready, 10, "second stream")
        b = server.stream("/sse/cfg3")
        b.wait(lambda s: s.parser.head is not None, 10, "a refusal")
        self.assertIn(b" 503 ", b.parser.head.split(b"\r\n")[0] + b" ")

    def test_bad_keys_and_values_name_the_key_and_line(self):
        cases = [
            ("history = 10\nno-such-key = 1\n", ":2:1: unknown key 'no-such-key'"),
            ("\nheartbeat-ms = 5\n", ":2:1: key 'heartbeat-ms' must be an integer from 100"),
            ("io = \"kqueue\"\n", ":1:1: key 'io': bad value 'kqueue'"),
            ("enable-admin = \"yes\"\n", ":1:1: key 'enable-admin' must be true or false"),
            ("history = \n", ":1:"),
        ]
        for text, message in cases:
            with self.subTest(text=text):
                path = write(text)
                self.addCleanup(os.unlink, path)
                done = run("--config", path, "--listen", "127.0.0.1:0")
                self.assertEqual(done.returncode, 2, done.stderr)
                self.assertIn(path + message, done.stderr)
                self.assertNotIn("event=listening", done.stderr)

    def test_log_levels(self):
        for level, want, unwanted in (("warn", set(), {"info", "debug"}),
                                      ("info", {"info"}, {"debug"}),
                                      ("debug", {"info", "debug"}, set())):
            with self.subTest(level=level):
                server = self.start_server("--log-level", level)
                server.request("GET", "/healthz")
                server.stop()
                lines = [l for l in server.log().splitlines() if l and not l.startswith("[")]
                for line in lines:
                    self.assertRegex(line, LOGFMT)
                levels = {re.search(r"level=(\w+)", l).group(1) for l in lines
                          if "event=listening" not in l}
                self.assertTrue(want <= levels, f"{level}: {levels}")
                self.assertFalse(unwanted & levels, f"{level}: {levels}")
                self.assertTrue(any("event=listening" in l for l in lines))
                if level != "warn":
                    for event in ("start", "limits", "shutdown", "stopped"):
                        self.assertTrue(any(f"event={event} " in l + " " for l in lines), event)


if __name__ == "__main__":
    unittest.main()
