"""The front server: reads every request whole, at the client's pace, before a worker sees it.

gunicorn's threaded workers read a request in the thread that answers it: a few slow clients
hold every thread. Here one asyncio loop holds any number of them for a coroutine each, and a
request goes to gunicorn (a Unix socket) only once complete; too slow a client gets a 408.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import h11

log = logging.getLogger("fashion_classifier.front")

HEADER_TIMEOUT_S = 10.0  # from the start of a request (or of a kept-alive connection's wait)
BODY_GRACE_S = 10.0  # a body may lag MIN_BODY_RATE by this much before it is cut off
MIN_BODY_RATE = 16 * 1024  # bytes per second: 128 kbit/s, a poor mobile uplink
BACKEND_TIMEOUT_S = 120.0  # gunicorn's own worker timeout (60 s) comes first
CLIENT_WRITE_TIMEOUT_S = 300.0  # a 4 MB picture at 16 KB/s takes about as long
MAX_HEADER_BYTES = 16 * 1024
MAX_CONNECTIONS = 2000
READ_SIZE = 64 * 1024
# Hop-by-hop headers are about one connection; framing is redone on each side.
# x-forwarded-for: set by us, never taken from the client.
NOT_FORWARDED = frozenset(
    b"connection keep-alive proxy-connection transfer-encoding content-length te trailer upgrade expect"
    b" x-forwarded-for".split()
)


@dataclass(frozen=True, kw_only=True)
class FrontConfig:
    host: str
    port: int
    backend: str  # path of gunicorn's Unix socket
    max_body: int  # bytes in one request body
    max_buffered: int  # bytes of request bodies held at once, all connections together


class Refusal(Exception):
    """The request is refused before it reaches the app; status and message for the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Budget:
    """Bytes of request bodies held in memory at once, across connections."""

    def __init__(self, limit: int) -> None:
        self.limit, self.used = limit, 0

    def take(self, size: int) -> None:
        if self.used + size > self.limit:
            raise Refusal(503, "the server is busy receiving other uploads; retry in a few seconds")
        self.used += size

    def give_back(self, size: int) -> None:
        self.used -= size


