"""A real EventSource client (the `eventsource` npm package under Node) resumes with
Last-Event-ID across server-side drops, and gets a gap event when its id has expired.

Checks:
  * while events are published one after another, `POST /admin/drop?topic=resume` closes the
    client's stream three times mid-flow (publishing goes on: the events around a drop come
    back by replay, those after the reconnection live); the package reconnects by itself
    (retry 100-200 ms) sending Last-Event-ID, and ends with every published event exactly
    once, in order, with the ids of the 202 answers and the published data; no gap event;
    >= 2 reconnections; every reconnection sent the id of an event it had received;
  * with --history 5, a client resuming with the id of an evicted event (Last-Event-ID header,
    or ?lastEventId= on the URL) first gets `event: gap` (no id) with data
    {"topic","lastEventId","firstId","reason":"expired"} and then the 5 retained events.
"""

import json
import threading
import unittest

from node_clients import EsResume, require_clients
from ringcast_harness import HOST, RingcastTestCase, bounded

TOPIC = "resume"
TOTAL = 60
CHECKPOINTS = (15, 30, 45)  # drop the client's stream after this many events were published
RESUMED = 7  # this many events after a checkpoint, wait for the client to have reconnected


def event_data(i: int) -> str:
    """What EventSource hands the client (LF line endings); every 10th event is two lines."""
    if i % 10 == 9:
        return f"event {i} first line\nevent {i} second line ✓"
    return f"event {i} ✓ {'x' * (i % 7)}"


class NodeEventSourceTest(RingcastTestCase):

    def setUp(self):
        require_clients(self, "eventsource")

    def test_resume_across_server_drops(self):
        server = self.start_server("--enable-admin", "--retry-ms", "100",
                                   "--retry-jitter-ms", "100", shards=2)
        client = EsResume(self, f"http://{HOST}:{server.port}/sse/{TOPIC}", TOTAL, timeout_s=45)
        client.wait_opens(1, timeout=15)
        server.wait_metric("ringcast_streams", lambda v: v >= 1, 10,
                           "the client's stream to be counted")

        published: list[str] = []
        # At each checkpoint the main thread drops the stream while publishing goes on, so the
        # events around a drop reach the client by replay when it resumes; RESUMED events
        # later the publisher waits for the reconnection, so the rest of the segment arrives
        # live on the resumed stream.
        reached = {cp: threading.Event() for cp in CHECKPOINTS}
        resumed = {cp + RESUMED: n + 2 for n, cp in enumerate(CHECKPOINTS)}  # index -> opens
        stop = threading.Event()
        failure: list[BaseException] = []

        def publisher() -> None:
            try:
                for i in range(TOTAL):
                    if stop.is_set():
                        return
                    if i in reached:
                        reached[i].set()
                    if i in resumed:
                        client.wait_opens(resumed[i], timeout=20)
                    # Each POST completes (202) before the next one starts.
                    published.append(server.publish(TOPIC, event_data(i).encode("utf-8")))
            except BaseException as e:  # reported by the main thread
                failure.append(e)

        thread = threading.Thread(target=publisher, daemon=True)
        thread.start()
        drop_answers = []
        main_done = False
        try:
            for n, cp in enumerate(CHECKPOINTS):
                for remaining in bounded(20, f"{cp} events to be published", 10_000):
                    if reached[cp].wait(min(remaining, 0.25)) or failure:
                        break
                if failure:
                    break
                if n == 0:
                    # With no event received yet the client would reconnect without an id
                    # and, rightly, miss what was published meanwhile.
                    client.wait_received(1, timeout=15)
                resp = server.request("POST", f"/admin/drop?topic={TOPIC}")
                self.assertEqual(resp.status, 200, f"admin drop answered {resp}")
                answer = resp.json()
                drop_answers.append(answer)
                self.assertEqual(set(answer), {"dropped"}, f"admin drop answered {resp}")
                self.assertGreaterEqual(answer["dropped"], 1,
                                        f"drop {n + 1} closed no stream, but the client was "
                                        f"connected: {resp}")
                # The package reconnects by itself; wait for it before the next drop so each
                # drop hits a live stream.
                client.wait_opens(n + 2, timeout=15)
            main_done = True
        finally:
            if not main_done:
                stop.set()  # the publisher stops at its next event
            thread.join(timeout=60)
        self.assertFalse(thread.is_alive(), "the publisher thread did not finish")
        if failure:
            raise failure[0]
        self.assertEqual(len(published), TOTAL)

        rc, report = client.report()
        summary = (f"reason={report.get('reason')} received={report.get('received')} "
                   f"opens={report.get('opens')} connections={report.get('connections')} "
                   f"gaps={report.get('gaps')} errors={report.get('errors')[:5]} "
                   f"drops={drop_answers}")
        got = [(e["type"], e["id"], e["data"]) for e in report["events"]]
        want = [("message", event_id, event_data(i)) for i, event_id in enumerate(published)]
        got_ids = [g[1] for g in got]
        dupes = sorted({i for i in got_ids if got_ids.count(i) > 1})
        missing = [i for i in published if i not in got_ids]
        self.assertEqual(got, want, f"events differ from what was published: duplicates "
                                    f"{dupes}, missing {missing}; {summary}")
        self.assertEqual(report["reason"], "complete", summary)
        self.assertEqual(rc, 0, summary)
        self.assertEqual(report["gaps"], [], summary)

        self.assertGreaterEqual(report["opens"] - 1, 2, f"expected >= 2 reconnections; {summary}")
        conns = report["connections"]
        self.assertGreaterEqual(len(conns), report["opens"], summary)
        self.assertIsNone(conns[0]["lastEventId"], f"first connection sent an id; {summary}")
        for c in conns[1:]:
            # The package sends the id of the last event it got (every drop came after at
            # least one event had been published and the stream was open).
            self.assertIn(c["lastEventId"], published,
                          f"a reconnection sent Last-Event-ID {c['lastEventId']!r}; {summary}")

    def test_expired_id_gets_gap_then_retained_events(self):
        server = self.start_server("--history", "5", shards=2)
        topic = "old"
        ids = [server.publish(topic, f"old {i}".encode()) for i in range(10)]
        retained = list(zip(ids[5:], (f"old {i}" for i in range(5, 10))))
        base = f"http://{HOST}:{server.port}/sse/{topic}"

        for how, url, header in (("Last-Event-ID header", base, ids[0]),
                                 ("?lastEventId= in the URL", f"{base}?lastEventId={ids[0]}",
                                  None)):
            with self.subTest(how=how):
                client = EsResume(self, url, len(retained), timeout_s=20, last_event_id=header)
                rc, report = client.report()
                summary = (f"{how}: reason={report.get('reason')} events={report.get('events')}"
                           f" errors={report.get('errors')[:5]}")
                self.assertEqual(report["reason"], "complete", summary)
                self.assertEqual(rc, 0, summary)
                events = report["events"]
                self.assertGreaterEqual(len(events), 1, summary)
                gap = events[0]
                self.assertEqual(gap["type"], "gap", f"first event is not a gap; {summary}")
                self.assertEqual(gap["id"], "", f"the gap event carries an id; {summary}")
                self.assertEqual(json.loads(gap["data"]),
                                 {"topic": topic, "lastEventId": ids[0], "firstId": ids[5],
                                  "reason": "expired"}, summary)
                self.assertEqual([(e["type"], e["id"], e["data"]) for e in events[1:]],
                                 [("message", i, d) for i, d in retained], summary)
                self.assertEqual(len(report["gaps"]), 1, summary)


if __name__ == "__main__":
    unittest.main()
