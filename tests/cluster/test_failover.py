"""A node of a 3-node cluster is killed and restarted while clients upload: nothing is lost.

Runs with `make test-cluster` (about 5 GB of RAM for three nodes), not in `make test`.
The last result is written to docs/failover.md.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from tests.cassandra_node import ROOT, run_script
from tests.e2e.conftest import Server, start_server, stop_server
from tests.pictures import dataset_png

pytestmark = pytest.mark.cluster
CLIENTS = 6


@pytest.fixture
def cluster_server(tmp_path: Path) -> Iterator[Server]:
    url = f"cassandra://127.0.0.1,127.0.0.2,127.0.0.3:9042/fc_failover_{uuid.uuid4().hex[:8]}"
    running = start_server(
        url,
        tmp_path / "server.log",
        CASSANDRA_REPLICATION="NetworkTopologyStrategy:datacenter1=3",
        CASSANDRA_CONSISTENCY="QUORUM",
    )
    yield running
    stop_server(running)


class Uploader(threading.Thread):
    def __init__(self, server: Server, number: int, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.server, self.number, self.stop = server, number, stop
        self.acknowledged: list[str] = []
        self.failures: list[str] = []
        self.slowest = 0.0

    def run(self) -> None:
        png, _ = dataset_png(self.number)
        session = requests.Session()
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                answer = session.post(
                    f"{self.server.url}/api/v1/predictions",
                    files={"file": (f"client{self.number}.png", png)},
                    timeout=60,
                )
            except requests.RequestException as exc:
                self.failures.append(repr(exc))
                continue
            self.slowest = max(self.slowest, time.monotonic() - started)
            if answer.status_code == 201:
                self.acknowledged.append(answer.json()["predictions"][0]["id"])
            else:
                self.failures.append(f"{answer.status_code}: {answer.text[:200]}")


def history_ids(server: Server) -> set[str]:
    ids: set[str] = set()
    cursor = ""
    while True:
        answer = requests.get(f"{server.url}/api/v1/predictions?limit=100&cursor={cursor}", timeout=60)
        assert answer.status_code == 200, answer.text[:300]
        page = answer.json()
        ids |= {p["id"] for p in page["predictions"]}
        if not page["next_cursor"]:
            return ids
        cursor = page["next_cursor"]


def test_uploads_survive_a_killed_node(cluster_server: Server) -> None:
    stop = threading.Event()
    clients = [Uploader(cluster_server, n, stop) for n in range(CLIENTS)]
    for client in clients:
        client.start()
    timeline: list[tuple[str, int]] = []
    time.sleep(10)
    run_script("kill", "2")
    timeline.append(("node 2 killed", sum(len(c.acknowledged) for c in clients)))
    time.sleep(25)
    run_script("start-node", "2")
    timeline.append(("node 2 back", sum(len(c.acknowledged) for c in clients)))
    time.sleep(10)
    stop.set()
    for client in clients:
        client.join(timeout=90)

    acknowledged = [i for c in clients for i in c.acknowledged]
    failures = [f for c in clients for f in c.failures]
    print(f"acknowledged {len(acknowledged)}, failures {len(failures)}: {failures[:3]}; timeline {timeline}")
    found = history_ids(cluster_server)
    missing = set(acknowledged) - found
    write_report(len(acknowledged), failures, missing, timeline, max(c.slowest for c in clients))
    assert failures == []
    assert len(acknowledged) > 50
    assert missing == set()
    for record_id in acknowledged[:: max(1, len(acknowledged) // 20)]:
        assert (
            requests.get(f"{cluster_server.url}/api/v1/predictions/{record_id}", timeout=30).status_code
            == 200
        )


def write_report(
    acknowledged: int, failures: list[str], missing: set[str], timeline: list[tuple[str, int]], slowest: float
) -> None:
    lines = [
        "# Failover on a 3-node cluster",
        "",
        f"Last run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, `make test-cluster` (tests/cluster/test_failover.py).",
        "Three Cassandra 5.0 nodes on 127.0.0.1-3 (tools/cassandra), keyspace NetworkTopologyStrategy",
        f"datacenter1=3, consistency QUORUM; {CLIENTS} clients upload continuously through a real server;",
        "node 2 is killed with SIGKILL after 10 s and started again 25 s later.",
        "",
        f"- uploads acknowledged (201): {acknowledged}",
        f"- uploads that failed: {len(failures)}" + (f" (first: {failures[0]})" if failures else ""),
        f"- acknowledged uploads missing from the history afterwards: {len(missing)}",
        f"- slowest acknowledged upload: {slowest:.2f} s",
        "- acknowledged so far at: " + ", ".join(f"{event}: {count}" for event, count in timeline),
        "",
    ]
    (ROOT / "docs" / "failover.md").write_text("\n".join(lines))
