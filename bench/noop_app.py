"""The floors: the same gunicorn stack answering without doing any of our work.

`app` is bare WSGI (gunicorn alone); `flask_app` adds Flask, the framework our service runs on,
so the two floors split what gunicorn costs from what Flask costs on every request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from flask import Flask, request


def app(environ: dict, start_response: Callable) -> Iterable[bytes]:  # type: ignore[type-arg]
    environ["wsgi.input"].read()  # take the upload off the wire, as a real endpoint must
    start_response("201 Created", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


flask_app = Flask(__name__)


@flask_app.post("/api/v1/predictions")
def noop_prediction() -> tuple[dict[str, str], int]:
    request.get_data()  # read the upload, parse nothing
    return {"status": "ok"}, 201
