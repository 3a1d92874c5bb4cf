"""A node of a 3-node cluster is killed and restarted while clients upload and read: nothing is lost.

Runs with `make test-cluster` (about 5 GB of RAM for three nodes), not in `make test`.
The result, with the latency of acknowledged uploads before the kill, while node 2 is down,
while it restarts and rejoins, and after, is written to test-artifacts/failover.md: the tracked
docs/failover.md with this run's row added to its table (`make docs-failover` copies it back).
Beside the uploads, readers go through every kind of read (history with and without filters, a
record, its picture, similar by record, search by picture, the readiness probe): each must answer
200 throughout, and its latency during the outage is in the report too.
Latencies are reported, not asserted (the machine is shared).
"""

from __future__ import annotations

import os
import statistics
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from tests.cassandra_node import cluster_url, run_script
from tests.cluster.failover_report import CLIENTS, WINDOW_S, Timeline, write_report
from tests.cluster.readers import READERS, Reader, read_latencies, read_targets
from tests.e2e.conftest import Server, start_server, stop_server
from tests.pictures import dataset_png

# The restart of the killed node alone took over 3 minutes on a busy 2-core machine.
pytestmark = [pytest.mark.cluster, pytest.mark.timeout(1800)]
CLUSTER_ENV = {
    "CASSANDRA_REPLICATION": "NetworkTopologyStrategy:datacenter1=3",
    "CASSANDRA_CONSISTENCY": "QUORUM",
}


@pytest.fixture
def cluster_server(tmp_path: Path) -> Iterator[Server]:
    running = start_server(
        cluster_url(f"fc_failover_{uuid.uuid4().hex[:8]}"), tmp_path / "server.log", **CLUSTER_ENV
    )
    yield running
    stop_server(running)


@dataclass
class Upload:
    started: float  # time.monotonic()
    seconds: float
    status: int  # 0: no HTTP answer
    record_id: str | None = None


@dataclass(eq=False)  # threads are kept in weak sets: they must stay hashable
class Uploader(threading.Thread):
    server: Server
    number: int
    stop: threading.Event
    uploads: list[Upload] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(daemon=True)

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
                self.uploads.append(Upload(started, time.monotonic() - started, 0))
                self.errors.append(repr(exc))
                continue
            upload = Upload(started, time.monotonic() - started, answer.status_code)
            if answer.status_code == 201:
                upload.record_id = answer.json()["predictions"][0]["id"]
            else:
                self.errors.append(f"{answer.status_code}: {answer.text[:200]}")
            self.uploads.append(upload)


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


def distribution(uploads: list[Upload], start: float, end: float) -> dict[str, float]:
    """Failures, and p50, p99 and max of the acknowledged uploads, started in [start, end) (seconds)."""
    started = [u for u in uploads if start <= u.started < end]
    seconds = sorted(u.seconds for u in started if u.status == 201)
    failed = sum(u.status != 201 for u in started)
    if len(seconds) < 2:
        return {
            "n": len(seconds),
            "failed": failed,
            "p50": float("nan"),
            "p99": float("nan"),
            "max": float("nan"),
        }
    cuts = statistics.quantiles(seconds, n=100, method="inclusive")
    return {"n": len(seconds), "failed": failed, "p50": cuts[49], "p99": cuts[98], "max": seconds[-1]}


def test_uploads_survive_a_killed_node(cluster_server: Server) -> None:
    stop = threading.Event()
    clients = [Uploader(cluster_server, n, stop) for n in range(CLIENTS)]
    for client in clients:
        client.start()
    time.sleep(5)  # warm-up: every worker connected, every statement prepared
    targets = read_targets(cluster_server)
    readers = [Reader(cluster_server, targets, n, stop) for n in range(READERS)]
    for reader in readers:
        reader.start()
    at = Timeline()
    at.mark("began")
    time.sleep(WINDOW_S)
    at.mark("killed")
    run_script("kill", "2")
    time.sleep(WINDOW_S)
    at.mark("restarting")
    run_script("start-node", "2")
    at.mark("back")
    time.sleep(WINDOW_S)
    stop.set()
    for thread in [*clients, *readers]:
        thread.join(timeout=90)
    at.load.append(os.getloadavg()[0])
    reads = [r for reader in readers for r in reader.reads]
    read_errors = [e for reader in readers for e in reader.errors]

    uploads = [u for c in clients for u in c.uploads]
    failures = [e for c in clients for e in c.errors]
    acknowledged = [u.record_id for u in uploads if u.record_id]
    missing = set(acknowledged) - history_ids(cluster_server)
    windows = {
        f"before the kill ({WINDOW_S:.0f} s)": distribution(uploads, at.began, at.killed),
        f"after the kill ({WINDOW_S:.0f} s, node 2 down)": distribution(uploads, at.killed, at.restarting),
        f"node 2 restarting and rejoining ({at.back - at.restarting:.0f} s, until it answers CQL)": (
            distribution(uploads, at.restarting, at.back)
        ),
        f"after the restart ({WINDOW_S:.0f} s)": distribution(uploads, at.back, at.back + WINDOW_S),
    }
    failed_at = sorted(round(u.started - at.killed, 1) for u in uploads if u.status != 201)
    print(
        f"failed uploads started at (s after the kill): {failed_at}; node 2 back at {at.back - at.killed:.0f} s"
    )
    slowest = max(
        (u for u in uploads if u.status == 201 and u.started >= at.began),
        key=lambda u: u.seconds,
        default=None,
    )
    write_report(
        len(acknowledged),
        failures=failures,
        missing=missing,
        windows=windows,
        slowest=(slowest.seconds, slowest.started - at.killed) if slowest else (0.0, 0.0),
        timeline=at,
        reads=read_latencies(reads, at.killed, at.back),
        read_failures=read_errors,
    )
    print(f"acknowledged {len(acknowledged)}, failures {len(failures)}: {failures[:3]}; {windows}")
    print(f"reads {len(reads)}, failures {len(read_errors)}: {read_errors[:5]}")
    assert failures == []
    assert read_errors == []
    assert all(table["n"] > 10 for table in read_latencies(reads, at.killed, at.back).values())
    assert len(acknowledged) > 50
    assert missing == set()
    for record_id in acknowledged[:: max(1, len(acknowledged) // 20)]:
        assert (
            requests.get(f"{cluster_server.url}/api/v1/predictions/{record_id}", timeout=30).status_code
            == 200
        )
