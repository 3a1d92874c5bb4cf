"""Service benchmark: our API beside the servers people would pick instead, on one machine, in one run.

`make bench` runs the open loop (the default): for each server and input a ladder of constant
rates sent by vegeta (bench/open_loop.py), each held BENCH_POINT_SECONDS (30 s); the figure is
the highest rate with p99 <= 100 ms and every request answered 2xx. Servers: ours on SQLite and
on Cassandra, BentoML and LitServe serving the same model with the same preprocessing and no
store (from bench/.venv-peers), and the seed-style baseline. Writes
docs/benchmarks/open_loop.{md,json,png}.

`--closed-loop` runs the older closed loop instead: wrk at 1, 8, 32 and 64 connections, into
docs/benchmarks/service.{md,json,png}.

The Cassandra node is the one tools/cassandra/cassandra.sh started with the same
CASSANDRA_NODE_OFFSET (default 0: 127.0.0.1).
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import requests
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "benchmarks"
NODE_OFFSET = int(os.environ.get("CASSANDRA_NODE_OFFSET", "0"))
CASSANDRA_HOST = f"127.0.0.{NODE_OFFSET + 1}"
CASSANDRA_RUN = ROOT / "tools" / "cassandra" / ("run" if NODE_OFFSET == 0 else f"run-offset{NODE_OFFSET}")
PEERS = ROOT / "bench" / ".venv-peers"  # git-ignored: BentoML and LitServe, away from our own venv
CLIENTS = (1, 8, 32, 64)
SECONDS = int(os.environ.get("BENCH_SECONDS", "8"))
BOUNDARY = "fashionbenchboundary"


def inputs() -> dict[str, bytes]:
    """A 640x480 product-style JPEG and a 28x28 data-set PNG."""
    from fashion_classifier.training import data

    garment = data.load().test.images[0]
    photo = Image.new("RGB", (640, 480), (245, 243, 240))
    photo.paste(Image.fromarray(255 - garment).resize((300, 300)).convert("RGB"), (250, 90))
    jpeg, png = io.BytesIO(), io.BytesIO()
    photo.save(jpeg, format="JPEG", quality=90)
    Image.fromarray(garment).save(png, format="PNG")
    return {"jpeg-640x480": jpeg.getvalue(), "png-28x28": png.getvalue()}


def multipart(name: str, content: bytes) -> bytes:
    head = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n\r\n'
    return head.encode() + content + f"\r\n--{BOUNDARY}--\r\n".encode()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Where each server takes an upload, and how: a multipart field "file", or base64 in JSON.
ENDPOINTS = {
    "ours": ("/api/v1/predictions", "multipart"),
    "seed": ("/api/v1/predictions", "multipart"),
    "noop-wsgi": ("/api/v1/predictions", "multipart"),
    "noop-flask": ("/api/v1/predictions", "multipart"),
    "bentoml": ("/classify", "multipart"),
    "litserve": ("/predict", "json"),
}


@contextmanager
def server(kind: str, env: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Start one of: ours (fashion-classifier serve), seed (gunicorn + seed app), the two no-op
    floors, or a peer (bentoml, litserve) from bench/.venv-peers."""
    port = free_port()
    gunicorn = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "2",
        "--worker-class",
        "gthread",
        "--threads",
        "4",
        "--no-control-socket",
        # Idle kept-alive connections stay open a while (gunicorn's default is 2 s): a load
        # generator reusing a connection the server has just closed would count an error.
        "--keep-alive",
        "75",
    ]
    commands = {
        "ours": [sys.executable, "-m", "fashion_classifier.cli", "serve", "--port", str(port)],
        "seed": [*gunicorn, "--chdir", str(ROOT / "bench"), "--timeout", "120", "seed_baseline:create_app()"],
        "noop-wsgi": [*gunicorn, "--chdir", str(ROOT / "bench"), "noop_app:app"],
        "noop-flask": [*gunicorn, "--chdir", str(ROOT / "bench"), "noop_app:flask_app"],
        "bentoml": [
            str(PEERS / "bin" / "bentoml"),
            "serve",
            "bento_service:FashionClassifier",
            "--working-dir",
            str(ROOT / "bench" / "peers"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        "litserve": [
            str(PEERS / "bin" / "python"),
            str(ROOT / "bench" / "peers" / "litserve_server.py"),
            str(port),
        ],
    }
    environment = {
        **os.environ,
        "WEB_CONCURRENCY": "2",
        "THREADS": "4",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT / "src"),
        "MODEL_PATH": str(ROOT / "models" / "fashion_cnn.int8.onnx"),
        **env,
    }
    if kind == "ours":  # as `make run`: the schema first, then the server
        migrate = [sys.executable, "-m", "fashion_classifier.cli", "migrate"]
        subprocess.run(migrate, cwd=ROOT, env=environment, check=True, stdout=subprocess.DEVNULL)
    process = subprocess.Popen(
        commands[kind],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the peers leave workers behind on SIGTERM
    )
    prioritise(process.pid)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(url, kind, process)
        yield url, process
    finally:
        stop_group(process)


def prioritise(pid: int) -> None:
    """With BENCH_AUTOGROUP_NICE (e.g. -10), give the server's session that scheduling weight
    against the machine's other sessions (on a shared machine; plain renice does not do it)."""
    nice = os.environ.get("BENCH_AUTOGROUP_NICE")
    if nice:
        Path(f"/proc/{pid}/autogroup").write_text(nice)


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group; SIGKILL to what is left after 30 s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=30)
    with contextlib.suppress(ProcessLookupError):
        time.sleep(2)
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def upload_body(kind: str, name: str, content: bytes) -> tuple[bytes, str]:
    """The request body a server takes the picture in, and its content type."""
    if ENDPOINTS[kind][1] == "json":
        return json.dumps({"image": base64.b64encode(content).decode()}).encode(), "application/json"
    return multipart(f"{name}.bin", content), f"multipart/form-data; boundary={BOUNDARY}"


