"""`fashion-classifier copy` at size: records/s both ways between SQLite and Cassandra, and peak memory.

    python bench/store_copy.py --cassandra 127.0.0.31:9042 --records 10000,100000

For each size: a SQLite file is seeded with that many records (a kept JPEG of a product photo,
~9 KB, a 256-float embedding, one in ten corrected), then `fashion-classifier copy` runs as
the user runs it, in a child process: SQLite -> a new Cassandra keyspace (to grow), then
Cassandra -> a new SQLite file (a backup), and with --rerun the same backup again with --verify
(a rerun that finds everything in place and checks every record by hash). Wall time and the child's
peak resident memory (wait4's ru_maxrss) are measured per run. Writes docs/benchmarks/copy.json
and copy.md. Not a test: numbers depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from PIL import Image

from fashion_classifier.config import Settings
from fashion_classifier.labels import CLASSES
from fashion_classifier.records import Prediction, Record, StoredImage, from_millis
from fashion_classifier.storage import open_store
from fashion_classifier.storage.transfer import Kept, open_for_copy

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "benchmarks"
SEED_PAGE = 1000
START_MS = 1_780_000_000_000


def pictures(count: int = 40) -> list[StoredImage]:
    """Kept copies as the service keeps a product photo: JPEG, 400x300, a garment on a light ground."""
    rng = np.random.default_rng(7)
    made = []
    for _ in range(count):
        canvas = np.full((300, 400), 235, dtype=np.uint8)
        x, y = rng.integers(20, 200), rng.integers(20, 120)
        canvas[y : y + 160, x : x + 140] = rng.integers(20, 120, size=(160, 140), dtype=np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(canvas).convert("RGB").save(buffer, "JPEG", quality=85)
        made.append(StoredImage(buffer.getvalue(), "image/jpeg"))
    return made


def seed(url: str, count: int) -> float:
    """`count` records with pictures and embeddings, a month of uploads; returns the mean picture size."""
    store = open_store(url)
    store.migrate()
    target = open_for_copy(url, Settings(), role="target")
    kept, rng = pictures(), random.Random(11)
    for start in range(0, count, SEED_PAGE):
        target.import_records([_item(i, kept, rng) for i in range(start, min(count, start + SEED_PAGE))])
    target.close()
    store.close()
    return sum(len(p.data) for p in kept) / len(kept)


def _item(i: int, kept: list[StoredImage], rng: random.Random) -> Kept:
    millis = START_MS + i * 26_000  # 100,000 uploads over a month
    record_id = uuid.UUID(int=(millis << 80) | (0x7 << 76) | (0b10 << 62) | rng.getrandbits(62))
    probabilities = [rng.random() for _ in CLASSES]
    total = sum(probabilities)
    vector = np.asarray([rng.gauss(0, 1) for _ in range(256)], dtype=np.float32)
    vector /= np.linalg.norm(vector)
    record = Record(
        id=record_id,
        created_at=from_millis(millis),
        filename=f"upload-{i}.jpg",
        prediction=Prediction.from_probabilities(
            tuple(p / total for p in probabilities), garment_score=rng.random()
        ),
        model_version="bench-model",
        width=4032,
        height=3024,
        corrected_label=rng.choice(CLASSES) if i % 10 == 0 else None,
    )
    return Kept(record, kept[i % len(kept)], (("bench-model", tuple(vector.tolist())),))


def timed_copy(*args: str, workdir: Path) -> dict[str, float]:
    """Run `fashion-classifier copy ARGS` in a child; its wall time and peak RSS."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "fashion_classifier.cli", "copy", *args],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=(workdir / "copy.stderr").open("w"),  # the progress lines, and what went wrong
        text=True,
    )
    output = child.stdout.read() if child.stdout else ""
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        errors = (workdir / "copy.stderr").read_text()[-2000:]
        raise SystemExit(f"copy {args} failed:\n{output}{errors}")
    print(output, end="", flush=True)
    return {"seconds": seconds, "peak_rss_mb": usage.ru_maxrss / 1024}


def migrated(url: str) -> str:
    store = open_store(url)
    store.migrate()
    store.close()
    return url


def run_size(
    count: int, hosts: str, workdir: Path, *, rerun: bool, done: Callable[[list[dict[str, object]]], None]
) -> list[dict[str, object]]:
    source = f"sqlite:///{workdir}/source-{count}.db"
    if (workdir / f"source-{count}.db").is_file() and open_store(source).count_records() == count:
        picture_kb = sum(len(p.data) for p in pictures()) / len(pictures()) / 1024  # seeded before
    else:
        picture_kb = seed(source, count) / 1024
    keyspace = f"bench_copy_{count}_{uuid.uuid4().hex[:6]}"
    cluster = migrated(f"cassandra://{hosts}/{keyspace}")
    backup = migrated(f"sqlite:///{workdir}/backup-{count}.db")
    plan: list[tuple[str, tuple[str, ...]]] = [
        ("SQLite -> Cassandra", (source, cluster)),
        ("Cassandra -> SQLite", (cluster, backup)),
    ]
    if rerun:
        plan.append(("Cassandra -> SQLite again, --verify", (cluster, backup, "--verify")))
    rows: list[dict[str, object]] = []
    for name, args in plan:
        figures = timed_copy(*args, workdir=workdir)
        rows.append(
            {
                "records": count,
                "direction": name,
                **figures,
                "records_per_s": count / figures["seconds"],
                "picture_kb": picture_kb,
            }
        )
        done(rows)
    _drop(hosts, keyspace)
    return rows


def _drop(hosts: str, keyspace: str) -> None:
    from cassandra.cluster import Cluster

    host, _, port = hosts.rpartition(":")
    cluster = Cluster(host.split(","), port=int(port), protocol_version=5)
    cluster.connect().execute(f"DROP KEYSPACE IF EXISTS {keyspace}", timeout=120)
    cluster.shutdown()


def report(rows: list[dict[str, object]], conditions: dict[str, str]) -> str:
    lines = [
        "# `fashion-classifier copy` at size",
        "",
        f"Measured {conditions['date']} by `python bench/store_copy.py` on {conditions['machine']}.",
        "",
        "| records | direction | seconds | records/s | peak RSS of the command |",
        "|---:|---|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['records']:,} | {row['direction']} | {row['seconds']:.0f} | {row['records_per_s']:,.0f} "
            f"| {row['peak_rss_mb']:.0f} MB |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--cassandra", required=True, help="host:port of a Cassandra node (its own, not a shared one)"
    )
    parser.add_argument("--records", default="100000,10000", help="sizes, comma-separated")
    parser.add_argument("--rerun", action="store_true", help="also time a second backup with --verify")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "bench-copy")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    rows: list[dict[str, object]] = []

    def write(latest: list[dict[str, object]]) -> None:
        """After every run: a long benchmark cut short still leaves its numbers."""
        conditions = {
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": f"{os.cpu_count()} cores, load average {load_before[0]:.1f} at the start and "
            f"{os.getloadavg()[0]:.1f} now (shared with other jobs)",
        }
        every = rows + latest
        (OUT / "copy.json").write_text(json.dumps({"conditions": conditions, "runs": every}, indent=2) + "\n")
        (OUT / "copy.md").write_text(report(every, conditions))
        print(report(every, conditions), flush=True)

    for count in (int(n) for n in args.records.split(",")):
        rows += run_size(count, args.cassandra, args.workdir, rerun=args.rerun, done=write)
    shutil.rmtree(args.workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
