"""Uploads that go on while model versions switch, and the CLI run as a deployment runs it."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

import requests

from tests.e2e.conftest import ROOT, Server
from tests.e2e.test_metrics import scrape
from tests.pictures import dataset_png, first_of_class

SWITCH_WITHIN_S = 30 + 30  # what the issue promises, and a margin for a busy shared machine


def cli(database_url: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`fashion-classifier ARGS` on the store `database_url` names; its status and output."""
    environment = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "fashion_classifier.cli", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def models_cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return cli(database_url, "models", *args)


@dataclass
class Uploads:
    """Clients uploading a coat, `pause` seconds apart; every answer's status and model version, in order."""

    url: str
    pause: float = 0.0
    answers: list[tuple[int, str | None, str | None]] = field(default_factory=list)  # status, version, label
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        png, _ = dataset_png(first_of_class(4))  # a coat
        while not self._stop.wait(self.pause):
            try:
                answer = requests.post(
                    f"{self.url}/api/v1/predictions", files={"file": ("c.png", png)}, timeout=60
                )
                record = answer.json()["predictions"][0] if answer.status_code == 201 else {}
                self.answers.append((answer.status_code, record.get("model_version"), record.get("label")))
            except requests.RequestException as exc:
                self.answers.append((0, repr(exc), None))

    def start(self, clients: int) -> list[threading.Thread]:
        threads = [threading.Thread(target=self.run, daemon=True) for _ in range(clients)]
        for thread in threads:
            thread.start()
        return threads

    def stop(self, threads: list[threading.Thread]) -> None:
        self._stop.set()
        for thread in threads:
            thread.join(timeout=90)

    def wait_for(self, version: str) -> None:
        """Until the last 30 answers (from every client, so both workers) are all by `version`."""
        deadline = time.monotonic() + SWITCH_WITHIN_S
        while time.monotonic() < deadline:
            recent = self.answers[-30:]
            if len(recent) == 30 and all(v == version for _, v, _ in recent):
                return
            time.sleep(0.5)
        raise AssertionError(
            f"still answering with {set(a[1] for a in self.answers[-30:])}, not only {version}"
        )

    def failed(self) -> list[tuple[int, str | None, str | None]]:
        return [answer for answer in self.answers if not 200 <= answer[0] < 300]


def served_versions(server: Server) -> set[str]:
    """The versions every live worker answers with, from their fashion_model_info gauges."""
    return {
        dict(labels)["version"]
        for (name, labels), v in scrape(server).items()
        if name == "fashion_model_info" and v
    }
