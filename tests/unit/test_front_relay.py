"""When a gunicorn worker dies before it has answered, the client gets a 502 that says so, not a
connection closed without a word. The backend here is a small HTTP/1.1 server on a Unix socket
that answers or dies, as told; the front is the real one, on a free port.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import h11

from fashion_classifier.front import Front, FrontConfig


async def fake_gunicorn(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, dies: bool) -> None:
    conn = h11.Connection(h11.SERVER)
    try:
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(await reader.read(65536))
            elif isinstance(event, h11.EndOfMessage):
                if dies:
                    return  # the worker is gone: the socket closes with nothing sent
                body = b'{"ok": true}'
                head = h11.Response(status_code=200, headers=[(b"content-length", str(len(body)).encode())])
                for part in (head, h11.Data(data=body), h11.EndOfMessage()):
                    writer.write(conn.send(part) or b"")
                await writer.drain()
                return
            elif isinstance(event, h11.ConnectionClosed):
                return
    finally:
        writer.close()


async def whole_response(reader: asyncio.StreamReader) -> bytes:
    """A response's head and its Content-Length of body, however the bytes arrive."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    return head + await reader.readexactly(length)


def answer_through_front(folder: Path, *, worker_dies: bool) -> bytes:
    """One POST through the real front to the fake gunicorn; the raw answer the client reads."""
    backend = str(folder / "app.sock")

    async def main() -> bytes:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await fake_gunicorn(reader, writer, dies=worker_dies)

        gunicorn = await asyncio.start_unix_server(handle, backend)
        front = Front(
            FrontConfig(host="127.0.0.1", port=0, backend=backend, max_body=10**6, max_buffered=10**7)
        )
        server = await asyncio.start_server(front.serve_client, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /api/v1/predictions HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n\r\npicture")
        answer = await asyncio.wait_for(whole_response(reader), 10)
        writer.close()
        server.close()
        gunicorn.close()
        await asyncio.sleep(0.05)  # let both servers' connections close
        return answer

    return asyncio.run(main())


def test_an_answer_from_a_live_worker_is_passed_on(tmp_path: Path) -> None:
    answer = answer_through_front(tmp_path, worker_dies=False)
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b'{"ok": true}')


def test_a_worker_that_dies_before_answering_gives_a_502(tmp_path: Path) -> None:
    answer = answer_through_front(tmp_path, worker_dies=True)
    assert answer.startswith(b"HTTP/1.1 502")
    message = json.loads(answer.partition(b"\r\n\r\n")[2])["error"]["message"]
    assert "stopped before it answered" in message
