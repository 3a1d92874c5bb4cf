"""The open-loop run of bench/service.py: every server's rate ladder, the tables, the plot.

Writes docs/benchmarks/open_loop.{json,md,png}. Environment: BENCH_POINT_SECONDS (30),
BENCH_ONLY (comma-separated server/store names to run, e.g. "ours/cassandra"; all by default),
BENCH_INPUTS (comma-separated inputs, e.g. "jpeg-640x480"; both by default),
CASSANDRA_NODE_OFFSET (which local node; see bench/service.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path

import open_loop
from service import (
    CASSANDRA_HOST,
    ENDPOINTS,
    INPUTS,
    OUT,
    PEERS,
    ROOT,
    cassandra_pids,
    cpu_seconds,
    cpu_used,
    server,
    server_pids,
    upload_body,
    worker_rss_mb,
)

SECONDS = int(os.environ.get("BENCH_POINT_SECONDS", "30"))
WARM_UP_SECONDS = 5
# Steps of about 25% (the R10 series): 25 -> 50 could not tell two servers apart. The ladders
# start where every server but the seed-style baseline has held in every run since 2026-11-26
# (30 s points make each step cost half a minute).
RATES = {
    "jpeg-640x480": [40, 50, 63, 80, 100, 125, 160, 200, 250, 320, 400, 500, 630],
    "png-28x28": [63, 80, 100, 125, 160, 200, 250, 320, 400, 500, 630, 800, 1000],
}
SEED_RATES = [1, 2, 5, 10, 20, 50]
PEER_REQUIREMENTS = ROOT / "bench" / "peers" / "requirements.txt"


def ensure_peers() -> None:
    """bench/.venv-peers with BentoML and LitServe (pinned), made on first use."""
    stamp = PEERS / ".installed"
    if stamp.exists() and stamp.read_text() == PEER_REQUIREMENTS.read_text():
        return
    print(f"installing the peers into {PEERS}", flush=True)
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", str(PEERS)], check=True)
    pip = [str(PEERS / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "-r", str(PEER_REQUIREMENTS)], check=True)
    stamp.write_text(PEER_REQUIREMENTS.read_text())


def setups(folder: Path) -> list[tuple[str, str, dict[str, str], list[str], list[int] | None]]:
    """(server, store, environment, inputs, rates: None for the input's own ladder)."""
    keyspace = f"bench_{uuid.uuid4().hex[:8]}"
    cassandra = {
        "DATABASE_URL": f"cassandra://{CASSANDRA_HOST}:9042/{keyspace}",
        "CASSANDRA_CONSISTENCY": "ONE",
    }
    everything = [
        ("ours", "sqlite", {"DATABASE_URL": f"sqlite:///{folder}/bench.db"}, list(INPUTS), None),
        ("ours", "cassandra", cassandra, list(INPUTS), None),
        ("bentoml", "-", {}, ["jpeg-640x480"], None),
        ("litserve", "-", {}, ["jpeg-640x480"], None),
        (
            "seed",
            "cassandra",
            {"SEED_KEYSPACE": keyspace + "_seed", "SEED_CASSANDRA_HOST": CASSANDRA_HOST},
            ["jpeg-640x480"],
            SEED_RATES,
        ),
    ]
    only = {name for name in os.environ.get("BENCH_ONLY", "").split(",") if name}
    chosen = [s for s in everything if not only or f"{s[0]}/{s[1]}" in only or s[0] in only]
    inputs = {name for name in os.environ.get("BENCH_INPUTS", "").split(",") if name}
    if inputs:
        chosen = [(k, st, env, [n for n in names if n in inputs], r) for k, st, env, names, r in chosen]
    return [s for s in chosen if s[3]]


def run() -> None:
    open_loop.vegeta()
    folder = Path(tempfile.mkdtemp(prefix="bench-open-"))
    chosen = setups(folder)
    if any(kind in ("bentoml", "litserve") for kind, *_ in chosen):
        ensure_peers()
    rows, memory = [], {}
    started = datetime.now(UTC)
    for kind, store, env, names, rates in chosen:
        with server(kind, env) as (url, process):
            for name in names:
                body, content_type = upload_body(kind, name, INPUTS[name])
                (folder / f"{kind}-{name}.body").write_bytes(body)
                target = open_loop.Target(
                    url + ENDPOINTS[kind][0], content_type, folder / f"{kind}-{name}.body"
                )
                ladder = rates or RATES[name]
                open_loop.attack(target, ladder[0], WARM_UP_SECONDS, folder)  # first-request costs

                def measure(rate: int) -> dict[str, float]:
                    return point(kind, store, name, target=target, rate=rate, process=process, folder=folder)  # noqa: B023

                for result in open_loop.ladder(measure, ladder, past_failure=0):
                    rows.append(result)
            memory[f"{kind}/{store}"] = worker_rss_mb(process)
    report = {
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds_per_point": SECONDS,
        "p99_bound_ms": open_loop.P99_BOUND_MS,
        "load_average_before": LOAD_BEFORE,
        "load_average_after": os.getloadavg(),
        "rows": rows,
        "worker_rss_mb": memory,
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "open_loop.json").write_text(json.dumps(report, indent=1) + "\n")
    (OUT / "open_loop.md").write_text(render(report))
    plot(report)
    print(render(report))


LOAD_BEFORE = os.getloadavg()


def point(  # type: ignore[no-untyped-def]
    kind: str, store: str, name: str, *, target: open_loop.Target, rate: int, process, folder: Path
) -> dict:  # type: ignore[type-arg]
    """One rate held for SECONDS, with the CPU the server and the Cassandra node spent on it."""
    server_before, node_before = cpu_seconds(server_pids(process)), cpu_seconds(cassandra_pids())
    result = open_loop.attack(target, rate, SECONDS, folder)
    server_after, node_after = cpu_seconds(server_pids(process)), cpu_seconds(cassandra_pids())
    requests = max(result["requests"], 1)
    result["server_cpu_ms"] = cpu_used(server_before, server_after) / requests * 1000
    result["cassandra_cpu_ms"] = cpu_used(node_before, node_after) / requests * 1000
    result["load_average"] = os.getloadavg()[0]
    row = {"server": kind, "store": store, "input": name, **result}
    print(
        f"{kind:9} {store:9} {name:12} {rate:4}/s: p50 {result['p50']:7.1f} p99 {result['p99']:8.1f} ms, "
        f"{result['not_ok']} not 2xx, {result['throughput']:6.1f} ok/s, CPU/request server "
        f"{result['server_cpu_ms']:.2f} ms, Cassandra {result['cassandra_cpu_ms']:.2f} ms, "
        f"vegeta {result['loadgen_cpu_ms']:.2f} ms; load {result['load_average']:.1f}",
        flush=True,
    )
    return row


def lines(report: dict) -> list[tuple[str, str, str]]:  # type: ignore[type-arg]
    return list(dict.fromkeys((r["server"], r["store"], r["input"]) for r in report["rows"]))


def points(report: dict, line: tuple[str, str, str]) -> list[dict]:  # type: ignore[type-arg]
    return [r for r in report["rows"] if (r["server"], r["store"], r["input"]) == line]


def held(report: dict, line: tuple[str, str, str]) -> tuple[int, dict | None]:  # type: ignore[type-arg]
    """The latency-bounded rate and its point (None when no rate was held)."""
    rate = open_loop.best_rate(points(report, line))
    return rate, next((p for p in points(report, line) if p["offered"] == rate), None)


def render(report: dict) -> str:  # type: ignore[type-arg]
    bound = report["p99_bound_ms"]
    out = [
        "# Service benchmark: latency-bounded rate (open loop)",
        "",
        f"Run {report['started']} to {report['finished']} UTC, one machine (2 cores), vegeta at constant "
        f"rates, {report['seconds_per_point']} s per rate; load average (1 min) {report['load_average_before'][0]:.1f} "
        f"before, {report['load_average_after'][0]:.1f} after. A rate is held when p99 <= {bound:.0f} ms "
        "(from when each request was due) and every request was answered 2xx. Each ladder stops at "
        "the first rate not held.",
        "",
        "## Highest rate held",
        "",
        "CPU per upload at the rate held (or, where none was, at the first rate); the ceiling is "
        "what the machine's cores could carry at that CPU per upload (server, node and vegeta), "
        "with no time left over for anything else.",
        "",
        "| server | store | input | uploads/s held | p99 there (ms) | server CPU ms/upload | Cassandra CPU ms/upload "
        "| vegeta CPU ms/upload | CPU-bound ceiling (uploads/s) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for line in lines(report):
        rate, at = held(report, line)
        if at is None:
            first = points(report, line)[0]
            out.append(
                f"| {line[0]} | {line[1]} | {line[2]} | none (at {first['offered']}/s: p99 {first['p99']:.0f} ms, "
                f"{first['throughput']:.1f} ok/s) | - | {cpu_columns(first)} |"
            )
            continue
        out.append(
            f"| {line[0]} | {line[1]} | {line[2]} | **{rate}** | {at['p99']:.1f} | {cpu_columns(at)} |"
        )
    out += ratios(report)
    out += [
        "",
        "## Every point",
        "",
        "| server | store | input | offered/s | ok/s | not 2xx | p50 ms | p90 ms | p99 ms | max ms "
        "| seconds over 100 ms | worst second's p99 ms | server CPU ms/req | Cassandra CPU ms/req "
        "| vegeta CPU ms/req | load avg |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["rows"]:
        out.append(
            f"| {r['server']} | {r['store']} | {r['input']} | {r['offered']} | {r['throughput']:.1f} | {r['not_ok']} "
            f"| {r['p50']:.1f} | {r['p90']:.1f} | {r['p99']:.1f} | {r['max']:.0f} "
            f"| {r.get('seconds_over_bound', '-')} | {r.get('worst_second_p99', float('nan')):.0f} | {r['server_cpu_ms']:.2f} "
            f"| {r['cassandra_cpu_ms']:.2f} | {r['loadgen_cpu_ms']:.2f} | {r['load_average']:.1f} |"
        )
    out += [
        "",
        "Resident memory of the largest process under each server (MB): "
        + ", ".join(f"{k} {v:.0f}" for k, v in report["worker_rss_mb"].items()),
        "",
    ]
    return "\n".join(out)


def cpu_columns(point: dict) -> str:  # type: ignore[type-arg]
    total = point["server_cpu_ms"] + point["cassandra_cpu_ms"] + point["loadgen_cpu_ms"]
    ceiling = (os.cpu_count() or 1) * 1000 / total if total else float("nan")
    return (
        f"{point['server_cpu_ms']:.2f} | {point['cassandra_cpu_ms']:.2f} | {point['loadgen_cpu_ms']:.2f} "
        f"| {ceiling:.0f}"
    )


def ratios(report: dict) -> list[str]:  # type: ignore[type-arg]
    """Ours against each peer on the same input, in the same run: held rate and server CPU."""
    out = ["", "## Ours beside the peers (same run, same input)", ""]
    out += [
        "| ours on | input | peer | held: ours / peer | server CPU per upload: ours / peer |",
        "|---|---|---|---|---|",
    ]
    found = False
    for ours in (line for line in lines(report) if line[0] == "ours"):
        for peer in (
            line for line in lines(report) if line[0] in ("bentoml", "litserve") and line[2] == ours[2]
        ):
            (rate, at), (peer_rate, peer_at) = held(report, ours), held(report, peer)
            if at is None or peer_at is None or not peer_rate:
                continue
            found = True
            out.append(
                f"| {ours[1]} | {ours[2]} | {peer[0]} | {rate} / {peer_rate} = **{rate / peer_rate:.2f}** "
                f"| {at['server_cpu_ms']:.2f} / {peer_at['server_cpu_ms']:.2f} = "
                f"{at['server_cpu_ms'] / peer_at['server_cpu_ms']:.2f} |"
            )
    return out if found else []


def plot(report: dict) -> None:  # type: ignore[type-arg]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = sorted({r["input"] for r in report["rows"]})
    figure, axes = plt.subplots(1, len(names), figsize=(6.5 * len(names), 5), squeeze=False)
    for axis, name in zip(axes[0], names, strict=True):
        for line in lines(report):
            if line[2] != name:
                continue
            chosen = points(report, line)
            axis.plot(
                [p["offered"] for p in chosen],
                [max(p["p99"], 0.1) for p in chosen],
                marker="o",
                label=f"{line[0]} / {line[1]}",
            )
        axis.axhline(report["p99_bound_ms"], color="grey", linestyle="--", linewidth=1)
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_title(name)
        axis.set_xlabel("offered rate (uploads/s)")
        axis.set_ylabel("p99 latency (ms), from when each request was due")
        axis.grid(True, alpha=0.3, which="both")
        axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(OUT / "open_loop.png", dpi=110)
