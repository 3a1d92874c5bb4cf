"""50 slow clients for 60 s against `fashion-classifier serve`: how fast do others get answers?

    PYTHONPATH=src python bench/slow_clients.py [--label after] [--seconds 60] [--slow-headers 40 --slow-bodies 10]
    PYTHONPATH=src python bench/slow_clients.py --url http://127.0.0.1:8987 --label compose

40 sockets send a header line every 2 s, 10 trickle a chunked body (1 KB every 0.5 s); a socket
the server answers or closes is opened again. Meanwhile one other client asks /healthz and
uploads a 28x28 PNG in turn, every 0.5 s. Without --url the bench starts its own server on
SQLite; with --url it measures a running one (e.g. the compose stack: tools/containers/compose.sh
up -d). Prints a table and adds it, under --label, to docs/benchmarks/slow_clients.json. Run
with PYTHONPATH pointing at an older checkout's src/ to measure that one.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.conftest import start_server, stop_server  # noqa: E402
from tests.pictures import dataset_png, first_of_class  # noqa: E402
from tests.slowloris import SlowClients, timed_get, timed_upload  # noqa: E402

RESULTS = ROOT / "docs" / "benchmarks" / "slow_clients.json"
PATIENCE_S = 5.0  # a probe that takes longer counts as failed (Kubernetes' probe timeout is 3 s)


def summary(times: list[float | None]) -> dict[str, float | int]:
    answered = sorted(t for t in times if t is not None)
    return {
        "probes": len(times),
        "failed_or_over_5s": len(times) - len(answered),
        "over_1s": sum(1 for t in answered if t > 1.0),
        "median_ms": round(statistics.median(answered) * 1000, 1) if answered else -1,
        "max_ms": round(answered[-1] * 1000, 1) if answered else -1,
    }


def attack(url: str, seconds: float, slow_headers: int, slow_bodies: int) -> dict[str, object]:
    """Slow clients on `url`'s host and port while one other client probes it."""
    png, _ = dataset_png(first_of_class(3))
    address = urlsplit(url)
    health: list[float | None] = []
    uploads: list[float | None] = []
    with SlowClients(
        address.hostname or "127.0.0.1", address.port or 80, headers=slow_headers, bodies=slow_bodies
    ) as slow:
        time.sleep(3)
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            health.append(timed_get(f"{url}/healthz", PATIENCE_S))
            uploads.append(timed_upload(url, png, PATIENCE_S))
            time.sleep(0.5)
    answers: dict[str, int] = {}
    for answer in slow.refused:
        status = answer[9:12].decode(errors="replace") if answer.startswith(b"HTTP/") else "closed"
        answers[status] = answers.get(status, 0) + 1
    return {
        "seconds": seconds,
        "slow_sockets_opened": slow.opened,
        "slow_clients_answered": answers,
        "healthz": summary(health),
        "upload": summary(uploads),
    }


def measure(seconds: float, slow_headers: int, slow_bodies: int) -> dict[str, object]:
    """The attack on a server of our own, on SQLite in a temporary folder."""
    with tempfile.TemporaryDirectory() as folder:
        server = start_server(f"sqlite:///{folder}/bench.db", Path(folder) / "server.log")
        try:
            return attack(server.url, seconds, slow_headers, slow_bodies)
        finally:
            stop_server(server)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--label", default="after")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--slow-headers", type=int, default=40)
    parser.add_argument("--slow-bodies", type=int, default=10, help="0 and 0: the same probes, no attack")
    parser.add_argument("--url", help="a running server (e.g. http://127.0.0.1:8987), not one of our own")
    args = parser.parse_args()
    if args.url:
        result = attack(args.url.rstrip("/"), args.seconds, args.slow_headers, args.slow_bodies)
        result["target"] = args.url
    else:
        result = measure(args.seconds, args.slow_headers, args.slow_bodies)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results[args.label] = {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), **result}
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    print(f"{'probe':<8} {'probes':>6} {'failed/>5s':>10} {'>1s':>5} {'median ms':>10} {'max ms':>8}")
    for name in ("healthz", "upload"):
        row = result[name]
        assert isinstance(row, dict)
        print(
            f"{name:<8} {row['probes']:>6} {row['failed_or_over_5s']:>10} {row['over_1s']:>5} "
            f"{row['median_ms']:>10} {row['max_ms']:>8}"
        )
    print(f"slow sockets opened: {result['slow_sockets_opened']}; answers: {result['slow_clients_answered']}")


if __name__ == "__main__":
    main()
