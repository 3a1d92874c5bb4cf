"""Slow clients for tests and bench/slow_clients.py: headers or a body trickled over many sockets."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field

import requests

# A multipart upload, as a real one: the app reads such a body (it answers 400 to others unread).
BODY_START = (
    b"POST /api/v1/predictions HTTP/1.1\r\nHost: slow\r\nTransfer-Encoding: chunked\r\n"
    b"Content-Type: multipart/form-data; boundary=slowloris\r\n\r\n"
)


@dataclass
class SlowClients:
    """`headers` sockets send a header line every `pause` s; `bodies` send a chunked body, 1 KB a beat."""

    host: str
    port: int
    headers: int
    bodies: int
    pause: float = 0.5
    header_every: int = 4  # a header line every 4 beats (2 s): the attack of the issue
    refused: list[bytes] = field(default_factory=list)  # first bytes of each answer the server sent
    opened: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> SlowClients:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _open(self, first: bytes) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), timeout=5)
        sock.sendall(first)
        sock.setblocking(False)
        self.opened += 1
        return sock

    def _run(self) -> None:
        start_headers = b"GET /history HTTP/1.1\r\nHost: slow\r\n"
        sockets = [(self._open(start_headers), b"X-Slow: 1\r\n") for _ in range(self.headers)]
        sockets += [(self._open(BODY_START), b"400\r\n" + b"a" * 1024 + b"\r\n") for _ in range(self.bodies)]
        beat = 0
        while not self._stop.wait(self.pause):
            beat += 1
            for index, (sock, piece) in enumerate(sockets):
                if piece.startswith(b"X-") and beat % self.header_every:
                    continue
                sockets[index] = (self._feed(sock, piece), piece)
        for sock, _ in sockets:
            sock.close()

    def _feed(self, sock: socket.socket, piece: bytes) -> socket.socket:
        """One more piece; a socket the server answered or closed is opened again (keep the pressure)."""
        try:
            answer = sock.recv(200)
        except BlockingIOError:
            answer = None
        except OSError:
            answer = b""
        if answer is None:
            try:
                sock.send(piece)
                return sock
            except OSError:
                answer = b""
        self.refused.append(answer)
        sock.close()
        is_body = piece.startswith(b"400")
        return self._open(BODY_START if is_body else b"GET /history HTTP/1.1\r\nHost: slow\r\n")


def timed_get(url: str, timeout: float) -> float | None:
    """Seconds one GET took, or None if it failed or timed out."""
    started = time.perf_counter()
    try:
        ok = requests.get(url, timeout=timeout).status_code == 200
    except requests.RequestException:
        return None
    return time.perf_counter() - started if ok else None


def timed_upload(url: str, content: bytes, timeout: float) -> float | None:
    started = time.perf_counter()
    try:
        files = {"file": ("slow-test.png", content, "image/png")}
        ok = requests.post(f"{url}/api/v1/predictions", files=files, timeout=timeout).status_code == 201
    except requests.RequestException:
        return None
    return time.perf_counter() - started if ok else None
