"""Many short-lived connections: every request gets its response.

Eight client threads each repeat: a request the server answers and then closes
(`Connection: close`, or an error such as 404), followed by a fresh keep-alive connection
carrying a GET and a POST. Every single request must be answered; a connection that
receives EOF before its response means the server closed or shut down a socket that
belonged to another connection (for instance an operation for an old connection reaching
the descriptor slot a new connection has reused).

Checks, with 1 shard and with 2 shards:
  * every `Connection: close` / error response arrives complete (the client closes as soon
    as it has read it, as most clients do);
  * every request on the following keep-alive connection is answered (200, 202);
  * afterwards sum(ringcast_connections) returns to 1 (only the scrape itself).
"""

import threading
import unittest

from ringcast_harness import HttpConn, RingcastTestCase, check_publish_response

THREADS = 8
ROUNDS = 1000  # per thread


class ConnectionChurnTest(RingcastTestCase):

    def churn(self, port: int) -> list[str]:
        failures: list[str] = []
        lock = threading.Lock()

        def note(what: str, err: Exception) -> None:
            with lock:
                failures.append(f"{what}: {type(err).__name__}: {str(err)[:160]}")

        def worker(t: int) -> None:
            for i in range(ROUNDS):
                closing = ("GET", "/nope") if i % 4 == 3 else ("GET", "/healthz")
                try:
                    with HttpConn(port) as conn:
                        resp = conn.request(*closing, headers=[("Connection", "close")])
                        if resp.status not in (200, 404):
                            raise AssertionError(str(resp))
                        # Close right away, like most clients (without waiting for the
                        # server's FIN first); test_bad_requests checks the EOF itself.
                except Exception as e:  # noqa: BLE001 - collected and reported below
                    note(f"thread {t} round {i} {closing[1]} (closing)", e)
                try:
                    with HttpConn(port) as conn:
                        resp = conn.request("GET", "/healthz")
                        if (resp.status, resp.body) != (200, b"ok\n"):
                            raise AssertionError(str(resp))
                        check_publish_response(conn.request("POST", f"/pub/churn{t}", b"x"),
                                               f"churn{t}")
                except Exception as e:  # noqa: BLE001
                    note(f"thread {t} round {i} keep-alive", e)

        threads = [threading.Thread(target=worker, args=(t,), daemon=True)
                   for t in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        self.assertFalse(any(t.is_alive() for t in threads), "client threads still running")
        return failures

    def check(self, shards: int) -> None:
        server = self.start_server(shards=shards)
        failures = self.churn(server.port)
        if failures:
            self.fail(f"{len(failures)} of {THREADS * ROUNDS} rounds had a request without "
                      f"its response:\n  " + "\n  ".join(failures[:8]))
        server.wait_metric("ringcast_connections", lambda v: v == 1, 10,
                           "connections to drain (only the scrape left)")

    def test_one_shard(self):
        self.check(1)

    def test_two_shards(self):
        self.check(2)


if __name__ == "__main__":
    unittest.main()
