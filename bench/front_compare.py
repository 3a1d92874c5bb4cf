"""Which HTTP front: server CPU per upload and slow clients, the setups side by side in one run.

    PYTHONPATH=src python bench/front_compare.py [--rounds 3] [--rate 30] [--seconds 20] [--slow 30]

Setups (the same Flask app, SQLite in a temporary folder, 2 workers x 4 threads each):
  serve          `fashion-classifier serve` of the checkout on PYTHONPATH; until issue 28 that was
                 front.py (our asyncio front), then gunicorn gthread on a Unix socket ("front" in
                 docs/benchmarks/front.md, measured at commit b94c3ca); since, nginx before granian
  granian        granian serving the WSGI app directly (2 workers, 4 blocking threads each)
  nginx          Debian's nginx (request buffering), gunicorn gthread behind it on a Unix socket
  nginx-granian  the same nginx, granian behind it on a Unix socket

For each round, setup and input (640x480 JPEG, 28x28 PNG): vegeta sends `rate` uploads a second
for `seconds` (bench/open_loop.py), and the user+system CPU of every process of the setup is read
from /proc before and after. Rounds alternate the setups (A B C D A B C D ...) to spread the
machine's noise. Then bench/slow_clients.py's attack for `slow` seconds on each setup. The load
average is recorded with every figure. Writes docs/benchmarks/front.json; front.md is written by hand.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from tests.e2e.conftest import migrate  # noqa: E402

import open_loop  # noqa: E402
from service import BOUNDARY, INPUTS, cpu_seconds, cpu_used, free_port, multipart, server_pids  # noqa: E402
from slow_clients import attack as slow_attack  # noqa: E402

RESULTS = ROOT / "docs" / "benchmarks" / "front.json"
SETUPS = ("serve", "granian", "nginx", "nginx-granian")
NGINX_CONF = """
daemon off;
worker_processes 1;
{user}
pid {folder}/nginx.pid;
error_log {folder}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {folder}/client-body;
  proxy_temp_path {folder}/proxy;
  fastcgi_temp_path {folder}/fastcgi;
  uwsgi_temp_path {folder}/uwsgi;
  scgi_temp_path {folder}/scgi;
  client_header_timeout 10s;
  client_body_timeout 10s;
  client_max_body_size {max_body};
  client_body_buffer_size 1m;
  keepalive_timeout 75s;
  upstream app {{ server unix:{socket}; keepalive 8; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_request_buffering on;
      proxy_read_timeout 120s;
    }}
  }}
}}
"""


def granian(folder: Path, *, port: int | None) -> list[str]:
    where = ["--host", "127.0.0.1", "--port", str(port)] if port else ["--uds", str(folder / "app.sock")]
    return [
        *(sys.executable, "-m", "granian", "--interface", "wsgi", "--factory", "--http", "1", "--no-ws"),
        *("--workers", "2", "--blocking-threads", "4", "--http1-header-read-timeout", "10000"),
        *("--working-dir", str(ROOT / "bench"), "--respawn-failed-workers", *where),
        "front_apps:granian_app",
    ]


def commands(setup: str, folder: Path, port: int) -> list[list[str]]:
    """The processes of a setup, started in this order."""
    gunicorn = [sys.executable, str(ROOT / "bench" / "front_apps.py"), "gunicorn", str(folder / "app.sock")]
    nginx = ["nginx", "-c", str(folder / "nginx.conf"), "-e", str(folder / "nginx-error.log")]
    return {
        "serve": [[sys.executable, "-m", "fashion_classifier.cli", "serve", "--port", str(port)]],
        "granian": [granian(folder, port=port)],
        "nginx": [gunicorn, nginx],
        "nginx-granian": [granian(folder, port=None), nginx],
    }[setup]


def write_nginx_conf(folder: Path, port: int) -> None:
    user = "user root root;" if os.geteuid() == 0 else ""
    text = NGINX_CONF.format(folder=folder, port=port, socket=folder / "app.sock", max_body="20m", user=user)
    (folder / "nginx.conf").write_text(text)


@contextmanager
def running(setup: str, database: str) -> Iterator[tuple[str, list[subprocess.Popen[bytes]]]]:
    migrate(database)
    folder = Path(tempfile.mkdtemp(prefix=f"front-{setup}-"))
    port = free_port()
    write_nginx_conf(folder, port)
    env = {
        **os.environ,
        "DATABASE_URL": database,
        "WEB_CONCURRENCY": "2",
        "THREADS": "4",
        "PROMETHEUS_MULTIPROC_DIR": str(folder / "metrics"),
        "LOG_LEVEL": "WARNING",
    }
    (folder / "metrics").mkdir()
    processes = []
    log = (folder / "server.log").open("wb")
    try:
        for command in commands(setup, folder, port):
            processes.append(
                subprocess.Popen(
                    command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
            )
            if command[0] != "nginx":
                wait_for_socket(folder / "app.sock", processes[-1]) if setup.startswith("nginx") else None
        url = f"http://127.0.0.1:{port}"
        wait_until_uploading(url, processes, folder)
        yield url, processes
    finally:
        for process in reversed(processes):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()


def wait_for_socket(path: Path, process: subprocess.Popen[bytes]) -> None:
    for _ in range(600):
        if path.exists() or process.poll() is not None:
            return
        time.sleep(0.2)


def wait_until_uploading(url: str, processes: list[subprocess.Popen[bytes]], folder: Path) -> None:
    body = multipart("png.bin", INPUTS["png-28x28"])
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    for _ in range(400):
        if any(p.poll() is not None for p in processes):
            break
        with contextlib.suppress(requests.RequestException):
            if requests.post(f"{url}/api/v1/predictions", data=body, headers=headers, timeout=30).ok:
                return
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not come up:\n{(folder / 'server.log').read_text()[-3000:]}")


def all_pids(processes: list[subprocess.Popen[bytes]]) -> list[int]:
    return [pid for process in processes for pid in server_pids(process)]


def cpu_point(
    url: str, processes: list[subprocess.Popen[bytes]], name: str, rate: int, seconds: int
) -> dict[str, Any]:
    """`rate` uploads/s of input `name` for `seconds`; server CPU ms per upload and the latencies."""
    with tempfile.TemporaryDirectory() as work:
        body = Path(work) / "body.bin"
        body.write_bytes(multipart(f"{name}.bin", INPUTS[name]))
        target = open_loop.Target(
            f"{url}/api/v1/predictions", f"multipart/form-data; boundary={BOUNDARY}", body
        )
        open_loop.attack(target, rate, 3, Path(work))  # warm: connections, caches
        load_before = os.getloadavg()[0]
        before = cpu_seconds(all_pids(processes))
        point: dict[str, Any] = dict(open_loop.attack(target, rate, seconds, Path(work)))
        after = cpu_seconds(all_pids(processes))
    point["server_cpu_ms"] = round(cpu_used(before, after) / max(point["ok"], 1) * 1000, 3)
    point["load"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    return point


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rate", type=int, default=30)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--slow", type=float, default=30, help="seconds of slow clients per setup (0: none)")
    parser.add_argument("--setups", default=",".join(SETUPS))
    parser.add_argument("--out", type=Path, default=RESULTS, help="where the JSON goes")
    args = parser.parse_args()
    setups = args.setups.split(",")
    report: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpu": [],
        "slow": {},
    }
    with tempfile.TemporaryDirectory() as data:
        for round_ in range(args.rounds):
            for setup in setups:
                database = f"sqlite:///{data}/{setup}-{round_}.db"
                with running(setup, database) as (url, processes):
                    for name in INPUTS:
                        point = cpu_point(url, processes, name, args.rate, args.seconds)
                        row = {"round": round_, "setup": setup, "input": name, **point}
                        report["cpu"].append(row)
                        print(
                            f"{setup:14} {name:13} {point['server_cpu_ms']:6.2f} ms CPU/upload  "
                            f"p50 {point['p50']:6.1f} p99 {point['p99']:7.1f} ms  ok {point['ok']}/"
                            f"{point['requests']}  load {point['load']}",
                            flush=True,
                        )
                args.out.write_text(json.dumps(report, indent=1) + "\n")
        if args.slow:
            for setup in setups:
                with running(setup, f"sqlite:///{data}/{setup}-slow.db") as (url, _):
                    load = os.getloadavg()[0]
                    result = slow_attack(url, args.slow, 40, 10)
                    result["load"] = [round(load, 2), round(os.getloadavg()[0], 2)]
                report["slow"][setup] = result
                print(setup, json.dumps(result), flush=True)
                args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
