"""A node of a 3-node cluster is killed and restarted while clients upload: nothing is lost.

Runs with `make test-cluster` (about 5 GB of RAM for three nodes), not in `make test`.
The last result, with the latency of acknowledged uploads before, during and after the kill,
is written to test-artifacts/failover.md (`make docs-failover` copies it to docs/). Latencies
are reported, not asserted (the machine is shared).
"""

from __future__ import annotations

import os
import statistics
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from fashion_classifier.storage.cassandra_session import (
    OPERATION_DEADLINE_S,
    SPECULATE_AFTER_S,
)
from tests.cassandra_node import ROOT, cluster_url, run_script
from tests.e2e.conftest import Server, start_server, stop_server
from tests.pictures import dataset_png

# The restart of the killed node alone took over 3 minutes on a busy 2-core machine.
pytestmark = [pytest.mark.cluster, pytest.mark.timeout(1800)]
CLIENTS = 6
WINDOW_S = 30.0  # each measured window: before the kill, after the kill, after the restart
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
    """p50, p99 and max of the acknowledged uploads started in [start, end), in seconds."""
    seconds = sorted(u.seconds for u in uploads if start <= u.started < end and u.status == 201)
    if len(seconds) < 2:
        return {"n": len(seconds), "p50": float("nan"), "p99": float("nan"), "max": float("nan")}
    cuts = statistics.quantiles(seconds, n=100, method="inclusive")
    return {"n": len(seconds), "p50": cuts[49], "p99": cuts[98], "max": seconds[-1]}


def test_uploads_survive_a_killed_node(cluster_server: Server) -> None:
    stop = threading.Event()
    clients = [Uploader(cluster_server, n, stop) for n in range(CLIENTS)]
    for client in clients:
        client.start()
    time.sleep(5)  # warm-up: every worker connected, every statement prepared
    began = time.monotonic()
    time.sleep(WINDOW_S)
    killed = time.monotonic()
    run_script("kill", "2")
    time.sleep(WINDOW_S)
    run_script("start-node", "2")
    back = time.monotonic()
    time.sleep(WINDOW_S)
    stop.set()
    for client in clients:
        client.join(timeout=90)

    uploads = [u for c in clients for u in c.uploads]
    failures = [e for c in clients for e in c.errors]
    acknowledged = [u.record_id for u in uploads if u.record_id]
    missing = set(acknowledged) - history_ids(cluster_server)
    windows = {
        f"before the kill ({WINDOW_S:.0f} s)": distribution(uploads, began, killed),
        f"after the kill ({WINDOW_S:.0f} s, node 2 down)": distribution(uploads, killed, killed + WINDOW_S),
        f"after the restart ({WINDOW_S:.0f} s)": distribution(uploads, back, back + WINDOW_S),
    }
    failed_at = sorted(round(u.started - killed, 1) for u in uploads if u.status != 201)
    print(f"failed uploads started at (s after the kill): {failed_at}; node 2 back at {back - killed:.0f} s")
    warm_up = distribution(uploads, 0, began)["max"]
    slowest = max((u.seconds for u in uploads if u.status == 201 and u.started >= began), default=0.0)
    write_report(
        len(acknowledged),
        failures=failures,
        missing=missing,
        windows=windows,
        slowest=(slowest, warm_up),
        down_for=back - killed,
    )
    print(f"acknowledged {len(acknowledged)}, failures {len(failures)}: {failures[:3]}; {windows}")
    assert failures == []
    assert len(acknowledged) > 50
    assert missing == set()
    for record_id in acknowledged[:: max(1, len(acknowledged) // 20)]:
        assert (
            requests.get(f"{cluster_server.url}/api/v1/predictions/{record_id}", timeout=30).status_code
            == 200
        )


def write_report(
    acknowledged: int,
    *,
    failures: list[str],
    missing: set[str],
    windows: dict[str, dict[str, float]],
    slowest: tuple[float, float],
    down_for: float,
) -> None:
    lines = [
        "# Failover on a 3-node cluster",
        "",
        f"Last run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, `make test-cluster` (tests/cluster/test_failover.py).",
        "Three Cassandra 5.0 nodes (tools/cassandra), keyspace NetworkTopologyStrategy",
        f"datacenter1=3, consistency QUORUM; {CLIENTS} clients upload continuously through a real server",
        f"(2 workers); node 2 is killed with SIGKILL, started again {WINDOW_S:.0f} s later (back after",
        f"{down_for:.0f} s, start included). Driver: speculative execution after {SPECULATE_AFTER_S * 1000:.0f} ms,",
        f"store deadline {OPERATION_DEADLINE_S:.1f} s per operation. Load average at the end (2 cores, shared):",
        f"{os.getloadavg()[0]:.1f}.",
        "",
        f"- uploads acknowledged (201): {acknowledged}",
        f"- uploads that failed: {len(failures)}" + (f" (first: {failures[0]})" if failures else ""),
        f"- acknowledged uploads missing from the history afterwards: {len(missing)}",
        f"- slowest acknowledged upload: {slowest[0]:.2f} s (during the first 5 s, while each worker"
        f" connects and prepares its statements: {slowest[1]:.2f} s)",
        "",
        "What bounds the wait: every statement is idempotent, so the driver sends one that has no",
        f"answer after {SPECULATE_AFTER_S * 1000:.0f} ms to a second coordinator as well, then a third (speculative",
        f"execution), and each store operation gets {OPERATION_DEADLINE_S:.1f} s in all, retries included; past it",
        "the upload is answered 503 with Retry-After rather than left waiting. Before that (10 s",
        "client timeout, retries after 1, 2 and 4 s) the slowest acknowledged upload took 23.3 s and",
        "27.3 s in two runs of this test. tests/cluster/test_slow_node.py covers a node that hangs",
        "instead of dying.",
        "",
        "Acknowledged uploads by when they started (seconds, client side, whole HTTP request):",
        "",
        "| window | uploads | p50 | p99 | max |",
        "|---|---|---|---|---|",
        *(
            f"| {name} | {w['n']:.0f} | {w['p50']:.3f} | {w['p99']:.3f} | {w['max']:.3f} |"
            for name, w in windows.items()
        ),
        "",
    ]
    # Generated: `make docs-failover` copies it over the tracked docs/failover.md when wanted.
    report = ROOT / "test-artifacts" / "failover.md"
    report.parent.mkdir(exist_ok=True)
    report.write_text("\n".join(lines))
