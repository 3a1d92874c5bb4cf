"""Similar-picture queries keep answering while one node of a 3-node cluster is down.

Runs with `make test-cluster` (3 Cassandra nodes). Cassandra 5.0 answers ANN queries at
consistency ONE only, so each token range is read from one live replica; the records the
answer names are then read at QUORUM, which two of three replicas still give. Latencies are
printed, not asserted (the machine is shared).
"""

from __future__ import annotations

import random
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
from tests.e2e.conftest import Server, start_server, stop_server
from tests.pictures import dataset_png, fmnist_test

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(1800)]
CLUSTER_ENV = {
    "CASSANDRA_REPLICATION": "NetworkTopologyStrategy:datacenter1=3",
    "CASSANDRA_CONSISTENCY": "QUORUM",
}
PICTURES_PER_CLASS = 4
DOWN_S = 40.0  # gossip takes ~15 s to call a killed node down: the window covers before and after


@pytest.fixture
def cluster_server(tmp_path: Path) -> Iterator[Server]:
    running = start_server(
        cluster_url(f"fc_similar_{uuid.uuid4().hex[:8]}"), tmp_path / "server.log", **CLUSTER_ENV
    )
    yield running
    stop_server(running)


@dataclass
class Answer:
    started: float  # time.monotonic()
    seconds: float
    status: int  # 0: no HTTP answer
    same_class: float = 0.0  # share of the neighbours with the query's predicted class


@dataclass(eq=False)  # threads are kept in weak sets: they must stay hashable
class Asker(threading.Thread):
    server: Server
    labels: dict[str, str]  # record id -> predicted class
    stop: threading.Event
    answers: list[Answer] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(daemon=True)

    def run(self) -> None:
        session, ids = requests.Session(), list(self.labels)
        while not self.stop.is_set():
            record_id = random.choice(ids)
            started = time.monotonic()
            try:
                answer = session.get(
                    f"{self.server.url}/api/v1/predictions/{record_id}/similar?limit=8", timeout=60
                )
            except requests.RequestException:
                self.answers.append(Answer(started, time.monotonic() - started, 0))
                continue
            result = Answer(started, time.monotonic() - started, answer.status_code)
            if answer.status_code == 200:
                found = answer.json()["similar"]
                same = sum(n["label"] == self.labels[record_id] for n in found)
                result.same_class = same / max(len(found), 1)
            self.answers.append(result)


def upload_pictures(server: Server) -> dict[str, str]:
    test = fmnist_test()
    chosen = [
        i
        for label in range(10)
        for i in [j for j, y in enumerate(test.labels) if y == label][:PICTURES_PER_CLASS]
    ]
    labels = {}
    for i in chosen:
        for attempt in range(1, 6):  # setup on a loaded machine: a 503 kept nothing, send again
            answer = requests.post(
                f"{server.url}/api/v1/predictions",
                files={"file": (f"{i}.png", dataset_png(i)[0])},
                timeout=60,
            )
            if answer.status_code != 503:
                break
            time.sleep(attempt)
        assert answer.status_code == 201, answer.text[:300]
        labels.update({p["id"]: p["label"] for p in answer.json()["predictions"]})
    return labels


def summary(answers: list[Answer], start: float, end: float) -> str:
    window = [a for a in answers if start <= a.started < end]
    ok = sorted(a.seconds for a in window if a.status == 200)
    if len(ok) < 2:
        return f"{len(window)} queries, {len(ok)} answered"
    cuts = statistics.quantiles(ok, n=100, method="inclusive")
    return (
        f"{len(window)} queries, {len(window) - len(ok)} failed, p50 {cuts[49] * 1000:.0f} ms, "
        f"p99 {cuts[98] * 1000:.0f} ms, max {ok[-1] * 1000:.0f} ms"
    )


def test_similar_queries_keep_answering_with_a_node_down(cluster_server: Server) -> None:
    labels = upload_pictures(cluster_server)
    stop = threading.Event()
    askers = [Asker(cluster_server, labels, stop) for _ in range(3)]
    for asker in askers:
        asker.start()
    time.sleep(10)
    killed = time.monotonic()
    run_script("kill", "2")
    try:
        time.sleep(DOWN_S)
        # A search by picture (nothing stored) also answers with the node down.
        search = requests.post(
            f"{cluster_server.url}/api/v1/search?limit=3",
            files={"file": ("q.png", dataset_png(0)[0])},
            timeout=60,
        )
    finally:
        stop.set()
        for asker in askers:
            asker.join(timeout=90)
        run_script("start-node", "2")  # the next cluster test finds three nodes again

    answers = [a for asker in askers for a in asker.answers]
    before = [a for a in answers if a.started < killed]
    down = [a for a in answers if killed <= a.started < killed + DOWN_S]
    print(f"before the kill: {summary(answers, 0, killed)}")
    print(f"node 2 down: {summary(answers, killed, killed + DOWN_S)}")
    assert len(before) > 10 and len(down) > 30
    assert [a.status for a in down if a.status != 200] == []
    # Still useful answers, not just 200s: each class has 4 pictures, so at most 3 of the 8
    # neighbours can share the query's class (0.375); the run of 20:51 UTC measured 0.394.
    assert statistics.fmean(a.same_class for a in down) > 0.3
    assert search.status_code == 200 and len(search.json()["similar"]) == 3
