"""A cross-origin, credentialed EventSource in a real browser (Debian's Chromium, headless,
through tests/clients/browser.mjs as in test_chromium).

The page comes from a second loopback port (a python http.server started here), so its origin
differs from ringcast's. The page sets the token cookie (cookies are per host, not per port,
so it travels to ringcast) and opens `new EventSource(<ringcast>/sse/news, {withCredentials:
true})` against ringcast started with `--cors-origin <page origin> --jwt-cookie rc_token
--require-subscribe-token`: the stream has to open and receive a published event, which the
browser only allows when the head carries Access-Control-Allow-Origin: <page origin> and
Access-Control-Allow-Credentials: true. A stream to a topic outside the token's scope (403)
must end in readyState CLOSED with no event.
"""

import base64
import hashlib
import hmac
import http.server
import json
import os
import tempfile
import threading
import time
import unittest

from node_clients import Browser
from ringcast_harness import HOST, RingcastTestCase

SECRET = b"chromium-cors-secret-0123456789abcdef"
PAGE = b"<!doctype html><html><head><meta charset=utf-8><title>cors</title></head><body>cross-origin</body></html>"

OPEN_JS = """((url) => {
  const st = window.__rc = window.__rc || {};
  const s = st[url] = { events: [], opens: 0, errors: 0 };
  const es = new EventSource(url, { withCredentials: true });
  s.es = es;
  es.onopen = () => { s.opens += 1; };
  es.onerror = () => { s.errors += 1; s.state = es.readyState; if (es.readyState === 2) s.closed = true; };
  es.onmessage = (e) => { s.events.push({ id: e.lastEventId, data: e.data }); };
  return true;
})(%s)"""


def hs256(claims: dict) -> str:
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    msg = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + b64(json.dumps(claims).encode())
    return msg + "." + b64(hmac.new(SECRET, msg.encode(), hashlib.sha256).digest())


class PageHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, *args):
        pass


class ChromiumCorsTest(RingcastTestCase):

    def test_credentialed_cross_origin_event_source(self):
        page_server = http.server.ThreadingHTTPServer((HOST, 0), PageHandler)
        threading.Thread(target=page_server.serve_forever, daemon=True).start()
        self.addCleanup(page_server.server_close)
        self.addCleanup(page_server.shutdown)
        page_origin = f"http://{HOST}:{page_server.server_address[1]}"

        tmp = tempfile.TemporaryDirectory(prefix="ringcast-cors-")
        self.addCleanup(tmp.cleanup)
        secret_file = os.path.join(tmp.name, "secret")
        with open(secret_file, "wb") as f:
            f.write(SECRET)
        server = self.start_server("--jwt-secret-file", secret_file, "--require-subscribe-token",
                                   "--jwt-cookie", "rc_token", "--cors-origin", page_origin,
                                   "--publish-token", "pub-s3cret")
        browser = Browser(self)
        self.addCleanup(browser.close)
        nav = browser.goto(page_origin + "/")
        self.assertEqual(nav["status"], 200, nav)
        token = hs256({"exp": int(time.time()) + 600, "subscribe": ["news"]})
        browser.eval(f"document.cookie = 'rc_token={token}; path=/'; true")

        url = f"http://{HOST}:{server.port}/sse/news"
        state = f"(() => {{ const s = window.__rc[{json.dumps(url)}]; return {{opens: s.opens, errors: s.errors, events: s.events}}; }})()"
        browser.eval(OPEN_JS % json.dumps(url))
        browser.wait(f"window.__rc[{json.dumps(url)}].opens >= 1", 15,
                     "the credentialed cross-origin EventSource to open", state)
        resp = server.request("POST", "/pub/news", "über origins".encode(),
                              headers=[("Authorization", "Bearer pub-s3cret")])
        self.assertEqual(resp.status, 202, str(resp))
        browser.wait(f"window.__rc[{json.dumps(url)}].events.length >= 1", 15, "the event", state)
        got = browser.eval(state)
        self.assertEqual(got["events"], [{"id": resp.json()["id"], "data": "über origins"}], got)

        denied = f"http://{HOST}:{server.port}/sse/secret"
        browser.eval(OPEN_JS % json.dumps(denied))
        browser.wait(f"window.__rc[{json.dumps(denied)}].closed === true", 15,
                     "the out-of-scope stream to fail", f"window.__rc[{json.dumps(denied)}]")
        denied_state = browser.eval(f"({{opens: window.__rc[{json.dumps(denied)}].opens,"
                                    f" events: window.__rc[{json.dumps(denied)}].events}})")
        self.assertEqual(denied_state, {"opens": 0, "events": []})
        self.assertEqual(server.metrics().sum("ringcast_auth_rejections_total", reason="out_of_scope"), 1)


if __name__ == "__main__":
    unittest.main()
