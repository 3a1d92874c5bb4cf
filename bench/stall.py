"""What happens on the Cassandra path in the seconds when p99 jumps.

Serves ours on the local Cassandra node (the one tools/cassandra/cassandra.sh started with the same
CASSANDRA_NODE_OFFSET), sends JPEG uploads at one constant rate with vegeta, and lines up each
second's latencies with what the node did in that second: memtable flushes and compactions (its
system.log) and garbage-collection pauses (a GC log switched on for the run with `jcmd VM.log`),
and the CPU the server and the node used. Writes docs/benchmarks/stall.{md,json}.

    CASSANDRA_NODE_OFFSET=0 .venv/bin/python bench/stall.py [--rate 125] [--seconds 60]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import open_loop
from service import (
    CASSANDRA_HOST,
    CASSANDRA_RUN,
    ENDPOINTS,
    INPUTS,
    OUT,
    cassandra_pids,
    cpu_seconds,
    cpu_used,
    server,
    server_pids,
    upload_body,
)

BOUND_MS = open_loop.P99_BOUND_MS


@dataclass
class Second:
    """One second of the run: the answers due in it, CPU used in it, what the node logged in it."""

    latencies_ms: list[float] = field(default_factory=list)
    server_cpu: float = 0.0
    node_cpu: float = 0.0
    events: list[str] = field(default_factory=list)

    def p99(self) -> float:
        ranked = sorted(self.latencies_ms)
        return ranked[min(len(ranked) - 1, int(len(ranked) * 0.99))] if ranked else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=int, default=125)
    parser.add_argument("--seconds", type=int, default=60)
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-stall-"))
    gc_log = folder / "gc.log"
    node = cassandra_pids()[0]
    subprocess.run(
        ["jcmd", str(node), "VM.log", f"output={gc_log}", "what=gc", "decorators=time"], check=True
    )
    seconds, started = run_load(options.rate, options.seconds, folder)
    add_events(seconds, node_log_events(started), gc_pauses(gc_log))
    report = summarise(seconds, options.rate, started)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "stall.json").write_text(json.dumps(report, indent=1) + "\n")
    (OUT / "stall.md").write_text(render(report))
    print(render(report))


def run_load(rate: int, duration: int, folder: Path) -> tuple[dict[int, Second], float]:
    """vegeta at `rate` for `duration` s against ours on Cassandra; latencies and CPU per second."""
    keyspace = f"bench_stall_{uuid.uuid4().hex[:8]}"
    env = {"DATABASE_URL": f"cassandra://{CASSANDRA_HOST}:9042/{keyspace}", "CASSANDRA_CONSISTENCY": "ONE"}
    seconds: dict[int, Second] = {}
    with server("ours", env) as (url, process):
        body, content_type = upload_body("ours", "jpeg-640x480", INPUTS["jpeg-640x480"])
        (folder / "body").write_bytes(body)
        target = open_loop.Target(url + ENDPOINTS["ours"][0], content_type, folder / "body")
        open_loop.attack(target, 20, 5, folder)  # first-request costs
        stop = threading.Event()
        sampler = threading.Thread(target=sample_cpu, args=(process, seconds, stop))
        started = time.time()
        sampler.start()
        try:
            open_loop.attack(target, rate, duration, folder)
        finally:
            stop.set()
            sampler.join()
    for due_s, latency_ms in open_loop.answers(folder / "results.bin"):
        seconds.setdefault(due_s, Second()).latencies_ms.append(latency_ms)
    return seconds, started


def sample_cpu(process: subprocess.Popen[bytes], seconds: dict[int, Second], stop: threading.Event) -> None:
    """CPU (in cores) of the server and the node, sampled each second, added to the second it fell in."""
    before, then = (cpu_seconds(server_pids(process)), cpu_seconds(cassandra_pids())), time.time()
    while not stop.wait(1.0):
        now, when = (cpu_seconds(server_pids(process)), cpu_seconds(cassandra_pids())), time.time()
        second = seconds.setdefault(int((then + when) / 2), Second())
        second.server_cpu += cpu_used(before[0], now[0]) / (when - then)
        second.node_cpu += cpu_used(before[1], now[1]) / (when - then)
        before, then = now, when


LOG_LINE = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),\d+ \S+ - (.*)")
TABLE = re.compile(r"/data/[^/]+/([A-Za-z_]+)-")


def node_log_events(since: float) -> list[tuple[int, str]]:
    """Flushes and compactions the node logged (its own tables and ours) from `since` on."""
    events = []
    log = next(CASSANDRA_RUN.glob("node1/logs/system.log"))
    for line in log.read_text(errors="replace").splitlines():
        found = LOG_LINE.search(line)
        if not found:
            continue
        when = datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()
        message = found.group(2)
        table = TABLE.search(message)
        name = table.group(1) if table else "?"
        if when >= since and message.startswith("Completed flushing"):
            events.append((int(when), f"flush {name}"))
        elif when >= since and message.startswith("Compacted"):
            took = re.search(r"in (\d+)ms", message)
            events.append((int(when), f"compaction {name}" + (f" {took.group(1)} ms" if took else "")))
    return events


def gc_pauses(gc_log: Path) -> list[tuple[int, str]]:
    """The node's stop-the-world pauses from the run's GC log."""
    pauses = []
    for line in gc_log.read_text().splitlines():
        found = re.search(r"\[(\S+?)\].*Pause (\w+).* ([\d.]+)ms$", line)
        if found:
            when = datetime.fromisoformat(found.group(1).replace("+0000", "+00:00")).timestamp()
            pauses.append((int(when), f"GC pause {found.group(2)} {float(found.group(3)):.0f} ms"))
    return pauses


def add_events(seconds: dict[int, Second], *sources: list[tuple[int, str]]) -> None:
    for source in sources:
        for when, what in source:
            if when in seconds:
                seconds[when].events.append(what)


def summarise(seconds: dict[int, Second], rate: int, started: float) -> dict:  # type: ignore[type-arg]
    timed = [(t, s) for t, s in sorted(seconds.items()) if s.latencies_ms]
    over = [(t, s) for t, s in timed if s.p99() > BOUND_MS]
    everything = sorted(x for _, s in timed for x in s.latencies_ms)
    return {
        "date": datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds"),
        "rate": rate,
        "load_average": os.getloadavg(),
        "p99_ms": everything[int(len(everything) * 0.99)] if everything else 0.0,
        "seconds": len(timed),
        "seconds_over_bound": len(over),
        "over_bound_with_gc_pause": sum(any(e.startswith("GC") for e in s.events) for _, s in over),
        "over_bound_with_flush_or_compaction": sum(
            any(e.startswith(("flush", "compaction")) for e in s.events) for _, s in over
        ),
        "rows": [
            {
                "second": datetime.fromtimestamp(t, UTC).strftime("%H:%M:%S"),
                "answers": len(s.latencies_ms),
                "p50_ms": sorted(s.latencies_ms)[len(s.latencies_ms) // 2],
                "p99_ms": s.p99(),
                "server_cpu": s.server_cpu,
                "node_cpu": s.node_cpu,
                "events": s.events,
            }
            for t, s in timed
        ],
    }


def render(report: dict) -> str:  # type: ignore[type-arg]
    out = [
        "# What happens when p99 jumps (ours on Cassandra)",
        "",
        f"Run {report['date']} UTC: {report['rate']} JPEG uploads/s for {report['seconds']} s "
        f"(bench/stall.py), load average at the end {report['load_average'][0]:.1f}. p99 over the run "
        f"{report['p99_ms']:.0f} ms. Seconds whose own p99 was over {BOUND_MS:.0f} ms: "
        f"{report['seconds_over_bound']}; of these, {report['over_bound_with_gc_pause']} held a GC pause "
        f"of the node and {report['over_bound_with_flush_or_compaction']} a flush or compaction.",
        "",
        "| second | answers | p50 ms | p99 ms | server CPU | node CPU | the node logged |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in report["rows"]:
        out.append(
            f"| {row['second']} | {row['answers']} | {row['p50_ms']:.1f} | {row['p99_ms']:.1f} "
            f"| {row['server_cpu']:.2f} | {row['node_cpu']:.2f} | {'; '.join(row['events'])} |"
        )
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    main()
