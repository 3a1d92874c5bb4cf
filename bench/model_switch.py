"""Latency while the model switches under load: uploads at a constant rate, a promotion, a rollback.

A real `fashion-classifier serve` (2 workers, MODEL_POLL_SECONDS=2) on SQLite (and on Cassandra
with --cassandra, the node of CASSANDRA_NODE_OFFSET). Open loop: a 640x480 JPEG upload is
sent every 1/RATE s whatever the answers do, and each latency is counted from the moment its
request was due (no coordinated omission). Every EVERY_S the active version flips between the
shipped model and a second version (its bytes under another version name): a promotion, then
a rollback, and so on, through the service's registry in this process (as `models promote`
does, without starting a CLI on the serving machine). Requests due in the SWITCH_WINDOW_S after
a flip are the "switch" set, the others the "steady" set: the machine's other load falls on
both alike, so their difference is what switching costs.
Appends its figures to docs/benchmarks/model_switch.json.

    .venv/bin/python bench/model_switch.py [--rate 20] [--seconds 260] [--cassandra]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import requests
from PIL import Image

from fashion_classifier.config import Settings

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "benchmarks"
SHIPPED = ROOT / "models" / "fashion_cnn.int8.onnx"
SWITCH_WINDOW_S = 10.0  # a poll interval (2 s), the new model's load, and then some
EVERY_S = 20.0
POLL_S = "2"


def cli(env: dict[str, str], *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "fashion_classifier.cli", *args],
        env=env,
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stdout}{done.stderr}")


def photo() -> bytes:
    picture = Image.new("RGB", (640, 480), (245, 243, 240))
    picture.paste(Image.new("RGB", (300, 300), (40, 40, 60)), (170, 90))
    out = io.BytesIO()
    picture.save(out, format="JPEG", quality=90)
    return out.getvalue()


def start(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with log.open("wb") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "fashion_classifier.cli", "serve", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if requests.get(f"{url}/readyz", timeout=5).status_code == 200:
                return server, url
        except requests.RequestException:
            pass
        time.sleep(0.2)
    server.terminate()
    raise SystemExit(f"server not ready:\n{log.read_text()[-3000:]}")


def run(url: str, env: dict[str, str], *, rate: float, seconds: float, version: str) -> dict[str, object]:
    body = photo()
    results: list[tuple[float, float, int, str]] = []  # due (s from start), latency, status, version
    local = threading.local()

    def send(due: float, start: float) -> None:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        try:
            answer = session.post(f"{url}/api/v1/predictions", files={"file": ("p.jpg", body)}, timeout=30)
            status = answer.status_code
            answered = answer.json()["predictions"][0]["model_version"] if status == 201 else ""
        except requests.RequestException:
            status, answered = 0, ""
        results.append((due, time.monotonic() - start - due, status, answered))

    switches: list[tuple[str, float]] = []

    def flip(start: float) -> None:
        from fashion_classifier.service import PredictionService

        service = PredictionService.from_settings(Settings.from_env(env), with_model=False)
        moment = EVERY_S
        while moment + EVERY_S <= seconds:
            time.sleep(max(0.0, start + moment - time.monotonic()))
            promoting = len(switches) % 2 == 0
            switches.append(("promote" if promoting else "rollback", time.monotonic() - start))
            if promoting:
                service.models.promote(version)
            else:
                service.models.rollback()
            moment += EVERY_S
        service.close()

    start = time.monotonic()
    flipper = threading.Thread(target=flip, args=(start,))
    flipper.start()
    with ThreadPoolExecutor(64) as pool:
        for k in range(int(rate * seconds)):
            due = k / rate
            time.sleep(max(0.0, start + due - time.monotonic()))
            pool.submit(send, due, start)
    flipper.join()
    return summarise(results, switches, version)


def summarise(
    results: list[tuple[float, float, int, str]], switches: list[tuple[str, float]], version: str
) -> dict[str, object]:
    def window(due: float) -> str:
        return "switch" if any(at <= due < at + SWITCH_WINDOW_S for _, at in switches) else "steady"

    def figures(latencies: list[float]) -> dict[str, float]:
        ms = np.array(latencies) * 1000
        return {
            "count": len(ms),
            "p50_ms": round(float(np.percentile(ms, 50)), 1),
            "p99_ms": round(float(np.percentile(ms, 99)), 1),
            "max_ms": round(float(ms.max()), 1),
        }

    return {
        **{
            name: figures([lat for due, lat, _, _ in results if window(due) == name])
            for name in ("steady", "switch")
        },
        "failed": sum(1 for _, _, status, _ in results if status != 201),
        "versions": sorted({v for *_, v in results}),
        "switches": len(switches),
        # After each flip, the last request still answered by the version before it (seconds).
        "last_old_answer_s": max(
            (
                max(
                    (due - at for due, _, _, v in results if at <= due < at + EVERY_S and v != version),
                    default=0,
                )
                if name == "promote"
                else max(
                    (due - at for due, _, _, v in results if at <= due < at + EVERY_S and v == version),
                    default=0,
                )
            )
            for name, at in switches
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=20.0, help="uploads per second")
    parser.add_argument("--seconds", type=float, default=260.0)
    parser.add_argument("--cassandra", action="store_true")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="model-switch-"))
    offset = int(os.environ.get("CASSANDRA_NODE_OFFSET", "0"))
    store = (
        f"cassandra://127.0.0.{offset + 1}:9042/bench_switch_{uuid.uuid4().hex[:6]}"
        if args.cassandra
        else f"sqlite:///{folder}/switch.db"
    )
    env = {**os.environ, "DATABASE_URL": store, "WEB_CONCURRENCY": "2", "MODEL_POLL_SECONDS": POLL_S}
    cli(env, "migrate")
    version = f"bench-{uuid.uuid4().hex[:6]}"
    card = json.loads(SHIPPED.with_suffix(".json").read_text())
    card.update(version=version, embedding_version=card["version"])
    (folder / "second.onnx").write_bytes(SHIPPED.read_bytes())
    (folder / "second.json").write_text(json.dumps(card))
    cli(env, "models", "add", str(folder / "second.onnx"))
    server, url = start(env, folder / "server.log")
    try:
        figures = run(url, env, rate=args.rate, seconds=args.seconds, version=version)
    finally:
        server.terminate()
        server.wait(timeout=60)
    kind = "cassandra" if args.cassandra else "sqlite"
    report = {
        "when": datetime.now(UTC).isoformat(timespec="minutes"),
        "store": kind,
        "rate": args.rate,
        "seconds": args.seconds,
        "workers": 2,
        "poll_s": int(POLL_S),
        **figures,
    }
    print(json.dumps(report, indent=1))
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "model_switch.json"
    runs = json.loads(path.read_text()) if path.is_file() else []
    path.write_text(json.dumps([*runs, report], indent=1) + "\n")


if __name__ == "__main__":
    main()
