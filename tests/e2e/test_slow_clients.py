"""Slow clients through a real server (`fashion-classifier serve`, SQLite): the service keeps
answering others, and a client whose request stops arriving, or whose headers never end, is cut off.

nginx (the front) closes such connections without an answer: it logs a 408 but sends none.

Generous limits only (answers at all within 5 s): the measured latencies are in
docs/hardening.md, from bench/slow_clients.py.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import Server, start_server, stop_server
from tests.pictures import dataset_png, first_of_class
from tests.slowloris import SlowClients, timed_get, timed_upload


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("slow")
    running = start_server(f"sqlite:///{folder}/slow.db", folder / "server.log")
    yield running
    stop_server(running)


def port_of(site: Server) -> int:
    return int(site.url.rsplit(":", 1)[1])


def test_fifty_slow_clients_stop_neither_health_checks_nor_uploads(site: Server) -> None:
    png, _ = dataset_png(first_of_class(3))
    with SlowClients("127.0.0.1", port_of(site), headers=40, bodies=10) as slow:
        time.sleep(3)  # every slow socket open and sending
        for _ in range(15):
            assert timed_get(f"{site.url}/healthz", timeout=5) is not None, site.logs()
            assert timed_upload(site.url, png, timeout=5) is not None, site.logs()
            time.sleep(0.5)
    assert slow.opened >= 50


def answer_to_trickle(site: Server, start: bytes, piece: bytes, *, within: float) -> bytes:
    """Send `start`, then `piece` every 0.5 s until the server answers (or `within` s pass)."""
    with socket.create_connection(("127.0.0.1", port_of(site)), timeout=5) as sock:
        sock.sendall(start)
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            sock.settimeout(0.5)
            try:
                return sock.recv(200)
            except TimeoutError:
                pass
            try:
                sock.sendall(piece)
            except OSError:
                return sock.recv(200)
    return b"(no answer)"


def test_a_body_that_stops_arriving_is_cut_off(site: Server) -> None:
    start = b"POST /api/v1/predictions HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + b"a" * 1000
    with socket.create_connection(("127.0.0.1", port_of(site)), timeout=60) as sock:
        sock.sendall(start)
        assert sock.recv(200) == b""  # closed (within the 60 s timeout), never passed on to the app


def test_headers_trickled_forever_are_cut_off(site: Server) -> None:
    answer = answer_to_trickle(site, b"GET /healthz HTTP/1.1\r\n", b"X-Slow: 1\r\n", within=60)
    assert answer == b"", answer  # the connection is closed, though a header line came every 0.5 s


def test_a_trickled_body_holds_no_worker(site: Server) -> None:
    """A body sent 1 KB at a time reaches the app only when whole: 12 of them (more than the
    workers' 8 threads) leave uploads answering."""
    png, _ = dataset_png(first_of_class(3))
    with SlowClients("127.0.0.1", port_of(site), headers=0, bodies=12) as slow:
        time.sleep(2)
        for _ in range(4):
            assert timed_upload(site.url, png, timeout=5) is not None, site.logs()
    assert slow.opened == 12 and not slow.refused  # all still trickling: held by the front
