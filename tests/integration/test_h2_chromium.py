"""Chromium's own HTTP/2 against ringcast (issue #17: tested with a client no one here wrote).

Debian's Chromium (headless, playwright-core over CDP, tests/clients/browser.mjs) trusts the
test's CA through a throwaway NSS database (as in test_tls_chromium.py) and loads a page of
ringcast's HTTPS origin (https://127.0.0.1:<port>/healthz). That page opens 40 EventSources to
the same origin.

  * HTTP/2 (the default): Chromium negotiates h2 by ALPN and all 40 EventSources open; every
    one of them receives every published event (the ids of the 202 answers and the data, in
    order, no reconnection, no error); while they are open the server's /metrics shows them
    as HTTP/2 streams (ringcast_h2_streams >= 40) on at most two HTTP/2 connections
    (ringcast_h2_connections), and ringcast_streams == 40.
  * Control, `--h2 off` (ALPN offers only http/1.1): Chromium keeps at most 6 connections per
    origin over HTTP/1.1, and an EventSource holds its connection for good, so exactly 6 of the
    40 open within the same wait and the server holds exactly 6 streams; the other 34 stay
    CONNECTING (no error: the browser queues them). Closing one of the 6 lets exactly one more
    open. The limit is Chromium's fixed per-group socket limit (6 for HTTP/1.1), so the count
    is deterministic; the wait for a 7th is a bounded settle period, not a timing assertion.

/metrics and the publishes go over HTTP/1.1 (python's ssl), so they are not counted as HTTP/2.
Chromium missing is a failure, not a skip: tools/setup-clients.sh installs it.
"""

import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

from node_clients import Browser, require_chromium, require_clients
from ringcast_harness import Metrics, RingcastTestCase, assert_strictly_increasing
from test_tls import get, publish
from tls_pki import Pki

N = 40
CHROMIUM_H1_LIMIT = 6  # Chromium's sockets per group (origin) for HTTP/1.1
TOPIC = "h2page"
EVENTS = 6

# Runs in the page: N EventSources to one URL, what each sees recorded in window.__rc.
OPEN_MANY_JS = """((n, url) => {
  const st = window.__rc = { opens: [], errors: [], events: [], gaps: [], es: [] };
  for (let i = 0; i < n; i++) {
    st.opens.push(0); st.errors.push(0); st.events.push([]);
    const es = new EventSource(url);
    es.onopen = () => { st.opens[i] += 1; };
    es.onerror = () => { st.errors[i] += 1; };
    es.onmessage = (e) => { st.events[i].push([e.lastEventId, e.data]); };
    es.addEventListener('gap', (e) => { st.gaps.push([i, e.data]); });
    st.es.push(es);
  }
  return true;
})(%d, %s)"""
OPENED_JS = "window.__rc.opens.filter((n) => n > 0).length"
STATE_JS = ("({opened: " + OPENED_JS + ", opens: window.__rc.opens, errors: window.__rc.errors,"
            " states: window.__rc.es.map((es) => es.readyState),"
            " received: window.__rc.events.map((e) => e.length), gaps: window.__rc.gaps})")
PROTOCOL_JS = "performance.getEntriesByType('navigation')[0].nextHopProtocol"