def wait_until_answering(url: str, kind: str, process: subprocess.Popen[bytes]) -> None:
    body, content_type = upload_body(kind, "png-28x28", INPUTS["png-28x28"])
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        try:
            answer = requests.post(
                url + ENDPOINTS[kind][0], data=body, headers={"Content-Type": content_type}, timeout=60
            )
            if answer.ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{kind} at {url} did not come up")


def run_wrk(url: str, body: Path, clients: int, master: subprocess.Popen[bytes]) -> dict[str, float]:
    """One point: throughput, latency percentiles, errors, and the CPU each request cost."""
    env = {**os.environ, "BENCH_BODY": str(body), "BENCH_BOUNDARY": BOUNDARY}
    command = [
        "wrk",
        f"-t{min(clients, 2)}",
        f"-c{clients}",
        f"-d{SECONDS}s",
        "--timeout",
        "30s",
        "-s",
        str(ROOT / "bench" / "post.lua"),
        f"{url}/api/v1/predictions",
    ]
    server_before, node_before = cpu_seconds(server_pids(master)), cpu_seconds(cassandra_pids())
    output = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    server_after, node_after = cpu_seconds(server_pids(master)), cpu_seconds(cassandra_pids())
    result = json.loads(re.search(r"^JSON (.*)$", output, re.M).group(1))  # type: ignore[union-attr]
    result["rps"] = result["requests"] / result["seconds"]
    requests_done = max(result["requests"], 1)
    result["server_cpu_ms"] = cpu_used(server_before, server_after) / requests_done * 1000
    result["cassandra_cpu_ms"] = cpu_used(node_before, node_after) / requests_done * 1000
    return result


def server_pids(master: subprocess.Popen[bytes]) -> list[int]:
    """The server's first process and all its descendants (gunicorn's workers, the front, a
    peer's workers)."""
    parents = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            found = re.search(r"^PPid:\s+(\d+)$", status.read_text(), re.M)
        except OSError:
            continue
        if found:
            parents[int(status.parent.name)] = int(found.group(1))
    pids = [master.pid]
    for pid in pids:  # grows while it is walked: breadth first
        pids += [child for child, parent in parents.items() if parent == pid]
    return pids


def cassandra_pids() -> list[int]:
    """The local Cassandra nodes started by tools/cassandra/cassandra.sh (they share our 2 cores)."""
    return [int(f.read_text()) for f in CASSANDRA_RUN.glob("node*/pid")]


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU time each of these processes has used so far."""
    used = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone already
        used[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    return used


def cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds spent in between by the processes alive at both ends (a worker that died and
    was replaced takes its time with it: the figure is then a lower bound)."""
    return sum(after[pid] - before[pid] for pid in before.keys() & after.keys())


def worker_rss_mb(master: subprocess.Popen[bytes]) -> float:
    """Resident size of the largest process under the server's first one (a worker)."""
    sizes = []
    for pid in server_pids(master)[1:]:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        sizes.append(int(re.search(r"^VmRSS:\s+(\d+)", status, re.M).group(1)) / 1024)  # type: ignore[union-attr]
    return max(sizes, default=0.0)


INPUTS = inputs()


def main() -> None:
    if "--closed-loop" in sys.argv[1:]:
        closed_loop()
    else:
        from open_loop_report import run

        run()


