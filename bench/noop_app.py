"""The floor: the same gunicorn stack answering without doing anything."""

from __future__ import annotations

from collections.abc import Callable, Iterable


def app(environ: dict, start_response: Callable) -> Iterable[bytes]:  # type: ignore[type-arg]
    environ["wsgi.input"].read()  # take the upload off the wire, as a real endpoint must
    start_response("201 Created", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]
