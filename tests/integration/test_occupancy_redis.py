"""Who is listening across nodes (#19): two ringcast nodes and one real redis-server.

  * each node keeps its per-topic counts in Redis (a hash per node with a TTL); on either
    node subscribersCluster of a topic is the sum over both, subscribers its own count;
  * with --occupancy-events, a watcher of _occupancy.T on node A sees subscribersCluster
    change when streams open on node B;
  * node B is killed (SIGKILL: no clean exit, its hash is left to expire): after the TTL
    its counts vanish from A's subscribersCluster;
  * what Redis holds is hostile: a forged node hash full of junk (bad names, negative and
    huge numbers, wrong types) does not crash a node or count, valid fields do count.
"""

import json
import signal
import socket
import unittest

from ringcast_harness import RingcastTestCase, http_request, wait_until
from redis_peer import RedisServer

TTL_MS = 2000


def redis_cmd(port: int, *args: str) -> bytes:
    """One command over RESP on a fresh socket; returns the raw reply (for simple checks)."""
    payload = f"*{len(args)}\r\n".encode() + b"".join(
        f"${len(a.encode())}\r\n".encode() + a.encode() + b"\r\n" for a in args)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(payload)
        return s.recv(65536)


class OccupancyRedisTest(RingcastTestCase):
    def setUp(self):
        self.redis = RedisServer().start()
        self.addCleanup(self.redis.cleanup)

    def node(self, *flags: str, check_exit: bool = True):
        return self.start_server("--redis", self.redis.address, "--occupancy-ttl-ms", str(TTL_MS),
                                 *flags, check_exit=check_exit)

    def info(self, node, topic: str) -> dict:
        r = http_request(node.port, "GET", f"/topics/{topic}")
        return r.json() if r.status == 200 else {"status": r.status}

    def test_cluster_counts_and_a_killed_node_expiring(self):
        a = self.node("--occupancy-events", "--occupancy-interval-ms", "200")
        b = self.node(check_exit=False)
        watcher = a.stream("/sse/_occupancy.room")
        watcher.wait(lambda s: s.ready, 5, "the watcher's head")
        a.open_streams(["/sse/room"] * 2)
        b.open_streams(["/sse/room"] * 3)
        wait_until(lambda: self.info(a, "room").get("subscribersCluster") == 5, 15, "A to see 5 in the cluster")
        wait_until(lambda: self.info(b, "room").get("subscribersCluster") == 5, 15, "B to see 5 in the cluster")
        self.assertEqual(self.info(a, "room")["subscribers"], 2)
        self.assertEqual(self.info(b, "room")["subscribers"], 3)

        def cluster_counts(s):
            return [json.loads(e.data)["subscribersCluster"] for e in s.events if e.event == "occupancy"]
        watcher.wait(lambda s: 5 in cluster_counts(s), 15, "an occupancy event with B's streams")

        b.proc.send_signal(signal.SIGKILL)
        b.wait(10)
        # No clean exit removed B's hash: it goes when its TTL runs out.
        wait_until(lambda: self.info(a, "room").get("subscribersCluster") == 2, 5 * TTL_MS / 1000 + 10,
                   "B's counts to expire")
        self.assertEqual(self.info(a, "room")["subscribers"], 2)
        watcher.wait(lambda s: cluster_counts(s)[-1:] == [2], 10, "an occupancy event without B")

    def test_hostile_counts_in_redis(self):
        a = self.node()
        a.open_streams(["/sse/hall"])
        forged = "ringcast:occupancy:node:forged-node"
        redis_cmd(self.redis.port, "HSET", forged, "hall", "7", "bad name", "1", "neg", "-4",
                  "huge", "99999999999999999999999", "_stats", "9", "x" * 5000, "3")
        redis_cmd(self.redis.port, "ZADD", "ringcast:occupancy:nodes", "99999999999999", "forged-node")
        # A node id that is not one, and a member whose key holds the wrong type.
        redis_cmd(self.redis.port, "ZADD", "ringcast:occupancy:nodes", "99999999999999", "../\r\nevil")
        redis_cmd(self.redis.port, "SET", "ringcast:occupancy:node:wrongtype", "x")
        redis_cmd(self.redis.port, "ZADD", "ringcast:occupancy:nodes", "99999999999999", "wrongtype")
        wait_until(lambda: self.info(a, "hall").get("subscribersCluster") == 8, 15, "the forged count of hall")
        self.assertEqual(self.info(a, "hall")["subscribers"], 1)
        for topic in ("neg", "huge"):
            self.assertEqual(self.info(a, topic), {"status": 404})  # counts never create topics
        self.assertEqual(http_request(a.port, "GET", "/healthz").status, 200)


if __name__ == "__main__":
    unittest.main()
