"""Access control against the real binary: publish tokens, subscriber JWTs and CORS.

Tokens are minted here, independently of the server's code: HS256 with python's hmac,
RS256 and ES256 with keys made by the `openssl` CLI and signatures by `openssl dgst -sign`
(ES256's DER signature turned into JOSE's raw r || s in python). Checks:
  * --publish-token: a publish without it or with another bearer is 401 (WWW-Authenticate,
    Connection: close); with it (curl) 202, and a subscriber receives the event;
  * subscriber JWTs (HS256) through Authorization: Bearer, the --jwt-cookie cookie and
    ?access_token=, each receiving a published event; no token with
    --require-subscribe-token, an expired token, alg none, a bad signature are 401 (the
    detail says which); a topic outside the token's scope is 403; a token 10 s past exp is
    still good within the 30 s leeway; /metrics counts each refusal by reason;
  * RS256 and ES256 tokens verify against --jwt-public-key; an HS256 token "signed" with the
    public key's PEM text (the key-confusion attack) is 401 wrong_alg;
  * a JWT's publish claim (a topic list) lets it publish inside the list only (403 outside);
    POST /admin/drop needs publish rights; the debug log line of a refusal shows
    access_token=REDACTED, never the token;
  * CORS: a preflight from a listed origin is 204 with the allowed methods and headers, from
    another origin 403; streams and answers to a listed origin carry
    Access-Control-Allow-Origin: <origin> and Access-Control-Allow-Credentials: true.
"""

import base64
import hashlib
import hmac
import http.client
import json
import os
import subprocess
import tempfile
import time
import unittest

from ringcast_harness import HOST, HttpConn, RingcastTestCase, SseStream, check_publish_response

SECRET = b"integration-secret-0123456789abcdef"
ORIGIN = "http://127.0.0.1:18080"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def signing_input(alg: str, claims: dict) -> str:
    header = b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    return header + "." + b64url(json.dumps(claims).encode())


def hs256(claims: dict, secret: bytes = SECRET) -> str:
    msg = signing_input("HS256", claims)
    return msg + "." + b64url(hmac.new(secret, msg.encode(), hashlib.sha256).digest())


def der_to_raw(der: bytes) -> bytes:
    """ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } -> r || s, 32 bytes each."""
    assert der[0] == 0x30, der.hex()
    pos = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7F)
    out = b""
    for _ in range(2):
        assert der[pos] == 0x02, der.hex()
        n = der[pos + 1]
        out += der[pos + 2:pos + 2 + n].lstrip(b"\x00").rjust(32, b"\x00")
        pos += 2 + n
    return out


