"""When a worker dies before it has answered, the client gets a 502 that says so, not a connection
closed without a word. The backend here is a small server on a Unix socket that answers or hangs
up, as told; the front is the real one (Debian's nginx with our configuration) on a free port.
"""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

from fashion_classifier.web import nginx
from tests.e2e.conftest import free_port


def fake_worker(listener: socket.socket, *, dies: bool) -> None:
    """Reads one request head, then answers 200 or closes without a byte."""
    conn, _ = listener.accept()
    with conn:
        data = b""
        while b"\r\n\r\n" not in data:
            data += conn.recv(65536)
        if not dies:
            conn.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 12\r\nConnection: close\r\n\r\n{"ok": true}')


def answer_through_front(folder: Path, *, worker_dies: bool) -> bytes:
    socket_path = folder / "app.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(socket_path))
    listener.listen()
    worker = threading.Thread(target=fake_worker, args=(listener,), kwargs={"dies": worker_dies})
    worker.start()
    port = free_port()
    config = nginx.render_config(
        folder=folder, host="127.0.0.1", port=port, socket_path=socket_path, max_body=10**6, log_level="INFO"
    )
    with (
        nginx.nginx_front(config, folder, host="127.0.0.1", port=port),
        socket.create_connection(("127.0.0.1", port), timeout=10) as client,
    ):
        client.sendall(b"POST /api/v1/predictions HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n\r\npicture")
        answer = b""
        while chunk := client.recv(65536):
            answer += chunk
            if answer.endswith(b"}"):
                break
    worker.join(10)
    listener.close()
    return answer


def test_an_answer_from_a_live_worker_is_passed_on(tmp_path: Path) -> None:
    answer = answer_through_front(tmp_path, worker_dies=False)
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b'{"ok": true}')


def test_a_worker_that_dies_before_answering_gives_a_502(tmp_path: Path) -> None:
    answer = answer_through_front(tmp_path, worker_dies=True)
    assert answer.startswith(b"HTTP/1.1 502")
    message = json.loads(answer.partition(b"\r\n\r\n")[2])["error"]["message"]
    assert "stopped before it answered" in message
