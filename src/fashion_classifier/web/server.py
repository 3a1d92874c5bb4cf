"""Production serving: gunicorn with threaded workers, each worker building its own app."""

from __future__ import annotations

import os
import sys
from typing import Any

from gunicorn.app.base import BaseApplication

from fashion_classifier.config import Settings


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

        return create_app(self._settings)


def serve(settings: Settings, *, host: str, port: int) -> None:
    """Serve until SIGTERM/SIGINT; in-flight requests get `graceful_timeout` seconds to finish."""
    options = {
        "bind": f"{host}:{port}",
        "workers": settings.workers,
        "worker_class": "gthread",
        "threads": settings.threads,
        "preload_app": False,
        "timeout": 60,
        "graceful_timeout": 20,
        "keepalive": 5,
        "accesslog": "-",
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
