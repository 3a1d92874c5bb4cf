"""The failover report: test-artifacts/failover.md, the tracked docs/failover.md with this run added.

`make docs-failover` copies it back over docs/failover.md.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from fashion_classifier.storage.cassandra_calls import BATCHLOG_WAIT_S, FRESH_READ_AFTER_S, TRY_BATCH_EVERY_S
from fashion_classifier.storage.cassandra_session import (
    OPERATION_DEADLINE_S,
    SPECULATE_AFTER_S,
    WARM_UP_S,
)
from tests.cassandra_node import ROOT
from tests.cluster.readers import READERS

CLIENTS = 6  # uploading threads
WINDOW_S = 30.0  # each measured window: before the kill, after the kill, after the restart


@dataclass
class Timeline:
    """When the test did what (time.monotonic()), and the load average (1 min) at each step."""

    began: float = 0.0
    killed: float = 0.0
    restarting: float = 0.0
    back: float = 0.0
    load: list[float] = field(default_factory=list)

    def mark(self, step: str) -> None:
        setattr(self, step, time.monotonic())
        self.load.append(os.getloadavg()[0])


REPORT = ROOT / "docs" / "failover.md"
RUNS_HEADING = "## Every run of this test"
HAND_WRITTEN = "<!-- Below this line: written by hand, kept by the test. -->"


def write_report(
    acknowledged: int,
    *,
    failures: list[str],
    missing: set[str],
    windows: dict[str, dict[str, float]],
    slowest: tuple[float, float],
    timeline: Timeline,
    reads: dict[str, dict[str, float]],
    read_failures: list[str],
) -> None:
    """The last run in full, one more row in the table of runs, and the hand-written part as it was."""
    old = REPORT.read_text() if REPORT.exists() else ""
    rows = [
        line
        for line in old.partition(RUNS_HEADING)[2].partition(HAND_WRITTEN)[0].splitlines()
        if line.startswith("| 2")
    ]
    outage = timeline.back - timeline.killed
    loads = "/".join(f"{load:.1f}" for load in timeline.load)
    cells = " | ".join(f"{w['p50']:.2f} / {w['p99']:.2f} / {w['max']:.2f}" for w in windows.values())
    now = f"{datetime.now(UTC):%Y-%m-%d %H:%M}"
    slowest_read = max(reads, key=lambda kind: reads[kind]["max"])
    read_cells = f"{len(read_failures)} | {reads[slowest_read]['max']:.2f} ({slowest_read})"
    rows.append(
        f"| {now} | {loads} | {acknowledged} | {len(failures)} | {len(missing)} | {slowest[0]:.2f} | {cells}"
        f" | {read_cells} |"
    )
    lines = [
        "# Failover on a 3-node cluster",
        "",
        f"Last run: {now} UTC, `make test-cluster` (tests/cluster/test_failover.py).",
        "Three Cassandra 5.0 nodes (tools/cassandra), keyspace NetworkTopologyStrategy",
        f"datacenter1=3, consistency QUORUM; {CLIENTS} clients upload continuously through a real server",
        f"(2 workers); node 2 is killed with SIGKILL, started again {WINDOW_S:.0f} s later (it answered CQL",
        f"{timeline.back - timeline.killed:.0f} s after the kill). Driver: speculative execution after"
        f" {SPECULATE_AFTER_S * 1000:.0f} ms, a node back",
        f"from the dead first coordinator of a growing share of requests over {WARM_UP_S:.0f} s; store deadline"
        f" {OPERATION_DEADLINE_S:.1f} s per",
        f"operation; after a logged batch slower than {BATCHLOG_WAIT_S:.1f} s, rows written alone (and a batch"
        f" sent aside every {TRY_BATCH_EVERY_S:.0f} s until one is quick); a read not answered within"
        f" {FRESH_READ_AFTER_S:.1f} s, or failed,",
        "sent again as a fresh request beside the first (first answer wins).",
        f"Load average (1 min; 2 cores, shared) at the start, kill, restart, rejoin and end: {loads}.",
        "",
        f"- uploads acknowledged (201): {acknowledged}",
        f"- uploads that failed: {len(failures)}" + (f" (first: {failures[0].strip()})" if failures else ""),
        f"- acknowledged uploads missing from the history afterwards: {len(missing)}",
        f"- slowest acknowledged upload after the first 5 s: {slowest[0]:.2f} s (started {slowest[1]:.0f} s"
        " after the kill)",
        "",
        "Uploads by when they started (seconds, client side, whole HTTP request):",
        "",
        "| window | acknowledged | failed | p50 | p99 | max |",
        "|---|---|---|---|---|---|",
        *(
            f"| {name} | {w['n']:.0f} | {w['failed']:.0f} | {w['p50']:.3f} | {w['p99']:.3f} | {w['max']:.3f} |"
            for name, w in windows.items()
        ),
        "",
        f"Reads during the outage (started from the kill until node 2 answered CQL again, {outage:.0f} s;"
        " seconds, client side,",
        f"whole HTTP request), beside the uploads; {READERS} readers, each going through every kind in turn."
        " Reads that failed",
        f"in the whole run (any answer but 200): {len(read_failures)}"
        + (f" (first: {read_failures[0].strip()})." if read_failures else "."),
        "",
        "| read | reads | failed | p50 | p99 | max |",
        "|---|---|---|---|---|---|",
        *(
            f"| {kind} | {r['n']:.0f} | {r['failed']:.0f} | {r['p50']:.3f} | {r['p99']:.3f} | {r['max']:.3f} |"
            for kind, r in reads.items()
        ),
        "",
        RUNS_HEADING,
        "",
        "Load: load average at the start, kill, restart, rejoin, end. Latencies of acknowledged uploads in",
        "seconds, p50 / p99 / max, in the four windows above; reads (from the run of 2026-12-05 on) that",
        "answered anything but 200 in the whole run, and the slowest read started during the outage.",
        "",
        "| run (UTC) | load | acknowledged | failed | missing | slowest | before the kill | node 2 down"
        " | restarting, rejoining | after the restart | reads failed | slowest read in the outage |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        HAND_WRITTEN,
        old.partition(HAND_WRITTEN)[2].lstrip("\n"),
    ]
    # Generated: `make docs-failover` copies it over the tracked docs/failover.md when wanted.
    report = ROOT / "test-artifacts" / "failover.md"
    report.parent.mkdir(exist_ok=True)
    report.write_text("\n".join(lines))
