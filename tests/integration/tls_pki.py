"""A throwaway PKI for the TLS tests, made with the `openssl` command line: a CA, a server
certificate it signed for localhost and 127.0.0.1, and a second CA that signed nothing of ours
(for the wrong-certificate case). Everything lives in a temporary directory the caller removes."""

import os
import shutil
import ssl
import subprocess
import tempfile
import unittest

EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]


def _openssl(*args: str, cwd: str) -> None:
    proc = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed:\n{proc.stderr}")


class Pki:
    def __init__(self, test: unittest.TestCase):
        self.dir = tempfile.mkdtemp(prefix="ringcast-pki-")
        test.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        d = self.dir
        for name in ("ca", "other-ca"):
            _openssl("req", "-x509", *EC, "-keyout", f"{name}.key", "-out", f"{name}.pem",
                     "-days", "2", "-subj", f"/CN=ringcast test {name}",
                     "-addext", "basicConstraints=critical,CA:TRUE",
                     "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
        _openssl("req", *EC, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost",
                 cwd=d)
        with open(os.path.join(d, "server.ext"), "w") as f:
            f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                    "extendedKeyUsage=serverAuth\n"
                    "basicConstraints=CA:FALSE\n")
        _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "server.ext",
                 cwd=d)
        self.ca = os.path.join(d, "ca.pem")
        self.other_ca = os.path.join(d, "other-ca.pem")
        self.cert = os.path.join(d, "server.pem")
        self.key = os.path.join(d, "server.key")

    def flags(self, *extra: str) -> list[str]:
        return ["--tls-cert", self.cert, "--tls-key", self.key, *extra]

    def client_context(self, ca: str | None = None) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=ca or self.ca)
        ctx.set_alpn_protocols(["http/1.1"])
        return ctx
