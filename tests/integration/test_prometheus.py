"""Monitoring: a real Prometheus (Debian's `prometheus`, started here on its own loopback port
with its own config and storage, never the packaged service) scrapes ringcast, and the
alerting rules and Grafana dashboard of docs/deploy/ are held against real data.

  * Prometheus scrapes two ringcast processes every second: a plain one, and one with
    --redis (a real redis-server), so that every series ringcast can export is there;
  * what the test caused comes back through /api/v1/query: 3 open streams, 5 publishes,
    15 deliveries, Redis up;
  * docs/deploy/alerts.yml, loaded as a rule file, is evaluated by that Prometheus with every
    rule healthy; `promtool check rules` accepts it and `promtool test rules
    alerts_test.yml` (synthetic series that fire alerts, and ones that must not) passes;
  * every ringcast series named in alerts.yml and grafana-dashboard.json is in a real scrape
    of the servers, and every query of every dashboard panel runs on Prometheus and returns
    data.
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

from ringcast_harness import HOST, RingcastTestCase, bounded, free_port
from redis_peer import RedisServer

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DEPLOY = os.path.join(ROOT, "docs", "deploy")
ALERTS = os.path.join(DEPLOY, "alerts.yml")
ALERTS_TEST = os.path.join(DEPLOY, "alerts_test.yml")
DASHBOARD = os.path.join(DEPLOY, "grafana-dashboard.json")
METRIC_RE = re.compile(r"\bringcast_[a-z0-9_]+")


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise AssertionError(f"{name} is missing: tools/setup.sh installs Debian's prometheus")
    return path


def dashboard_queries() -> list[str]:
    with open(DASHBOARD) as f:
        dash = json.load(f)
    queries = []
    for panel in dash["panels"]:
        for target in panel.get("targets", []):
            queries.append(target["expr"])
    return queries


class Prometheus:
    """prometheus on a free loopback port, config and TSDB in a temp dir."""

    def __init__(self, targets: list[str], rule_files: list[str]):
        self.dir = tempfile.mkdtemp(prefix="ringcast-prometheus-")
        self.port = free_port()
        self.config = os.path.join(self.dir, "prometheus.yml")
        with open(self.config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "  evaluation_interval: 1s\n"
                    f"rule_files: {json.dumps(rule_files)}\n"
                    "scrape_configs:\n  - job_name: ringcast\n    static_configs:\n"
                    f"      - targets: {json.dumps(targets)}\n")
        self.log_path = os.path.join(self.dir, "prometheus.log")
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Prometheus":
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [tool("prometheus"), f"--config.file={self.config}",
                 f"--storage.tsdb.path={os.path.join(self.dir, 'data')}",
                 f"--web.listen-address={HOST}:{self.port}"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        for remaining in bounded(30, "prometheus to be ready", 1000):
            if self.proc.poll() is not None:
                raise AssertionError(f"prometheus exited {self.proc.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"http://{HOST}:{self.port}/-/ready", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(min(0.2, remaining))
        return self  # unreachable: bounded() raises

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def api(self, path: str, **params: str):
        url = f"http://{HOST}:{self.port}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=10) as r:
            body = json.load(r)
        if body.get("status") != "success":
            raise AssertionError(f"{url}: {body}")
        return body["data"]

    def query(self, expr: str) -> list[dict]:
        data = self.api("query", query=expr)
        if data["resultType"] != "vector":
            raise AssertionError(f"{expr}: result type {data['resultType']}")
        return data["result"]

    def wait_value(self, expr: str, want: float, timeout: float = 30) -> None:
        last = None
        try:
            for remaining in bounded(timeout, f"{expr} == {want}", 1000):
                result = self.query(expr)
                last = [float(r["value"][1]) for r in result]
                if last == [want]:
                    return
                time.sleep(min(0.5, remaining))
        except TimeoutError as e:
            raise AssertionError(f"{e}; last result {last}") from None


class PrometheusTest(RingcastTestCase):
    def start_prometheus(self, targets: list[str], rule_files: list[str]) -> Prometheus:
        prom = Prometheus(targets, rule_files)
        self.addCleanup(prom.stop)
        try:
            prom.start()
        except BaseException:
            print(prom.log())
            raise
        return prom

    def test_prometheus_scrapes_ringcast(self):
        redis = RedisServer().start()
        self.addCleanup(redis.cleanup)
        plain = self.start_server()
        clustered = self.start_server("--redis", redis.address)
        targets = [f"{HOST}:{plain.port}", f"{HOST}:{clustered.port}"]
        prom = self.start_prometheus(targets, [ALERTS])
        try:
            self.check_scrapes(prom, plain, clustered, targets)
        except BaseException:
            print(f"----- prometheus log -----\n{prom.log()}\n----- end -----")
            raise

    def check_scrapes(self, prom, plain, clustered, targets) -> None:
        # Both targets up, as Prometheus itself reports them.
        health = {}
        for remaining in bounded(30, "both targets to be up", 1000):
            active = prom.api("targets", state="active")["activeTargets"]
            health = {t["labels"]["instance"]: t["health"] for t in active}
            if health == {t: "up" for t in targets}:
                break
            time.sleep(min(0.5, remaining))
        self.assertEqual(health, {t: "up" for t in targets})

        # What this test causes on the plain server comes back through PromQL.
        a = f'instance="{targets[0]}"'
        prom.wait_value(f"sum(ringcast_streams{{{a}}})", 0)
        streams = plain.open_streams(["/sse/prom", "/sse/prom", "/sse/prom"])
        prom.wait_value(f"sum(ringcast_streams{{{a}}})", 3)
        for i in range(5):
            plain.publish("prom", f"event {i}".encode())
        for s in streams:
            s.wait(lambda s: len(s.parser.events) >= 5, 10, "5 events")
        prom.wait_value(f"ringcast_events_published_total{{{a}}}", 5)
        prom.wait_value(f"sum(ringcast_deliveries_total{{{a}}})", 15)
        prom.wait_value(f'ringcast_redis_up{{instance="{targets[1]}"}}', 1)

        # The alerting rules, evaluated by this Prometheus against these series.
        rules = [r for g in prom.api("rules")["groups"] for r in g["rules"]]
        with open(ALERTS) as f:
            names = re.findall(r"^\s+- alert: (\w+)$", f.read(), re.M)
        self.assertEqual(sorted(r["name"] for r in rules), sorted(names))
        # A healthy pair of servers fires nothing. (RingcastRedisDown may be pending for a
        # moment if a first scrape saw Redis not yet connected: wait for it to clear.)
        try:
            for remaining in bounded(15, "every rule evaluated and inactive", 1000):
                rules = [r for g in prom.api("rules")["groups"] for r in g["rules"]]
                if all(not r.get("lastEvaluation", "0001").startswith("0001") and
                       r["state"] == "inactive" for r in rules):
                    break
                time.sleep(min(0.5, remaining))
        except TimeoutError:
            pass  # the assertions below say what is wrong
        for r in rules:
            self.assertEqual(r["health"], "ok", r)
            self.assertEqual(r["state"], "inactive", r)

        # Every panel of the dashboard: valid PromQL that returns data from these servers.
        # Grafana's variables are given what Grafana would: all instances, a 1m window.
        # Panels that filter (`> 0`) are run without the filter.
        for expr in dashboard_queries():
            q = expr.replace("$__rate_interval", "1m").replace('"$instance"', '".*"')
            q = re.sub(r"\s*> 0$", "", q)
            with self.subTest(query=q):
                result = []
                try:
                    for remaining in bounded(15, f"data for {q}", 1000):
                        result = prom.query(q)
                        if result:
                            break
                        time.sleep(min(0.5, remaining))
                except TimeoutError:
                    pass
                self.assertTrue(result, "no data in 15 s")

        # Every ringcast series the alerts and the dashboard name is in a real scrape.
        exported = set()
        for server in (plain, clustered):
            exported |= {name for name, _ in server.metrics().samples}
        with open(ALERTS) as f:
            used = set(METRIC_RE.findall(f.read()))
        for expr in dashboard_queries():
            used |= set(METRIC_RE.findall(expr))
        self.assertGreater(len(used), 20)
        self.assertEqual(sorted(used - exported), [], "named but not exported")

    def test_promtool_rules(self):
        done = subprocess.run([tool("promtool"), "check", "rules", ALERTS], capture_output=True,
                              text=True, timeout=60)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        self.assertRegex(done.stdout, r"SUCCESS: \d+ rules found")
        # Relative rule_files resolve against the test file's directory.
        done = subprocess.run([tool("promtool"), "test", "rules", ALERTS_TEST],
                              capture_output=True, text=True, timeout=60, cwd=DEPLOY)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        self.assertIn("SUCCESS", done.stdout)

    def test_dashboard_is_grafana_json(self):
        with open(DASHBOARD) as f:
            dash = json.load(f)
        self.assertEqual(dash["uid"], "ringcast")
        ids = [p["id"] for p in dash["panels"]]
        self.assertEqual(len(ids), len(set(ids)), "panel ids repeat")
        for panel in dash["panels"]:
            self.assertIn("gridPos", panel)
            if panel["type"] == "row":
                continue
            self.assertEqual(panel["datasource"]["type"], "prometheus", panel["title"])
            self.assertTrue(panel["targets"], panel["title"])
            refs = [t["refId"] for t in panel["targets"]]
            self.assertEqual(len(refs), len(set(refs)), panel["title"])
        variables = {v["name"] for v in dash["templating"]["list"]}
        self.assertEqual(variables, {"datasource", "instance"})


if __name__ == "__main__":
    unittest.main()
