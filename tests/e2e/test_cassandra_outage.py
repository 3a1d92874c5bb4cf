"""The Cassandra node goes away under a running service, then comes back: no restart needed."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.cassandra_node import cassandra_test_url, run_script
from tests.e2e.conftest import Server, start_server, stop_server
from tests.pictures import dataset_png

pytestmark = pytest.mark.cassandra


@pytest.fixture
def cassandra_server(tmp_path: Path) -> Iterator[Server]:
    running = start_server(cassandra_test_url(f"fc_outage_{uuid.uuid4().hex[:8]}"), tmp_path / "server.log")
    yield running
    stop_server(running)
    run_script("start")  # leave the node up for the rest of the suite, whatever happened


def upload(server: Server, name: str) -> requests.Response:
    png, _ = dataset_png(0)
    return requests.post(
        f"{server.url}/api/v1/predictions", files={"file": (name, png, "image/png")}, timeout=60
    )


def test_uploads_get_503_while_the_node_is_down_and_succeed_once_it_is_back(cassandra_server: Server) -> None:
    before = upload(cassandra_server, "before.png")
    assert before.status_code == 201

    run_script("stop")
    during = upload(cassandra_server, "during.png")
    assert during.status_code == 503
    message = during.json()["error"]["message"]
    assert "retry" in message and "127.0.0.1" not in message  # what to do, not where the hosts are
    assert during.headers["Retry-After"]
    assert requests.get(f"{cassandra_server.url}/readyz", timeout=30).status_code == 503
    assert requests.get(f"{cassandra_server.url}/healthz", timeout=10).status_code == 200

    run_script("start")
    deadline = time.monotonic() + 90
    after = upload(cassandra_server, "after.png")
    while after.status_code != 201 and time.monotonic() < deadline:
        time.sleep(2)
        after = upload(cassandra_server, "after.png")
    assert after.status_code == 201, after.text
    assert cassandra_server.process.poll() is None  # the same server process all along

    listing = requests.get(f"{cassandra_server.url}/api/v1/predictions", timeout=30)
    assert listing.status_code == 200, listing.text
    names = [p["filename"] for p in listing.json()["predictions"]]
    assert "before.png" in names and "after.png" in names
    assert "during.png" not in names  # refused, so not half-written either