class H2ChromiumTest(RingcastTestCase):

    def setUp(self):
        require_chromium(self)
        require_clients(self, "playwright-core")
        if shutil.which("certutil") is None:
            self.fail("certutil missing: tools/setup-clients.sh installs libnss3-tools")
        self.pki = Pki(self)
        self.ctx = self.pki.client_context()  # ALPN http/1.1 only: ours is not an h2 client

    def trusting_home(self) -> dict:
        home = tempfile.mkdtemp(prefix="ringcast-home-")
        self.addCleanup(shutil.rmtree, home, ignore_errors=True)
        nssdb = os.path.join(home, ".pki", "nssdb")
        os.makedirs(nssdb)
        for args in (["-N", "--empty-password"],
                     ["-A", "-t", "C,,", "-n", "ringcast test CA", "-i", self.pki.ca]):
            subprocess.run(["certutil", "-d", f"sql:{nssdb}", *args], check=True,
                           capture_output=True, timeout=30)
        return dict(os.environ, HOME=home)

    def metrics(self, server) -> Metrics:
        raw = get(server.port, self.ctx, "/metrics")
        head, sep, body = raw.partition(b"\r\n\r\n")
        self.assertTrue(sep and head.startswith(b"HTTP/1.1 200"), raw[:300])
        return Metrics(body.decode("utf-8"))

    def open_page(self, server) -> Browser:
        browser = Browser(self, env=self.trusting_home())
        self.addCleanup(browser.close)
        nav = browser.goto(f"https://127.0.0.1:{server.port}/healthz")
        self.assertEqual(nav["status"], 200, nav)
        self.assertTrue(browser.eval("window.isSecureContext"))
        browser.eval(OPEN_MANY_JS % (N, json.dumps(f"/sse/{TOPIC}")))
        return browser

    def test_forty_eventsources_share_one_http2_connection(self):
        server = self.start_server(*self.pki.flags("--heartbeat-ms", "60000"))
        browser = self.open_page(server)
        self.assertEqual(browser.eval(PROTOCOL_JS), "h2", "the page did not load over HTTP/2")
        browser.wait(f"{OPENED_JS} >= {N}", 30, f"all {N} EventSources to open", STATE_JS)

        m = self.metrics(server)
        h2_conns = m.sum("ringcast_h2_connections")
        h2_streams = m.sum("ringcast_h2_streams")
        print(f"\n{N} EventSources open: ringcast_h2_connections={h2_conns:g} "
              f"ringcast_h2_streams={h2_streams:g} ringcast_streams="
              f"{m.sum('ringcast_streams'):g} (Chromium {browser.version})", flush=True)
        self.assertGreaterEqual(h2_conns, 1, "no HTTP/2 connection")
        self.assertLessEqual(h2_conns, 2, f"{N} EventSources of one page should share one "
                                          f"HTTP/2 connection")
        self.assertGreaterEqual(h2_streams, N, f"the {N} EventSources are not HTTP/2 streams")
        self.assertEqual(m.sum("ringcast_streams"), N)

        published = []
        for i in range(EVENTS):
            data = f"h2 event {i}"
            published.append([publish(server.port, self.ctx, TOPIC, data), data])
        assert_strictly_increasing(self, [p[0] for p in published], "published ids")
        browser.wait(f"window.__rc.events.every((e) => e.length >= {EVENTS})", 30,
                     f"{EVENTS} events on each of the {N} EventSources", STATE_JS)

        rc = browser.eval("({events: window.__rc.events, opens: window.__rc.opens,"
                          " errors: window.__rc.errors, gaps: window.__rc.gaps})")
        for i in range(N):
            self.assertEqual(rc["events"][i], published, f"EventSource {i}")
        self.assertEqual(rc["opens"], [1] * N, "an EventSource reconnected")
        self.assertEqual(rc["errors"], [0] * N, "an EventSource saw an error")
        self.assertEqual(rc["gaps"], [])
        # Still all there, still HTTP/2, after the deliveries.
        m = self.metrics(server)
        self.assertGreaterEqual(m.sum("ringcast_h2_streams"), N)
        self.assertLessEqual(m.sum("ringcast_h2_connections"), 2)

    def test_control_http1_opens_only_six(self):
        server = self.start_server(*self.pki.flags("--h2", "off", "--heartbeat-ms", "60000"))
        browser = self.open_page(server)
        self.assertEqual(browser.eval(PROTOCOL_JS), "http/1.1")
        browser.wait(f"{OPENED_JS} >= {CHROMIUM_H1_LIMIT}", 30,
                     f"{CHROMIUM_H1_LIMIT} EventSources to open", STATE_JS)
        # The same wait the HTTP/2 case had for all 40 would change nothing: settle a few
        # seconds, bounded, and check that no 7th opened.
        deadline = time.monotonic() + 3
        for _ in range(100):
            if time.monotonic() >= deadline:
                break
            time.sleep(0.1)
        state = browser.eval(STATE_JS)
        self.assertLess(state["opened"], N, state)
        self.assertEqual(state["opened"], CHROMIUM_H1_LIMIT, state)
        # The rest are queued by the browser, not refused: CONNECTING (0), no error.
        self.assertEqual(sorted(state["states"]).count(0), N - CHROMIUM_H1_LIMIT, state)
        self.assertEqual(state["errors"], [0] * N, state)
        m = self.metrics(server)
        self.assertEqual(m.sum("ringcast_streams"), CHROMIUM_H1_LIMIT)
        self.assertEqual(m.sum("ringcast_h2_connections"), 0)
        self.assertEqual(m.sum("ringcast_h2_streams"), 0)

        # The 6 stream: an event reaches each of them, and none of the 34 waiting ones.
        event_id = publish(server.port, self.ctx, TOPIC, "over http/1.1")
        browser.wait(f"window.__rc.events.filter((e) => e.length >= 1).length"
                     f" >= {CHROMIUM_H1_LIMIT}", 20, "the event on the 6 open streams", STATE_JS)
        rc = browser.eval("({events: window.__rc.events, opens: window.__rc.opens})")
        for i in range(N):
            want = [[event_id, "over http/1.1"]] if rc["opens"][i] else []
            self.assertEqual(rc["events"][i], want, f"EventSource {i}")

        # Closing one of the six frees its connection: exactly one queued EventSource opens.
        browser.eval("(() => { const i = window.__rc.opens.findIndex((n) => n > 0);"
                     " window.__rc.es[i].close(); window.__rc.closed = i; return i; })()")
        browser.wait(f"{OPENED_JS} >= {CHROMIUM_H1_LIMIT + 1}", 20,
                     "a queued EventSource to open once one closed", STATE_JS)
        # The server's count follows (the closed stream leaves, the new one arrives); bounded.
        for _ in range(100):
            m = self.metrics(server)
            if m.sum("ringcast_streams") == CHROMIUM_H1_LIMIT:
                break
            time.sleep(0.1)
        self.assertEqual(m.sum("ringcast_streams"), CHROMIUM_H1_LIMIT)
        self.assertEqual(browser.eval(OPENED_JS), CHROMIUM_H1_LIMIT + 1)


if __name__ == "__main__":
    unittest.main()
