"""Production serving: a buffering front server before gunicorn's threaded workers.

The front (fashion_classifier.front, a process of its own) listens on host:port and hands each
request, once it has arrived whole, to gunicorn on a private Unix socket; each gunicorn worker
builds its own app.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

from fashion_classifier import front
from fashion_classifier.config import Settings

FRONT_START_TIMEOUT_S = 60
# Request bodies the front may hold at once (all clients): a few whole uploads at the limit.
FRONT_BUFFER_UPLOADS = 6


class GunicornServer(BaseApplication):
    """gunicorn started from Python, so `fashion-classifier serve` is the one entry point."""

    def __init__(self, settings: Settings, options: dict[str, Any]) -> None:
        self._settings = settings
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        # Runs in each worker after the fork: the model session and the Cassandra
        # session belong to that process alone (never preloaded in the master).
        from fashion_classifier.web import create_app

        app = create_app(self._settings)
        app.extensions["service"].warm_up()  # before this worker takes its first request
        # What was built so far lives as long as the worker: keep the garbage collector from
        # walking it again. A full collection over it paused a similar query for 53 ms; 1.4 ms after.
        gc.freeze()
        return app


def serve(settings: Settings, *, host: str, port: int) -> None:
    """Serve until SIGTERM/SIGINT; in-flight requests get `graceful_timeout` seconds to finish."""
    with front_server(settings, host=host, port=port) as backend:
        run_gunicorn(settings, bind=f"unix:{backend}")


@contextmanager
def front_server(settings: Settings, *, host: str, port: int) -> Iterator[Path]:
    """Start the front on host:port; yields the socket path gunicorn must bind. Stops it after."""
    folder = Path(tempfile.mkdtemp(prefix="fashion-classifier-"))
    backend = folder / "app.sock"
    config = front.FrontConfig(
        host=host,
        port=port,
        backend=str(backend),
        max_body=settings.max_upload_bytes,
        max_buffered=FRONT_BUFFER_UPLOADS * settings.max_upload_bytes,
    )
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: none of gunicorn's state
    ready = context.Event()
    process = context.Process(target=front.run, args=(config, ready), name="front", daemon=True)
    process.start()
    try:
        _wait_until_listening(process, ready, f"{host}:{port}")
        yield backend
    finally:
        process.terminate()
        process.join(10)
        shutil.rmtree(folder, ignore_errors=True)


def _wait_until_listening(process: Any, ready: Any, where: str) -> None:
    for _ in range(FRONT_START_TIMEOUT_S * 5):
        if ready.wait(0.2):
            return
        if not process.is_alive():
            break
    raise RuntimeError(f"the front server could not listen on {where} (see the log above)")


def run_gunicorn(settings: Settings, *, bind: str) -> None:
    """gunicorn's master in this process: it forks the workers and restarts any that die."""
    options = {
        "bind": bind,
        "workers": settings.workers,
        "worker_class": "gthread",
        "threads": settings.threads,
        "preload_app": False,
        "timeout": 60,
        "graceful_timeout": 20,
        "keepalive": 5,
        "accesslog": "-",
        # The client's address comes from the front (gunicorn only sees its Unix socket).
        "access_log_format": '%({x-forwarded-for}i)s - - %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"',
        "errorlog": "-",
        "loglevel": settings.log_level.lower(),
        "child_exit": _worker_exited,
        "worker_exit": _skip_interpreter_teardown,
        "control_socket_disable": True,  # no management socket in $HOME: not used, not wanted
        "limit_request_line": 8190,
    }
    GunicornServer(settings, options).run()


def _skip_interpreter_teardown(server: Any, worker: Any) -> None:
    """Runs in the worker after its last request: exit now, skipping Python's teardown.

    ONNX Runtime's native thread state aborts the process ("std::system_error: Invalid
    argument") when the interpreter tears down a gthread worker; the work is done by then.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _worker_exited(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
