"""A real browser: Debian's Chromium (headless, driven by playwright-core over CDP through
tests/clients/browser.mjs; nothing is downloaded) against ringcast on 127.0.0.1.

Checks:
  * Chromium's own EventSource, in a page of ringcast's origin (/healthz), receives published
    events, survives two server-side drops (`POST /admin/drop`, one after the events arrived,
    one right behind a burst of publishes) by reconnecting with Last-Event-ID by itself, and
    ends with exactly the published events: the ids of the 202 answers and the data, in order,
    no duplicate, no loss, no gap event;
  * the live page `GET /?topic=demo` (HTML built into the binary) opens its streams, shows
    each published event as an `<li>` of `<ol id="events">` whose own text is the event data,
    and fills `stat-streams` (>= 1), `stat-events`, `stat-deliveries` (and the charts) from the
    `_stats` topic; a screenshot goes to $RINGCAST_ARTIFACTS/live_page.png (default
    build/test-artifacts); publishing to the reserved `_stats` topic answers 403.

Chromium missing is a failure, not a skip: tools/setup-clients.sh installs it.
"""

import json
import os
import unittest

from node_clients import Browser, artifacts_dir, require_chromium, require_clients
from ringcast_harness import HOST, RingcastTestCase

# Runs in the page: one EventSource, everything it sees recorded in window.__rc.
SUBSCRIBE_JS = """(() => {
  const st = window.__rc = { events: [], gaps: [], opens: 0, errors: 0, states: [] };
  const es = new EventSource(%s);
  window.__es = es;
  es.onopen = () => { st.opens += 1; };
  es.onerror = () => { st.errors += 1; st.states.push(es.readyState); };
  es.onmessage = (e) => { st.events.push({ id: e.lastEventId, data: e.data }); };
  es.addEventListener('gap', (e) => { st.gaps.push(e.data); });
  return true;
})()"""
STATE_JS = ("({opens: window.__rc.opens, errors: window.__rc.errors, states: window.__rc.states,"
            " readyState: window.__es.readyState, received: window.__rc.events.length,"
            " last: window.__rc.events.slice(-3), gaps: window.__rc.gaps})")

# Installed before the live page's own scripts: records the URL of every EventSource that
# opened, without the page having to expose anything.
RECORD_OPENS_JS = """(() => {
  const Original = window.EventSource;
  window.__rcOpened = [];
  window.EventSource = class extends Original {
    constructor(url, init) {
      super(url, init);
      this.addEventListener('open', () => window.__rcOpened.push(String(url)));
    }
  };
})();"""

# The <li>'s own text: its text nodes, not those of elements inside it (an annotation such as
# the event id in a <small> is allowed).
LIVE_DOM_JS = """(() => {
  const own = (el) => Array.from(el.childNodes)
      .filter((n) => n.nodeType === Node.TEXT_NODE).map((n) => n.nodeValue).join('').trim();
  const text = (id) => {
    const el = document.getElementById(id);
    return el ? el.textContent : null;
  };
  const list = document.querySelector('ol#events');
  return {
    list: list !== null,
    items: list ? Array.from(list.querySelectorAll('li')).map(own) : [],
    itemsFull: list ? Array.from(list.querySelectorAll('li')).map((li) => li.textContent) : [],
    stats: { streams: text('stat-streams'), events: text('stat-events'),
             deliveries: text('stat-deliveries'), listeners: text('stat-listeners') },
    bytes: text('stat-bytes'),
    charts: ['streams', 'events', 'deliveries', 'rss'].map(
        (k) => document.querySelectorAll('#chart-' + k + ' polyline').length),
    opened: window.__rcOpened,
  };
})()"""

# A number as the page may format it ("1,234", "12.5").
NUMBER_JS = "Number((%s ?? '').replace(/[\\s,]/g, ''))"