def closed_loop() -> None:
    bodies = {}
    folder = Path(tempfile.mkdtemp(prefix="bench-"))
    for name, content in INPUTS.items():
        bodies[name] = folder / f"{name}.body"
        bodies[name].write_bytes(multipart(f"{name}.bin", content))
    keyspace = f"bench_{uuid.uuid4().hex[:8]}"
    setups = [
        ("ours", "sqlite", {"DATABASE_URL": f"sqlite:///{folder}/bench.db"}, list(INPUTS)),
        (
            "ours",
            "cassandra",
            {"DATABASE_URL": f"cassandra://{CASSANDRA_HOST}:9042/{keyspace}", "CASSANDRA_CONSISTENCY": "ONE"},
            list(INPUTS),
        ),
        (
            "seed",
            "cassandra",
            {"SEED_KEYSPACE": keyspace + "_seed", "SEED_CASSANDRA_HOST": CASSANDRA_HOST},
            list(INPUTS),
        ),
        ("noop-flask", "-", {}, list(INPUTS)),
        ("noop-wsgi", "-", {}, list(INPUTS)),
    ]
    rows, memory = [], {}
    for kind, store, env, names in setups:
        with server(kind, env) as (url, process):
            memory[f"{kind}/{store}"] = worker_rss_mb(process)
            for name in names:
                for clients in CLIENTS:
                    result = run_wrk(url, bodies[name], clients, process)
                    rows.append({"server": kind, "store": store, "input": name, "clients": clients, **result})
                    print(
                        f"{kind:10} {store:9} {name:12} {clients:3} clients: {result['rps']:8.1f} req/s "
                        f"p50 {result['p50']:7.1f} p99 {result['p99']:7.1f} ms errors {result['errors']} "
                        f"CPU/request server {result['server_cpu_ms']:.2f} ms, Cassandra {result['cassandra_cpu_ms']:.2f} ms",
                        flush=True,
                    )
            memory[f"{kind}/{store}"] = max(memory[f"{kind}/{store}"], worker_rss_mb(process))
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds_per_point": SECONDS,
        "rows": rows,
        "worker_rss_mb": memory,
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "service.json").write_text(json.dumps(report, indent=1) + "\n")
    (OUT / "service.md").write_text(render(report))
    plot(report)
    print(render(report))


def find(report: dict, server: str, store: str, name: str, clients: int) -> dict:  # type: ignore[type-arg]
    return next(
        r
        for r in report["rows"]
        if (r["server"], r["store"], r["input"], r["clients"]) == (server, store, name, clients)
    )


def render(report: dict) -> str:  # type: ignore[type-arg]
    lines = [
        "# Service benchmark",
        "",
        f"Run {report['date']}, {report['seconds_per_point']} s per point, wrk, 2 gunicorn "
        "workers x 4 threads for every server, Cassandra at consistency ONE on the same 2 cores.",
        "",
        "CPU per request: the server's processes (master and workers) and the Cassandra node's JVM,",
        "measured from /proc over the point (the JVM also ticks over when idle: see the SQLite rows).",
        "",
        "| server | store | input | clients | req/s | p50 ms | p95 ms | p99 ms | errors "
        "| server CPU ms/req | Cassandra CPU ms/req |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["rows"]:
        lines.append(
            f"| {r['server']} | {r['store']} | {r['input']} | {r['clients']} | {r['rps']:.1f} | {r['p50']:.1f} | "
            f"{r['p95']:.1f} | {r['p99']:.1f} | {r['errors']} | {r['server_cpu_ms']:.2f} | {r['cassandra_cpu_ms']:.2f} |"
        )
    lines += ["", "## Headline: 32 clients, Cassandra", ""]
    lines += [
        "| input | ours / seed-style | ours / no-op Flask floor | ours / no-op WSGI floor | ours p99 ms | errors |",
        "|---|---|---|---|---|---|",
    ]
    for name in sorted({r["input"] for r in report["rows"]}):
        ours = find(report, "ours", "cassandra", name, 32)
        seed = find(report, "seed", "cassandra", name, 32)
        flask = find(report, "noop-flask", "-", name, 32)
        wsgi = find(report, "noop-wsgi", "-", name, 32)
        lines.append(
            f"| {name} | **{ratio(ours, seed):.1f}x** | {ratio(ours, flask):.0%} | {ratio(ours, wsgi):.0%} "
            f"| {ours['p99']:.1f} | {ours['errors']} |"
        )
    lines += [
        "",
        "Resident memory of one worker (MB): "
        + ", ".join(f"{k} {v:.0f}" for k, v in report["worker_rss_mb"].items()),
        "",
    ]
    return "\n".join(lines)


def ratio(a: dict, b: dict) -> float:  # type: ignore[type-arg]
    return a["rps"] / b["rps"] if b["rps"] else float("inf")


def plot(report: dict) -> None:  # type: ignore[type-arg]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(8, 5))
    for server, store, name in sorted({(r["server"], r["store"], r["input"]) for r in report["rows"]}):
        points = [find(report, server, store, name, c) for c in CLIENTS]
        axis.plot(CLIENTS, [p["rps"] for p in points], marker="o", label=f"{server} / {store} / {name}")
    axis.set_xscale("log", base=2)
    axis.set_yscale("log")
    axis.set_xlabel("concurrent clients")
    axis.set_ylabel("requests per second")
    axis.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    axis.grid(True, alpha=0.3)
    figure.savefig(OUT / "service.png", dpi=110, bbox_inches="tight")


if __name__ == "__main__":
    main()