class Keys:
    """An RSA and an EC P-256 key pair made by the openssl CLI in a temporary directory."""

    def __init__(self, directory: str):
        self.dir = directory
        self.rsa = self._pair("rsa", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"])
        self.ec = self._pair("ec", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"])
        self.secret_file = os.path.join(directory, "secret")
        with open(self.secret_file, "wb") as f:
            f.write(SECRET + b"\n")

    def _pair(self, name: str, args: list[str]) -> tuple[str, str]:
        private = os.path.join(self.dir, f"{name}.key")
        public = os.path.join(self.dir, f"{name}.pub")
        subprocess.run(["openssl", "genpkey", *args, "-out", private], check=True,
                       capture_output=True, timeout=60)
        subprocess.run(["openssl", "pkey", "-in", private, "-pubout", "-out", public],
                       check=True, capture_output=True, timeout=60)
        return private, public

    def sign(self, alg: str, claims: dict) -> str:
        msg = signing_input(alg, claims)
        private = self.rsa[0] if alg == "RS256" else self.ec[0]
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", private],
                             input=msg.encode(), check=True, capture_output=True,
                             timeout=60).stdout
        if alg == "ES256":
            sig = der_to_raw(sig)
        return msg + "." + b64url(sig)


def claims(**extra) -> dict:
    out = {"exp": int(time.time()) + 600}
    out.update(extra)
    return out


class AuthTest(RingcastTestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="ringcast-auth-")
        cls.keys = Keys(cls.tmp.name)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    # ---- helpers ----
    def refused(self, resp, status: int, detail: str, challenge: str | None = None) -> None:
        self.assertEqual(resp.status, status, str(resp))
        self.assertIn(detail.encode(), resp.body, str(resp))
        self.assertEqual(resp.header("Connection"), "close", str(resp))
        if challenge is not None:
            self.assertIn(challenge, resp.header("WWW-Authenticate") or "", str(resp))

    def stream(self, server, target: str, headers=()) -> SseStream:
        s = server._track(SseStream(server.port, target, headers))
        s.wait(lambda st: st.ready, 10, f"the stream {target}")
        return s

    def stream_refused(self, server, target: str, headers=()):
        with HttpConn(server.port) as conn:
            return conn.request("GET", target, headers=headers)

    def publish(self, server, topic: str, data: bytes, token: str) -> str:
        resp = server.request("POST", f"/pub/{topic}", data,
                              headers=[("Authorization", f"Bearer {token}")])
        check_publish_response(resp, topic)
        return resp.json()["id"]

    def rejections(self, server) -> dict[str, float]:
        m = server.metrics()
        return {r: m.sum("ringcast_auth_rejections_total", reason=r)
                for r in m.label_values("ringcast_auth_rejections_total", "reason")}

    # ---- publish token ----
    def test_publish_token(self):
        server = self.start_server("--publish-token", "pub-s3cret")
        self.refused(server.request("POST", "/pub/news", b"x"), 401, "publishing needs",
                     'Bearer realm="ringcast"')
        self.refused(server.request("POST", "/pub/news", b"x",
                                    headers=[("Authorization", "Bearer pub-s3creT")]),
                     401, "wrong publish token", 'error_description="wrong_token"')
        # Subscribing stays open: no JWT key is configured.
        sub = self.stream(server, "/sse/news")
        out = subprocess.run(
            ["curl", "-sS", "--max-time", "10", "-H", "Authorization: Bearer pub-s3cret",
             "--data-binary", "hello", f"http://{HOST}:{server.port}/pub/news"],
            capture_output=True, timeout=20, check=True)
        event_id = json.loads(out.stdout)["id"]
        sub.wait(lambda s: len(s.events) == 1, 10, "the published event")
        self.assertEqual((sub.events[0].id, sub.events[0].data), (event_id, b"hello"))
        counts = self.rejections(server)
        self.assertEqual((counts["missing"], counts["wrong_token"]), (1, 1), counts)

    # ---- subscriber JWTs, HS256 ----
    def test_subscribe_token_sources_and_refusals(self):
        server = self.start_server("--jwt-secret-file", self.keys.secret_file,
                                   "--require-subscribe-token", "--jwt-cookie", "rc_token")
        reader = hs256(claims(subscribe=["news.*"]))
        by_header = self.stream(server, "/sse/news.eu", [("Authorization", f"Bearer {reader}")])
        by_cookie = self.stream(server, "/sse/news.eu", [("Cookie", f"a=b; rc_token={reader}")])
        by_query = self.stream(server, f"/sse/news.eu?access_token={reader}")
        # 10 s past exp, inside the default 30 s leeway.
        skewed = hs256({"exp": int(time.time()) - 10, "subscribe": ["news.eu"]})
        by_skew = self.stream(server, "/sse/news.eu", [("Authorization", f"Bearer {skewed}")])
        writer = hs256(claims(publish=["news.*"]))
        event_id = self.publish(server, "news.eu", b"for readers", writer)
        for s in (by_header, by_cookie, by_query, by_skew):
            s.wait(lambda st: len(st.events) == 1, 10, f"the event on {s.target[:40]}")
            self.assertEqual((s.events[0].id, s.events[0].data), (event_id, b"for readers"))

        self.refused(self.stream_refused(server, "/sse/news.eu"), 401,
                     "needs a token to subscribe", 'Bearer realm="ringcast"')
        self.refused(self.stream_refused(server, "/sse/sport", [("Authorization", f"Bearer {reader}")]),
                     403, "does not grant this topic", 'error="insufficient_scope"')
        self.refused(self.stream_refused(server, "/sse?topic=news.eu&topic=sport",
                                         [("Authorization", f"Bearer {reader}")]),
                     403, "does not grant this topic")
        expired = hs256({"exp": int(time.time()) - 120, "subscribe": ["news.*"]})
        self.refused(self.stream_refused(server, f"/sse/news.eu?access_token={expired}"),
                     401, "expired", 'error_description="expired"')
        none = (b64url(b'{"alg":"none","typ":"JWT"}') + "."
                + b64url(json.dumps(claims(subscribe=["*"])).encode()) + ".")
        self.refused(self.stream_refused(server, "/sse/news.eu", [("Authorization", f"Bearer {none}")]),
                     401, "alg none", 'error_description="alg_none"')
        forged = hs256(claims(subscribe=["*"]), secret=b"not-the-secret-0123456789abcdef!")
        self.refused(self.stream_refused(server, "/sse/news.eu", [("Cookie", f"rc_token={forged}")]),
                     401, "signature", 'error_description="bad_signature"')
        # A reader's token does not publish.
        self.refused(server.request("POST", "/pub/news.eu", b"x",
                                    headers=[("Authorization", f"Bearer {reader}")]),
                     403, "does not grant publishing")
        self.refused(server.request("POST", "/pub/sport", b"x",
                                    headers=[("Authorization", f"Bearer {writer}")]),
                     403, "does not grant publishing")
        counts = self.rejections(server)
        for reason, n in {"missing": 1, "out_of_scope": 4, "expired": 1, "alg_none": 1,
                          "bad_signature": 1, "malformed": 0}.items():
            self.assertEqual(counts[reason], n, f"{reason}: {counts}")

    # ---- RS256, ES256 and the key-confusion attack ----
    def test_rs256_and_es256_public_keys(self):
        for alg, pair in (("RS256", self.keys.rsa), ("ES256", self.keys.ec)):
            with self.subTest(alg=alg):
                server = self.start_server("--jwt-public-key", pair[1])
                token = self.keys.sign(alg, claims(subscribe=["t"], publish=True))
                sub = self.stream(server, "/sse/t", [("Authorization", f"Bearer {token}")])
                event_id = self.publish(server, "t", alg.encode(), token)
                sub.wait(lambda s: len(s.events) == 1, 10, f"the {alg} event")
                self.assertEqual(sub.events[0].id, event_id)
                with open(pair[1], "rb") as f:
                    confused = hs256(claims(subscribe=["t"]), secret=f.read())
                self.refused(self.stream_refused(server, "/sse/t", [("Authorization", f"Bearer {confused}")]),
                             401, "alg does not match", 'error_description="wrong_alg"')
                other = "ES256" if alg == "RS256" else "RS256"
                wrong_type = self.keys.sign(other, claims(subscribe=["t"]))
                self.refused(self.stream_refused(server, "/sse/t", [("Authorization", f"Bearer {wrong_type}")]),
                             401, "alg does not match")
                # No --require-subscribe-token: a stream without a token is open.
                self.stream(server, "/sse/t")
                server.stop()

    def test_refusal_log_redacts_access_token(self):
        server = self.start_server("--jwt-secret-file", self.keys.secret_file, "--log-level", "debug")
        expired = hs256({"exp": int(time.time()) - 120, "subscribe": ["a"]})
        self.refused(self.stream_refused(server, f"/sse/a?topic=b&access_token={expired}"), 401, "expired")
        server.stop()
        log = server.log()
        self.assertIn('event=auth_refused shard=', log)
        self.assertIn('status=401 reason=expired method=GET '
                      'target="/sse/a?topic=b&access_token=REDACTED"', log)
        self.assertNotIn(expired.split(".")[2], log)

    def test_admin_drop_needs_publish_rights(self):
        server = self.start_server("--enable-admin", "--publish-token", "pub-s3cret")
        self.refused(server.request("POST", "/admin/drop?topic=a"), 401, "publishing needs")
        resp = server.request("POST", "/admin/drop?topic=a",
                              headers=[("Authorization", "Bearer pub-s3cret")])
        self.assertEqual((resp.status, resp.json()), (200, {"dropped": 0}), str(resp))

    # ---- CORS ----
    def preflight(self, server, origin: str, path: str = "/pub/news"):
        conn = http.client.HTTPConnection(HOST, server.port, timeout=10)
        try:
            conn.request("OPTIONS", path, headers={
                "Origin": origin, "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type"})
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    def test_cors_preflight_and_credentials(self):
        server = self.start_server("--cors-origin", f"{ORIGIN},https://other.example",
                                   "--publish-token", "pub-s3cret")
        status, headers, body = self.preflight(server, ORIGIN)
        self.assertEqual((status, body), (204, b""), headers)
        self.assertEqual(headers["access-control-allow-origin"], ORIGIN)
        self.assertEqual(headers["access-control-allow-credentials"], "true")
        self.assertEqual(headers["access-control-allow-methods"], "POST, OPTIONS")
        self.assertIn("Authorization", headers["access-control-allow-headers"])
        self.assertEqual(headers["access-control-max-age"], "600")
        self.assertIn("Origin", headers["vary"])
        self.assertNotIn("content-length", headers, "a 204 carries no Content-Length")
        status, headers, _ = self.preflight(server, "http://evil.example")
        self.assertEqual(status, 403)
        self.assertNotIn("access-control-allow-origin", headers)

        sub = self.stream(server, "/sse/news", [("Origin", ORIGIN)])
        head = sub.parser.head.decode("latin-1")
        self.assertIn(f"\r\nAccess-Control-Allow-Origin: {ORIGIN}\r\n", head)
        self.assertIn("\r\nAccess-Control-Allow-Credentials: true\r\n", head)
        foreign = self.stream(server, "/sse/news", [("Origin", "http://evil.example")])
        self.assertNotIn("Access-Control", foreign.parser.head.decode("latin-1"))
        resp = server.request("POST", "/pub/news", b"x",
                              headers=[("Origin", "https://other.example"),
                                       ("Authorization", "Bearer pub-s3cret")])
        self.assertEqual(resp.status, 202, str(resp))
        self.assertEqual(resp.header("Access-Control-Allow-Origin"), "https://other.example")
        # A refusal is readable by the page too (the browser needs the CORS headers to show it).
        resp = server.request("POST", "/pub/news", b"x", headers=[("Origin", ORIGIN)])
        self.assertEqual((resp.status, resp.header("Access-Control-Allow-Origin")), (401, ORIGIN))
        sub.wait(lambda s: len(s.events) == 1, 10, "the cross-origin event")
        self.assertEqual(self.rejections(server)["cors_origin"], 1)

    def test_wildcard_origin_never_allows_credentials(self):
        server = self.start_server("--cors-origin", "*")
        status, headers, _ = self.preflight(server, "http://anywhere.example")
        self.assertEqual(status, 204)
        self.assertEqual(headers["access-control-allow-origin"], "*")
        self.assertNotIn("access-control-allow-credentials", headers)
        sub = self.stream(server, "/sse/x", [("Origin", "http://anywhere.example")])
        head = sub.parser.head.decode("latin-1")
        self.assertIn("\r\nAccess-Control-Allow-Origin: *\r\n", head)
        self.assertNotIn("Credentials", head)

    def test_bad_access_flags_exit_early(self):
        binary = os.environ.get("RINGCAST_BIN")
        cases = [
            (["--require-subscribe-token"], 2, "needs --jwt-secret-file"),
            (["--cors-origin", "https://a.example/path"], 2, "--cors-origin"),
            (["--jwt-public-key", "/nonexistent.pem"], 1, "--jwt-public-key"),
            (["--jwt-public-key", self.keys.secret_file], 1, "not a PEM public key"),
        ]
        short = os.path.join(self.tmp.name, "short")
        with open(short, "wb") as f:
            f.write(b"tooshort\n")
        cases.append((["--jwt-secret-file", short], 1, "at least 32 bytes"))
        for flags, code, text in cases:
            with self.subTest(flags=flags):
                run = subprocess.run([binary, "--listen", f"{HOST}:0", *flags],
                                     capture_output=True, timeout=30)
                self.assertEqual(run.returncode, code, run.stderr)
                self.assertIn(text.encode(), run.stderr)


if __name__ == "__main__":
    unittest.main()