class ChromiumTest(RingcastTestCase):

    def setUp(self):
        require_chromium(self)
        require_clients(self, "playwright-core")

    def test_eventsource_resumes_after_server_drops(self):
        server = self.start_server("--enable-admin", "--retry-ms", "100",
                                   "--retry-jitter-ms", "100", shards=2)
        topic = "browser"
        browser = Browser(self)
        self.addCleanup(browser.close)
        nav = browser.goto(f"http://{HOST}:{server.port}/healthz")
        self.assertEqual(nav["status"], 200, nav)

        browser.eval(SUBSCRIBE_JS % json.dumps(f"/sse/{topic}"))
        browser.wait("window.__rc.opens >= 1", 15, "the EventSource to open", STATE_JS)
        server.wait_metric("ringcast_streams", lambda v: v >= 1, 10,
                           "the browser's stream to be counted")

        published: list[tuple[str, str]] = []

        def publish(n: int) -> None:
            for _ in range(n):
                data = f"browser event {len(published)} ✓"
                published.append((server.publish(topic, data.encode("utf-8")), data))

        def drop() -> None:
            resp = server.request("POST", f"/admin/drop?topic={topic}")
            self.assertEqual(resp.status, 200, f"admin drop answered {resp}")
            self.assertGreaterEqual(resp.json().get("dropped", 0), 1, f"admin drop: {resp}")

        def received(n: int, what: str) -> None:
            browser.wait(f"window.__rc.events.length >= {n}", 20, what, STATE_JS)

        # Round 1: the drop comes after the events arrived.
        publish(8)
        received(8, "the first 8 events")
        drop()
        publish(8)  # most likely while the browser waits to reconnect
        browser.wait("window.__rc.opens >= 2", 15, "the first reconnection", STATE_JS)
        publish(8)
        # Round 2: the drop comes right behind a burst, with events possibly still in flight
        # (the browser has an id by now, so whatever it missed is replayed).
        drop()
        publish(8)
        browser.wait("window.__rc.opens >= 3", 15, "the second reconnection", STATE_JS)
        publish(8)
        received(len(published), f"all {len(published)} events")

        rc = browser.eval("({events: window.__rc.events, gaps: window.__rc.gaps,"
                          " opens: window.__rc.opens})")
        got = [(e["id"], e["data"]) for e in rc["events"]]
        got_ids = [g[0] for g in got]
        dupes = sorted({i for i in got_ids if got_ids.count(i) > 1})
        missing = [i for i, _ in published if i not in got_ids]
        self.assertEqual(got, published, f"duplicates {dupes}, missing {missing}, "
                                         f"opens {rc['opens']}, gaps {rc['gaps']}")
        self.assertEqual(rc["gaps"], [])
        self.assertGreaterEqual(rc["opens"], 3, "expected two reconnections")

    def test_live_page(self):
        server = self.start_server(shards=2)
        browser = Browser(self)
        self.addCleanup(browser.close)
        shot = os.path.join(artifacts_dir(), "live_page.png")
        if os.path.exists(shot):
            os.remove(shot)

        browser.call("init_script", script=RECORD_OPENS_JS)
        nav = browser.goto(f"http://{HOST}:{server.port}/?topic=demo")
        self.assertEqual(nav["status"], 200, nav)
        self.assertTrue((nav["contentType"] or "").startswith("text/html"), nav)

        datas = ["hello from the live page test", "second event ✓ héllo wörld",
                 "third <b>not bold</b>"]
        try:
            # Both the topic's stream and the _stats stream are open (whether the page uses
            # one stream or two) before anything is published: a first connection only gets
            # events published after it.
            browser.wait("window.__rcOpened.some((u) => u.includes('demo')) &&"
                         " window.__rcOpened.some((u) => u.includes('_stats'))", 20,
                         "the page's EventSources to open", "window.__rcOpened")
            for d in datas:
                server.publish("demo", d.encode("utf-8"))
            browser.wait(f"document.querySelectorAll('ol#events li').length >= {len(datas)}",
                         20, f"{len(datas)} <li> in <ol id=events>", LIVE_DOM_JS)
            listeners = NUMBER_JS % "document.getElementById('stat-listeners')?.textContent"
            browser.wait(f"(() => {{ const n = {listeners}; return Number.isFinite(n) && n >= 1; }})()",
                         20, "stat-listeners to count the page's own stream", LIVE_DOM_JS)
            streams = NUMBER_JS % "document.getElementById('stat-streams')?.textContent"
            browser.wait(f"(() => {{ const n = {streams};"
                         f" return Number.isFinite(n) && n >= 1; }})()",
                         20, "stat-streams to show a number >= 1", LIVE_DOM_JS)
        finally:
            try:
                browser.screenshot(shot)
            except AssertionError as e:
                print(f"screenshot failed: {e}")

        dom = browser.eval(LIVE_DOM_JS)
        self.assertTrue(dom["list"], f"no <ol id=events>: {dom}")
        self.assertEqual(dom["items"], datas, f"<li> texts: {dom}")
        for name, value in dom["stats"].items():
            self.assertIsNotNone(value, f"no element stat-{name}: {dom}")
            self.assertRegex(value, r"\d", f"stat-{name} shows no number: {dom}")
        self.assertGreaterEqual(float(value_number(dom["stats"]["streams"])), 1, dom)
        # The page's own stream listens to the topic; bytes per stream means nothing at a
        # handful of streams and is not shown.
        self.assertGreaterEqual(float(value_number(dom["stats"]["listeners"])), 1, dom)
        self.assertEqual(dom["bytes"], "-", dom)
        self.assertEqual(dom["charts"], [1, 1, 1, 1], f"a chart is not drawn: {dom}")
        self.assertTrue(os.path.getsize(shot) > 0, f"empty screenshot {shot}")

        resp = server.request("POST", "/pub/_stats", b"not allowed")
        self.assertEqual(resp.status, 403, f"publish to the reserved _stats topic: {resp}")


def value_number(text: str) -> float:
    return float(text.replace(",", "").strip())


if __name__ == "__main__":
    unittest.main()
