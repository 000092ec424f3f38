"""Runs the Node clients of tests/clients/ for the integration tests.

  require_clients()   fails (not skips) with a clear message when node or tests/clients'
                      node_modules is missing: tools/setup-clients.sh installs them
  require_chromium()  the same for Debian's /usr/bin/chromium
  EsResume            tests/clients/es_resume.mjs: the `eventsource` package as a client
  Browser             tests/clients/browser.mjs: a headless Chromium page driven over a
                      JSON-lines pipe (playwright-core over CDP; no browser download)
  artifacts_dir()     $RINGCAST_ARTIFACTS, default build/test-artifacts

Every wait is bounded by a deadline; each child process is killed if it outlives its test.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import unittest

from ringcast_harness import bounded

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
CLIENTS = os.path.join(ROOT, "tests", "clients")
CHROMIUM = "/usr/bin/chromium"
SETUP_HINT = ("tools/setup-clients.sh installs it (tools/setup.sh and so tools/test.sh run "
              "that script)")


def artifacts_dir() -> str:
    path = os.environ.get("RINGCAST_ARTIFACTS") or os.path.join(ROOT, "build", "test-artifacts")
    os.makedirs(path, exist_ok=True)
    return path


def node_bin() -> str | None:
    return shutil.which("node")


def require_clients(test: unittest.TestCase, *packages: str) -> str:
    """Returns the node binary; fails the test if node or a package is missing."""
    node = node_bin()
    if node is None:
        test.fail(f"`node` is not on PATH; {SETUP_HINT}")
    for p in packages:
        if not os.path.isfile(os.path.join(CLIENTS, "node_modules", p, "package.json")):
            test.fail(f"tests/clients/node_modules/{p} is missing; {SETUP_HINT}")
    return node


def require_chromium(test: unittest.TestCase) -> None:
    if not os.access(CHROMIUM, os.X_OK):
        test.fail(f"{CHROMIUM} is missing: the browser tests need Debian's chromium package; "
                  f"{SETUP_HINT}")


class NodeProcess:
    """`node script args...` in tests/clients, with stdout lines queued and stderr kept."""

    def __init__(self, test: unittest.TestCase, script: str, args: list[str],
                 packages: tuple[str, ...], stdin: bool = False, env: dict | None = None):
        node = require_clients(test, *packages)
        self.argv = [node, os.path.join(CLIENTS, script), *args]
        self.proc = subprocess.Popen(
            self.argv, cwd=CLIENTS, env=env,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.stdout_lines: "queue.Queue[str | None]" = queue.Queue()
        self._stderr: list[str] = []
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._threads = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for t in self._threads:
            t.start()
        test.addCleanup(self.kill)

    def _read_stdout(self) -> None:
        for raw in iter(self.proc.stdout.readline, b""):
            self.stdout_lines.put(raw.decode("utf-8", "replace").rstrip("\n"))
        self.stdout_lines.put(None)

    def _read_stderr(self) -> None:
        for raw in iter(self.proc.stderr.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._cond:
                self._stderr.append(line)
                self.on_stderr_line(line)
                self._cond.notify_all()

    def on_stderr_line(self, line: str) -> None:
        """Called with the lock held for each stderr line."""

    def stderr(self) -> str:
        with self._lock:
            return "\n".join(self._stderr[-200:])

    def wait_exit(self, timeout: float) -> int:
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"{' '.join(self.argv)} did not exit within {timeout:g}s; "
                                 f"stderr:\n{self.stderr()}") from None
        for t in self._threads:
            t.join(timeout=5)
        return rc

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                try:
                    pipe.close()
                except OSError:
                    pass


class EsResume(NodeProcess):
    """es_resume.mjs: collects `count` events from `url` and reports them as JSON."""

    PREFIX = "es_resume: "

    def __init__(self, test: unittest.TestCase, url: str, count: int, timeout_s: float,
                 last_event_id: str | None = None, types: list[str] | None = None):
        self.opens = 0
        self.received = 0
        self.progress: list[dict] = []
        self.timeout_s = timeout_s
        args = [url, str(count), f"{timeout_s:g}"]
        if last_event_id is not None:
            args += ["--last-event-id", last_event_id]
        if types:
            args += ["--types", ",".join(types)]
        super().__init__(test, "es_resume.mjs", args, packages=("eventsource",))

    def on_stderr_line(self, line: str) -> None:
        if not line.startswith(self.PREFIX):
            return
        try:
            msg = json.loads(line[len(self.PREFIX):])
        except ValueError:
            return
        self.progress.append(msg)
        if "open" in msg:
            self.opens = msg["open"]
        if "events" in msg:
            self.received = msg["events"]

    def _wait(self, done, timeout: float, what: str) -> None:
        for remaining in bounded(timeout, f"es_resume: {what}", 100_000):
            with self._cond:
                if done():
                    return
                if self.proc.poll() is not None:
                    break
                self._cond.wait(min(remaining, 0.25))
        raise AssertionError(f"es_resume exited {self.proc.returncode} while waiting for "
                             f"{what} (opens={self.opens} received={self.received}); "
                             f"stderr:\n{self.stderr()}")

    def wait_opens(self, n: int, timeout: float) -> None:
        """Waits until the client has seen `n` `open` events (1 = first connection)."""
        self._wait(lambda: self.opens >= n, timeout, f"its stream to open {n} time(s)")

    def wait_received(self, n: int, timeout: float) -> None:
        """Waits until the client has received `n` events (gap events not counted)."""
        self._wait(lambda: self.received >= n, timeout, f"{n} event(s)")

    def report(self) -> tuple[int, dict]:
        """Waits for the exit (bounded by the client's own timeout) and parses the report."""
        rc = self.wait_exit(self.timeout_s + 15)
        lines = []
        for _ in range(100_000):
            try:
                line = self.stdout_lines.get(timeout=5)
            except queue.Empty:
                break
            if line is None:
                break
            lines.append(line)
        if not lines:
            raise AssertionError(f"es_resume exited {rc} without a report; stderr:\n"
                                 f"{self.stderr()}")
        try:
            return rc, json.loads(lines[-1])
        except ValueError:
            raise AssertionError(f"es_resume wrote {lines!r}; stderr:\n{self.stderr()}") from None


class BrowserError(AssertionError):
    pass


class Browser(NodeProcess):
    """browser.mjs: one headless Chromium page; call(op, ...) sends one request and returns
    its answer, raising BrowserError (with the page's console log) when it failed."""

    def __init__(self, test: unittest.TestCase, timeout_s: float = 90, start_timeout: float = 45,
                 env: dict | None = None):
        require_chromium(test)
        # A fresh profile, removed after the browser is gone (cleanups run last-in first-out).
        profile = tempfile.mkdtemp(prefix="ringcast-chromium-")
        test.addCleanup(shutil.rmtree, profile, ignore_errors=True)
        super().__init__(test, "browser.mjs", ["--timeout-s", f"{timeout_s:g}",
                                               "--chromium", CHROMIUM,
                                               "--user-data-dir", profile],
                         packages=("playwright-core",), stdin=True, env=env)
        self._next_id = 1
        hello = self._answer(0, start_timeout, "Chromium to start")
        self.version = hello.get("version")

    def _answer(self, want_id: int, timeout: float, what: str) -> dict:
        for remaining in bounded(timeout, what, 100_000):
            try:
                line = self.stdout_lines.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                continue
            if line is None:
                rc = self.proc.wait(timeout=10)
                raise BrowserError(f"browser.mjs exited {rc} while waiting for {what}; "
                                   f"stderr:\n{self.stderr()}")
            try:
                msg = json.loads(line)
            except ValueError:
                raise BrowserError(f"browser.mjs wrote {line!r}") from None
            if msg.get("id") == -1:
                raise BrowserError(f"browser.mjs gave up: {msg.get('error')}; logs:\n"
                                   + "\n".join(msg.get("logs") or []))
            if msg.get("id") != want_id:
                continue
            if not msg.get("ok"):
                raise BrowserError(f"{what} failed: {msg.get('error')}\npage logs:\n"
                                   + "\n".join(msg.get("logs") or []))
            return msg
        raise AssertionError("unreachable")

    def call(self, op: str, timeout: float = 30, **fields) -> dict:
        req_id = self._next_id
        self._next_id += 1
        line = json.dumps({"id": req_id, "op": op, **fields}) + "\n"
        try:
            self.proc.stdin.write(line.encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as e:
            raise BrowserError(f"browser.mjs is gone ({e}); stderr:\n{self.stderr()}") from None
        what = f"{op} {fields.get('url') or fields.get('expr') or fields.get('path') or ''}"
        return self._answer(req_id, timeout, what.strip()[:300])

    def goto(self, url: str, timeout: float = 15) -> dict:
        return self.call("goto", timeout + 10, url=url, timeout_ms=int(timeout * 1000))

    def eval(self, expr: str, timeout: float = 15):
        return self.call("eval", timeout, expr=expr)["value"]

    def wait(self, expr: str, timeout: float, what: str, diagnose: str | None = None):
        """Polls `expr` in the page until truthy; on timeout the failure names `what` and
        shows the value of `diagnose` (an expression) and the page's log."""
        try:
            return self.call("wait", timeout + 10, expr=expr,
                             timeout_ms=int(timeout * 1000))["value"]
        except BrowserError as e:
            state = ""
            if diagnose:
                try:
                    state = f"\npage state: {json.dumps(self.eval(diagnose))[:4000]}"
                except BrowserError as e2:
                    state = f"\n(page state unavailable: {e2})"
            raise BrowserError(f"waiting for {what}: {e}{state}") from None

    def screenshot(self, path: str) -> None:
        self.call("screenshot", 30, path=path)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.call("close", 20)
            except BrowserError:
                pass
        self.wait_exit(20)
