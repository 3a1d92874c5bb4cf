"""A real server (`fashion-classifier serve`, gunicorn) on a free port, per store."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.cassandra_node import cassandra_test_url

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def logs(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def migrate(database_url: str, *args: str, **env: str) -> str:
    """`fashion-classifier migrate`, as every deployment runs it before the app starts; its output."""
    command = [sys.executable, "-m", "fashion_classifier.cli", "migrate", *args]
    environment = {**os.environ, "DATABASE_URL": database_url, **env}
    done = subprocess.run(
        command, check=False, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"migrate failed:\n{done.stdout}{done.stderr}"
    return done.stdout


def launch_server(database_url: str, log: Path, **env: str) -> Server:
    """`fashion-classifier serve` on a free port, not waiting for it to be ready."""
    port = free_port()
    environment = {**os.environ, "DATABASE_URL": database_url, "WEB_CONCURRENCY": "2", **env}
    command = [sys.executable, "-m", "fashion_classifier.cli", "serve", "--port", str(port)]
    with log.open("wb") as output:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(
            command, cwd=ROOT, env=environment, stdout=output, stderr=subprocess.STDOUT
        )
    return Server(f"http://127.0.0.1:{port}", process, log)


def start_server(database_url: str, log: Path, **env: str) -> Server:
    """Migrate the store, serve, and return once /readyz says ready."""
    migrate(database_url, **env)
    server = launch_server(database_url, log, **env)
    process = server.process
    if wait_until_ready(server, seconds=120):
        return server
    stop_server(server)
    raise RuntimeError(f"server not ready within 120 s (exit code {process.returncode}):\n{server.logs()}")


def wait_until_ready(server: Server, *, seconds: float, probe: str = "/readyz") -> bool:
    """Poll /readyz (or `probe`); the first call may be slow (it opens the store's connection)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and server.process.poll() is None:
        try:
            if requests.get(f"{server.url}{probe}", timeout=15).status_code == 200:
                return True
        except requests.RequestException:
            pass  # not listening yet, or busy starting: ask again
        time.sleep(0.3)
    return False


def stop_server(server: Server) -> int:
    server.process.terminate()
    try:
        return server.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.process.kill()
        return server.process.wait()


@pytest.fixture(scope="module", params=["sqlite", pytest.param("cassandra", marks=pytest.mark.cassandra)])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp(f"server-{request.param}")
    if request.param == "sqlite":
        url = f"sqlite:///{folder}/e2e.db"
    else:
        url = cassandra_test_url(f"fc_e2e_{uuid.uuid4().hex[:8]}")
    running = start_server(url, folder / "server.log")
    yield running
    stop_server(running)