class Front:
    """Accepts clients, buffers their requests, relays them to gunicorn and the answers back."""

    def __init__(self, config: FrontConfig) -> None:
        self.config = config
        self.budget = Budget(config.max_buffered)
        self.connections = 0

    async def serve_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            if self.connections <= MAX_CONNECTIONS:
                await self._requests(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass  # the client left or stopped reading: nothing to answer
        finally:
            self.connections -= 1
            writer.close()

    async def _requests(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Answer requests on one connection until either side closes it."""
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEADER_BYTES)
        peer = str((writer.get_extra_info("peername") or ("",))[0])
        while conn.our_state is h11.IDLE:
            body = bytearray()
            try:
                request = await self._read(conn, reader, writer, body)
                if request is None:
                    return
                await self._relay(conn, writer, request, body, peer)
            except Refusal as refusal:
                await _refuse(conn, writer, refusal)
                return
            finally:
                self.budget.give_back(len(body))
            if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                return
            conn.start_next_cycle()

    async def _read(
        self,
        conn: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        body: bytearray,
    ) -> h11.Request | None:
        """The next whole request (its body into `body`), or None when the client closed."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        request: h11.Request | None = None
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                raise Refusal(exc.error_status_hint, f"malformed HTTP request: {exc}") from None
            if event is h11.NEED_DATA:
                deadline = _deadline(started, request, len(body))
                await _receive(conn, reader, deadline - loop.time(), started_body=request is not None)
            elif isinstance(event, h11.Request):
                request, started = event, loop.time()
                self._check_size(event)
                if conn.they_are_waiting_for_100_continue:
                    writer.write(_bytes(conn, h11.InformationalResponse(status_code=100, headers=[])))
            elif isinstance(event, h11.Data):
                self.budget.take(len(event.data))
                body += event.data
                if len(body) > self.config.max_body:
                    raise _too_large(self.config.max_body)
            elif isinstance(event, h11.EndOfMessage):
                return request
            else:  # ConnectionClosed (or PAUSED, which a server never sees between requests)
                return None

    def _check_size(self, request: h11.Request) -> None:
        for name, value in request.headers:
            if name == b"content-length" and int(value) > self.config.max_body:
                raise _too_large(self.config.max_body)

    async def _relay(
        self,
        conn: h11.Connection,
        writer: asyncio.StreamWriter,
        request: h11.Request,
        body: bytearray,
        peer: str,
    ) -> None:
        """Send the whole request to gunicorn, read its whole answer, then pass that on.

        The answer is read in full before the client gets any of it: a client that reads
        slowly holds this coroutine, never a gunicorn thread.
        """
        try:
            back_reader, back_writer = await asyncio.open_unix_connection(self.config.backend)
        except OSError:
            raise Refusal(503, "the service is starting or restarting; retry in a few seconds") from None
        try:
            back = h11.Connection(h11.CLIENT)
            back_writer.write(_bytes(back, _backend_request(request, len(body), peer)))
            # Passed through as it is: no copy of an upload of up to 20 MB (h11 types it as bytes).
            passthrough = back.send_with_data_passthrough(h11.Data(data=body))  # type: ignore[arg-type]
            back_writer.writelines(passthrough or [])
            back_writer.write(_bytes(back, h11.EndOfMessage()))
            response, chunks = await asyncio.wait_for(_answer(back, back_reader), BACKEND_TIMEOUT_S)
        except TimeoutError:
            raise Refusal(504, "the app took too long to answer; retry in a moment") from None
        except (ConnectionError, h11.RemoteProtocolError):  # the worker died: answer, do not just close
            raise Refusal(502, "the app stopped before it answered; send the request again") from None
        finally:
            back_writer.close()
        headers = [(n, v) for n, v in response.headers if n not in NOT_FORWARDED or n == b"content-length"]
        writer.write(_bytes(conn, h11.Response(status_code=response.status_code, headers=headers)))
        for chunk in chunks:
            writer.write(_bytes(conn, h11.Data(data=chunk)))
        writer.write(_bytes(conn, h11.EndOfMessage()))
        await asyncio.wait_for(writer.drain(), CLIENT_WRITE_TIMEOUT_S)


async def _answer(back: h11.Connection, reader: asyncio.StreamReader) -> tuple[h11.Response, list[bytes]]:
    """gunicorn's whole answer: its head and the pieces of its body."""
    response: h11.Response | None = None
    chunks: list[bytes] = []
    while True:
        event = back.next_event()
        if event is h11.NEED_DATA:
            back.receive_data(await reader.read(READ_SIZE))
        elif isinstance(event, h11.Response):
            response = event
        elif isinstance(event, h11.Data):
            chunks.append(bytes(event.data))
        elif isinstance(event, h11.EndOfMessage) and response is not None:
            return response, chunks
        elif isinstance(event, h11.ConnectionClosed):
            raise ConnectionError("gunicorn closed the connection before answering in full")


def _bytes(conn: h11.Connection, event: h11.Event) -> bytes:
    return conn.send(event) or b""


def _deadline(started: float, request: h11.Request | None, received: int) -> float:
    """When the current read must be done: headers in a fixed time, a body at a minimum pace."""
    if request is None:
        return started + HEADER_TIMEOUT_S
    return started + BODY_GRACE_S + received / MIN_BODY_RATE


async def _receive(
    conn: h11.Connection, reader: asyncio.StreamReader, timeout: float, *, started_body: bool
) -> None:
    try:
        if timeout <= 0:
            raise TimeoutError
        conn.receive_data(await asyncio.wait_for(reader.read(READ_SIZE), timeout))
    except TimeoutError:
        if started_body or conn.their_state is h11.SEND_BODY:
            raise Refusal(
                408, "the request body arrived too slowly; send it again on a faster link"
            ) from None
        if conn.client_is_waiting_for_100_continue or _has_partial_request(conn):
            raise Refusal(408, "the request headers arrived too slowly; send them again") from None
        raise ConnectionResetError from None  # an idle kept-alive connection: just close it


def _has_partial_request(conn: h11.Connection) -> bool:
    return bool(conn.trailing_data[0])


def _too_large(limit: int) -> Refusal:
    return Refusal(413, f"the upload is larger than {limit / 1e6:.0f} MB; send smaller pictures")


def _backend_request(request: h11.Request, length: int, peer: str) -> h11.Request:
    headers = [(n, v) for n, v in request.headers if n not in NOT_FORWARDED]
    if not any(name == b"host" for name, _ in headers):
        headers.append((b"host", b"localhost"))  # HTTP/1.0 clients may leave it out
    headers += [(b"content-length", str(length).encode()), (b"connection", b"close")]
    headers.append((b"x-forwarded-for", peer.encode()))
    return h11.Request(method=request.method, target=request.target, headers=headers)


async def _refuse(conn: h11.Connection, writer: asyncio.StreamWriter, refusal: Refusal) -> None:
    """A JSON error body, like the app's, then close: the rest of the request is not read."""
    if conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
        return  # part of an answer is already out: all we can do is close
    body = json.dumps({"error": {"code": "refused", "message": str(refusal)}}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    if refusal.status == 503:
        headers.append((b"retry-after", b"5"))
    data = _raw_response(refusal.status, headers, body)
    writer.write(data)
    await asyncio.wait_for(writer.drain(), 5)


def _raw_response(status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> bytes:
    """Written by hand: h11 refuses to answer once the request it parsed is broken."""
    lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}".encode()]
    lines += [name + b": " + value for name, value in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


async def _serve(config: FrontConfig, ready: Any) -> None:
    front = Front(config)
    server = await asyncio.start_server(
        front.serve_client, config.host, config.port, reuse_address=True, backlog=1024, limit=READ_SIZE
    )
    ready.set()
    log.info("front server on %s:%s, buffering requests for %s", config.host, config.port, config.backend)
    parent = os.getppid()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with server:
        while not stop.is_set() and os.getppid() == parent:  # the master died: do not linger
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)


def run(config: FrontConfig, ready: Any) -> None:
    """Serve until SIGTERM or SIGINT, or until the process that started this one is gone.

    `ready` (a multiprocessing Event) is set once the port is bound.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(_serve(config, ready))
