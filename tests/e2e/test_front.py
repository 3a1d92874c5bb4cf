"""The front server of `fashion-classifier serve` speaks HTTP/1.1 as clients expect: kept-alive
connections, chunked bodies, Expect: 100-continue, HEAD, and early refusals."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
import requests

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
