"""Every kind of read a user or a probe makes, sent over HTTP in a loop beside the failover's uploads.

Used by test_failover.py: each kind must answer 200 while a node dies and comes back, and its
latency during the outage goes into the failover report.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests

from tests.e2e.conftest import Server
from tests.pictures import dataset_png

READERS = 3  # threads, each going through every kind in turn
# Between two reads of a reader: the reads are there to be measured, not to load the cluster beyond
# what the uploads already do (the run of 2026-12-05 23:06 without pauses, at load average 35,
# had uploads fail that never had before).
PAUSE_S = 0.2


@dataclass(frozen=True)
class Targets:
    """What the reads ask for: records kept before the test's windows, a class, a cursor, a picture."""

    ids: list[str]
    label: str
    cursor: str
    picture: bytes


def read_targets(server: Server, seconds: float = 120) -> Targets:
    """Once the uploads running beside have kept more than a page of records."""
    deadline = time.monotonic() + seconds
    while True:
        page = requests.get(f"{server.url}/api/v1/predictions?limit=20", timeout=60)
        assert page.status_code == 200, page.text[:300]
        found = page.json()
        if found["next_cursor"]:
            break
        assert time.monotonic() < deadline, "the uploads kept less than a page of records"
        time.sleep(1)
    ids = [p["id"] for p in found["predictions"]]
    return Targets(ids, found["predictions"][0]["label"], found["next_cursor"], dataset_png(7)[0])


Ask = Callable[[requests.Session, str, Targets, int], requests.Response]


def _get(path: str) -> Ask:
    def ask(session: requests.Session, url: str, targets: Targets, n: int) -> requests.Response:
        record_id = targets.ids[n % len(targets.ids)]
        query = path.format(id=record_id, label=targets.label, cursor=targets.cursor)
        return session.get(f"{url}{query}", timeout=60)

    return ask


def _search(session: requests.Session, url: str, targets: Targets, n: int) -> requests.Response:
    files = {"file": ("query.png", targets.picture)}
    return session.post(f"{url}/api/v1/search?limit=3", files=files, timeout=60)


KINDS: dict[str, Ask] = {
    "history": _get("/api/v1/predictions?limit=20"),
    "history, next page": _get("/api/v1/predictions?limit=20&cursor={cursor}"),
    "history by class": _get("/api/v1/predictions?limit=20&label={label}"),
    "history by verdict": _get("/api/v1/predictions?limit=20&garment=true"),
    "history page (HTML, by class)": _get("/history?label={label}"),
    "record": _get("/api/v1/predictions/{id}"),
    "picture": _get("/api/v1/predictions/{id}/image"),
    "record page (HTML)": _get("/records/{id}"),
    "similar by record": _get("/api/v1/predictions/{id}/similar?limit=8"),
    "search by picture": _search,
    "readiness probe": _get("/readyz"),
}


@dataclass
class Read:
    kind: str
    started: float  # time.monotonic()
    seconds: float
    status: int  # 0: no HTTP answer


@dataclass(eq=False)  # threads are kept in weak sets: they must stay hashable
class Reader(threading.Thread):
    server: Server
    targets: Targets
    number: int
    stop: threading.Event
    reads: list[Read] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(daemon=True)

    def run(self) -> None:
        session, kinds, n = requests.Session(), list(KINDS), self.number
        while not self.stop.is_set():
            kind = kinds[n % len(kinds)]
            started = time.monotonic()
            try:
                answer = KINDS[kind](session, self.server.url, self.targets, n)
                status, text = answer.status_code, answer.text[:200] if answer.status_code != 200 else ""
            except requests.RequestException as exc:
                status, text = 0, repr(exc)
            self.reads.append(Read(kind, started, time.monotonic() - started, status))
            if status != 200:
                self.errors.append(f"{kind}: {status} {text}")
            n += 1
            self.stop.wait(PAUSE_S)


def read_latencies(reads: list[Read], start: float, end: float) -> dict[str, dict[str, float]]:
    """Per kind: reads started in [start, end), how many failed, p50/p99/max of the answered ones."""
    table = {}
    for kind in KINDS:
        window = [r for r in reads if r.kind == kind and start <= r.started < end]
        seconds = sorted(r.seconds for r in window if r.status == 200)
        cuts = (
            statistics.quantiles(seconds, n=100, method="inclusive")
            if len(seconds) > 1
            else [float("nan")] * 99
        )
        table[kind] = {
            "n": len(window),
            "failed": sum(r.status != 200 for r in window),
            "p50": cuts[49],
            "p99": cuts[98],
            "max": seconds[-1] if seconds else float("nan"),
        }
    return table
