"""Open-loop load with vegeta: requests leave on a fixed schedule whether or not answers came back.

A closed loop (wrk: N clients, each waiting for its answer) slows down with the server and so
hides how late answers are. vegeta sends at a constant rate, opening connections as needed, and
times each request from when it was due to be sent; that is MLPerf's "server" scenario. A rate
is held when p99 <= P99_BOUND_MS and every request got a 2xx answer.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT / "bench" / ".tools"  # git-ignored; vegeta is built here by `go install`
VEGETA_VERSION = "v12.13.0"
P99_BOUND_MS = 100.0
REQUEST_TIMEOUT_S = 10


def vegeta() -> Path:
    """The vegeta binary, built into bench/.tools on first use (Go module proxy, pinned version)."""
    binary = TOOLS / "vegeta"
    if not binary.exists():
        TOOLS.mkdir(parents=True, exist_ok=True)
        module = f"github.com/tsenart/vegeta/v12@{VEGETA_VERSION}"
        print(f"building {module} into {TOOLS}", flush=True)
        subprocess.run(["go", "install", module], env={**os.environ, "GOBIN": str(TOOLS)}, check=True)
    return binary


@dataclass(frozen=True)
class Target:
    """One request, sent again and again: method, URL, content type, body file."""

    url: str
    content_type: str
    body: Path

    def write(self, folder: Path) -> Path:
        path = folder / f"target-{abs(hash((self.url, str(self.body))))}.txt"
        path.write_text(f"POST {self.url}\nContent-Type: {self.content_type}\n@{self.body}\n")
        return path


def attack(target: Target, rate: int, seconds: int, folder: Path) -> dict[str, float]:
    """Send `rate` requests a second for `seconds`; latency percentiles (ms), answers, CPU of vegeta."""
    targets = target.write(folder)
    results = folder / "results.bin"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(
        [
            str(vegeta()),
            "attack",
            f"-rate={rate}/s",
            f"-duration={seconds}s",
            f"-timeout={REQUEST_TIMEOUT_S}s",
            "-format=http",
            f"-targets={targets}",
            f"-output={results}",
        ],
        check=True,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    report = json.loads(
        subprocess.run(
            [str(vegeta()), "report", "-type=json", str(results)], check=True, capture_output=True, text=True
        ).stdout
    )
    latencies = report["latencies"]
    per_second = per_second_p99(results)
    answered = sum(n for code, n in report["status_codes"].items() if code.startswith("2"))
    requests = int(report["requests"])
    return {
        "offered": rate,
        "requests": requests,
        "ok": answered,
        "not_ok": requests - answered,
        "throughput": float(report["throughput"]),  # 2xx answers per second
        "p50": latencies["50th"] / 1e6,
        "p90": latencies["90th"] / 1e6,
        "p99": latencies["99th"] / 1e6,
        "max": latencies["max"] / 1e6,
        "loadgen_cpu_ms": (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        / max(requests, 1)
        * 1000,
        "worst_second_p99": max(per_second, default=0.0),
        # A flush or a pause lasts a second or less: in a 30 s point it can hide under p99.
        "seconds_over_bound": sum(p99 > P99_BOUND_MS for p99 in per_second),
        "codes": report["status_codes"],
        "errors": (report.get("errors") or [])[:5],
    }


def answers(results: Path) -> list[tuple[int, float]]:
    """(second the request was due, latency in ms) of every request of an attack."""
    text = subprocess.run(
        [str(vegeta()), "encode", "--to", "csv", str(results)], check=True, capture_output=True, text=True
    ).stdout
    rows = (line.split(",", 3) for line in text.splitlines())
    return [(int(row[0]) // 10**9, int(row[2]) / 1e6) for row in rows]


def per_second_p99(results: Path) -> list[float]:
    """p99 of the requests due in each second of the attack (ms)."""
    seconds: dict[int, list[float]] = {}
    for due_s, latency_ms in answers(results):
        seconds.setdefault(due_s, []).append(latency_ms)
    return [sorted(v)[min(len(v) - 1, int(len(v) * 0.99))] for v in seconds.values()]


def holds(point: dict[str, float]) -> bool:
    return point["p99"] <= P99_BOUND_MS and point["not_ok"] == 0 and point["requests"] > 0


def ladder(
    measure: Callable[[int], dict[str, float]], rates: Sequence[int], *, past_failure: int = 1
) -> list[dict[str, float]]:
    """Climb the rates; stop `past_failure` points after the first rate that is not held."""
    points: list[dict[str, float]] = []
    failures = 0
    for rate in rates:
        point = measure(rate)
        points.append(point)
        if not holds(point):
            failures += 1
            if failures > past_failure:
                break
    return points


def best_rate(points: Sequence[dict[str, float]]) -> int:
    """The highest rate held, below the first that was not (0 when none was held)."""
    best = 0
    for point in points:
        if not holds(point):
            break
        best = int(point["offered"])
    return best
