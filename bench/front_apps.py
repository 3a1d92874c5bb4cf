"""The app as bench/front_compare.py's setups run it: a granian factory, and gunicorn on a Unix socket.

python bench/front_apps.py gunicorn /path/to/app.sock   # gthread, as serve ran it until issue 28
granian --interface wsgi --factory front_apps:granian_app  # (working dir bench/)
"""

from __future__ import annotations

import gc
import os
import sys
from typing import Any

from gunicorn.app.base import BaseApplication
from prometheus_client import multiprocess

from fashion_classifier.config import Settings, hand_metrics_dir_to_prometheus


def granian_app() -> Any:
    """Called in each granian worker: its own model session, warmed up, then gc.freeze (as serve does)."""
    from fashion_classifier.web import create_app

    app = create_app(Settings.from_env())  # PROMETHEUS_MULTIPROC_DIR is set by the bench
    app.extensions["service"].warm_up()
    gc.freeze()
    return app


class Gunicorn(BaseApplication):
    """gunicorn's master with the options `fashion-classifier serve` gave it before issue 28."""

    def __init__(self, settings: Settings, bind: str) -> None:
        self.options = {
            "bind": bind,
            "workers": settings.workers,
            "worker_class": "gthread",
            "threads": settings.threads,
            "timeout": 60,
            "graceful_timeout": 20,
            "keepalive": 5,
            "accesslog": "-",
            "access_log_format": '%({x-forwarded-for}i)s - - %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"',
            "errorlog": "-",
            "loglevel": settings.log_level.lower(),
            "child_exit": lambda server, worker: multiprocess.mark_process_dead(worker.pid),
            "worker_exit": lambda server, worker: os._exit(0),  # ONNX Runtime aborts in teardown
            "control_socket_disable": True,
        }
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return granian_app()


def main() -> None:
    settings = hand_metrics_dir_to_prometheus(Settings.from_env())
    Gunicorn(settings, f"unix:{sys.argv[2]}").run()


if __name__ == "__main__":
    main()
