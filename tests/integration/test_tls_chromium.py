"""Headless Chromium over HTTPS: the test's own CA is trusted the way a real desktop trusts a
private CA (a certificate authority in the user's NSS database, made with certutil in a
throwaway HOME), and the browser's EventSource on https://localhost:<port> receives published
events with their ids, then resumes with Last-Event-ID after the server drops the stream.
No certificate error is ignored: a page that fails verification fails the test.
"""

import json
import os
import subprocess
import tempfile
import shutil
import unittest

from node_clients import Browser, BrowserError, require_chromium, require_clients
from ringcast_harness import RingcastTestCase
from test_chromium import STATE_JS, SUBSCRIBE_JS
from tls_pki import Pki


class TlsChromiumTest(RingcastTestCase):

    def setUp(self):
        require_chromium(self)
        require_clients(self, "playwright-core")
        if shutil.which("certutil") is None:
            self.fail("certutil missing: tools/setup-clients.sh installs libnss3-tools")

    def trusting_home(self, pki: Pki) -> dict:
        home = tempfile.mkdtemp(prefix="ringcast-home-")
        self.addCleanup(shutil.rmtree, home, ignore_errors=True)
        nssdb = os.path.join(home, ".pki", "nssdb")
        os.makedirs(nssdb)
        for args in (["-N", "--empty-password"],
                     ["-A", "-t", "C,,", "-n", "ringcast test CA", "-i", pki.ca]):
            subprocess.run(["certutil", "-d", f"sql:{nssdb}", *args], check=True,
                           capture_output=True, timeout=30)
        return dict(os.environ, HOME=home)

    def test_eventsource_over_https_with_a_trusted_private_ca(self):
        pki = Pki(self)
        server = self.start_server(*pki.flags("--enable-admin", "--retry-ms", "100",
                                              "--retry-jitter-ms", "100"))
        browser = Browser(self, env=self.trusting_home(pki))
        self.addCleanup(browser.close)
        origin = f"https://127.0.0.1:{server.port}"  # the certificate names the IP too
        nav = browser.goto(f"{origin}/healthz")
        self.assertEqual(nav["status"], 200, nav)
        self.assertTrue(browser.eval("window.isSecureContext"))

        browser.eval(SUBSCRIBE_JS % json.dumps("/sse/secure"))
        browser.wait("window.__rc.opens >= 1", 15, "the EventSource to open", STATE_JS)
        ctx = pki.client_context()
        from test_tls import publish, TlsClient  # the HTTPS client helpers
        published = [(publish(server.port, ctx, "secure", f"over tls {i}"), f"over tls {i}")
                     for i in range(5)]
        browser.wait("window.__rc.events.length >= 5", 20, "5 events", STATE_JS)

        c = TlsClient(server.port, ctx)
        self.addCleanup(c.close)
        c.send("POST /admin/drop?topic=secure HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n")
        c.read_until(b"dropped")
        published += [(publish(server.port, ctx, "secure", f"after drop {i}"), f"after drop {i}")
                      for i in range(5)]
        browser.wait("window.__rc.opens >= 2", 15, "the reconnection", STATE_JS)
        browser.wait("window.__rc.events.length >= 10", 20, "all 10 events", STATE_JS)
        rc = browser.eval("({events: window.__rc.events, gaps: window.__rc.gaps})")
        self.assertEqual([(e["id"], e["data"]) for e in rc["events"]], published)
        self.assertEqual(rc["gaps"], [])

    def test_an_untrusted_ca_fails_verification(self):
        # The control: the same server without the CA in the browser's trust store.
        pki = Pki(self)
        server = self.start_server(*pki.flags())
        home = tempfile.mkdtemp(prefix="ringcast-home-")
        self.addCleanup(shutil.rmtree, home, ignore_errors=True)
        browser = Browser(self, env=dict(os.environ, HOME=home))
        self.addCleanup(browser.close)
        with self.assertRaisesRegex(BrowserError, "ERR_CERT_AUTHORITY_INVALID"):
            browser.goto(f"https://127.0.0.1:{server.port}/healthz")


if __name__ == "__main__":
    unittest.main()
