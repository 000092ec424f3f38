"""docs/deploy/ringcast.service passes `systemd-analyze verify` with no complaint (unknown
keys, bad values), with ExecStart pointed at the binary under test. Skipped where
systemd-analyze is not installed."""

import os
import shutil
import subprocess
import tempfile
import unittest

from ringcast_harness import ringcast_bin

UNIT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                     "docs", "deploy", "ringcast.service"))


class SystemdUnitTest(unittest.TestCase):
    def test_unit_verifies(self):
        if shutil.which("systemd-analyze") is None:
            self.skipTest("systemd-analyze is not installed")
        with open(UNIT) as f:
            text = f.read()
        self.assertIn("ExecStart=/usr/bin/ringcast ", text)
        self.assertIn("LimitNOFILE=", text)
        self.assertNotIn("ExecReload", text.split("# No ExecReload")[0])  # no reload to offer
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "ringcast.service")
            with open(path, "w") as f:
                f.write(text.replace("/usr/bin/ringcast", os.path.abspath(ringcast_bin())))
            done = subprocess.run(["systemd-analyze", "verify", path], capture_output=True,
                                  text=True, timeout=60)
        complaints = [l for l in (done.stdout + done.stderr).splitlines() if "ringcast.service" in l]
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(complaints, [])


if __name__ == "__main__":
    unittest.main()
