"""The front of `fashion-classifier serve` (nginx before granian's workers) speaks HTTP/1.1 as
clients expect: kept-alive connections, chunked bodies, Expect: 100-continue, HEAD, and early
refusals that say what to do, as JSON like the app's own errors."""

from __future__ import annotations

import os
import re
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from fashion_classifier.web.nginx import MAX_REQUESTS_PER_CLIENT
from tests.e2e.conftest import Server, start_server, stop_server
from tests.pictures import dataset_png, first_of_class

BOUNDARY = "front-test-boundary"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("front")
    running = start_server(f"sqlite:///{folder}/front.db", folder / "server.log")
    yield running
    stop_server(running)


def connect(site: Server) -> socket.socket:
    return socket.create_connection(("127.0.0.1", int(site.url.rsplit(":", 1)[1])), timeout=30)


def multipart() -> bytes:
    png, _ = dataset_png(first_of_class(7))
    head = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="sneaker.png"\r\n\r\n'
    return head.encode() + png + f"\r\n--{BOUNDARY}--\r\n".encode()


def read_response(sock: socket.socket) -> bytes:
    """One whole response with a Content-Length."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def test_one_connection_carries_several_requests(site: Server) -> None:
    with connect(site) as sock:
        for _ in range(3):
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_response(sock).startswith(b"HTTP/1.1 200")


def test_a_chunked_upload_is_classified(site: Server) -> None:
    body = multipart()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 100):
            yield body[start : start + 100]

    response = requests.post(
        f"{site.url}/api/v1/predictions",
        data=chunks(),
        headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    assert response.json()["predictions"][0]["label"] == "Sneaker"


def test_expect_100_continue_gets_a_continue_then_the_answer(site: Server) -> None:
    body = multipart()
    head = (
        f"POST /api/v1/predictions HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    with connect(site) as sock:
        sock.sendall(head.encode())
        assert sock.recv(100).startswith(b"HTTP/1.1 100")
        sock.sendall(body)
        assert read_response(sock).startswith(b"HTTP/1.1 201")


def test_a_declared_oversize_body_is_refused_before_it_is_sent(site: Server) -> None:
    head = b"POST /api/v1/predictions HTTP/1.1\r\nHost: x\r\nContent-Length: 31457280\r\n\r\n"
    with connect(site) as sock:
        sock.sendall(head)
        answer = read_response(sock)
    assert answer.startswith(b"HTTP/1.1 413") and b"MB" in answer


def test_head_answers_without_a_body(site: Server) -> None:
    response = requests.head(f"{site.url}/healthz", timeout=10)
    assert response.status_code == 200 and response.content == b""


def test_malformed_requests_get_a_400(site: Server) -> None:
    with connect(site) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 400")


def test_too_many_requests_at_once_get_a_503_that_says_retry(site: Server) -> None:
    """Bodies being received count against a bound (memory and temporary files): beyond it, 503."""
    head = b"POST /api/v1/predictions HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc"
    held = [connect(site) for _ in range(MAX_REQUESTS_PER_CLIENT)]  # the most one client may have
    try:
        for sock in held:
            sock.sendall(head)
        time.sleep(1)  # every one of them read by the front
        with connect(site) as sock:
            sock.sendall(head)
            answer = read_response(sock)
    finally:
        for sock in held:
            sock.close()
    assert answer.startswith(b"HTTP/1.1 503") and b"Retry-After: 5" in answer, answer
    assert b"retry in a few seconds" in answer
    time.sleep(1)  # the front has seen them close: the next upload goes through
    assert requests.get(f"{site.url}/healthz", timeout=10).status_code == 200


def app_workers(site: Server) -> list[int]:
    """The master's forked children (nginx runs another command)."""
    master = Path(f"/proc/{site.process.pid}/cmdline").read_bytes()
    workers = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            parent = re.search(r"^PPid:\s+(\d+)", status.read_text(), re.M)
            child = parent is not None and int(parent.group(1)) == site.process.pid
            if child and (status.parent / "cmdline").read_bytes() == master:
                workers.append(int(status.parent.name))
        except OSError:
            continue  # ended meanwhile
    return workers


def wait_until_dead(pid: int) -> None:
    for _ in range(100):
        try:
            if "\nState:\tZ" in Path(f"/proc/{pid}/status").read_text():
                return  # exited (its sockets are closed), not yet reaped by the master
        except OSError:
            return
        time.sleep(0.05)
    raise AssertionError(f"worker {pid} still runs after SIGKILL")


def test_uploads_go_on_after_a_worker_dies(site: Server) -> None:
    """granian's master starts a dead worker again; meanwhile the other answers, no upload fails."""
    session = requests.Session()
    body = multipart()
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}

    def upload() -> requests.Response:
        return session.post(f"{site.url}/api/v1/predictions", data=body, headers=headers, timeout=30)

    for _ in range(4):
        assert upload().status_code == 201
    workers = app_workers(site)
    assert len(workers) == 2
    os.kill(workers[0], signal.SIGKILL)
    wait_until_dead(workers[0])  # one sent while it dies gets a 502 (tests/unit/test_nginx_front.py)
    answers = [upload() for _ in range(6)]
    assert [a.status_code for a in answers] == [201] * 6, [a.text for a in answers if a.status_code != 201]
