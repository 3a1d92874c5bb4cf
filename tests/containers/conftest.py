"""Fixtures of the container tests: podman, the stand-in base images, the app image, timings.

These tests run the deploy/ files for real with podman (`make test-containers`); the measured
times and sizes go to test-artifacts/containers.json, never into an assertion.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.containers.podman import ROOT, TOOLS

TIMINGS = ROOT / "test-artifacts" / "containers.json"
# deploy/ fixes the network, the port and the container names: runs of these tests on one machine
# (several checkouts, CI) take turns on this lock instead of removing each other's containers.
LOCK = Path("/run/lock" if os.access("/run/lock", os.W_OK) else "/tmp") / "fashion-classifier-containers.lock"
LOCK_WAIT_S = 1800


@pytest.fixture(scope="session")
def timings() -> Iterator[dict[str, float | str]]:
    """Figures the run measured (seconds, bytes), written to test-artifacts/containers.json."""
    figures: dict[str, float | str] = {}
    yield figures
    TIMINGS.parent.mkdir(exist_ok=True)
    TIMINGS.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")


@pytest.fixture(scope="session")
def base_images(timings: dict[str, float | str]) -> None:
    """The stand-in python and cassandra images (tools/containers/base-images.sh, idempotent)."""
    if shutil.which("podman") is None:
        pytest.fail(
            "podman is missing: `make test-containers` installs it (as root), or apt-get install podman"
        )
    started = time.monotonic()
    done = subprocess.run(
        [str(TOOLS / "base-images.sh")], check=False, capture_output=True, text=True, timeout=1800
    )
    assert done.returncode == 0, f"tools/containers/base-images.sh failed:\n{done.stderr[-4000:]}"
    timings["base_images_s"] = round(time.monotonic() - started, 1)


@pytest.fixture(scope="session")
def machine_lock() -> Iterator[None]:
    """This run's turn with the fixed names (deewhy-network, 8987, the compose project)."""
    with LOCK.open("a+") as handle:
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    handle.seek(0)
                    pytest.fail(f"{LOCK} stayed held for {LOCK_WAIT_S} s by: {handle.read().strip()}")
                time.sleep(5)
        handle.truncate(0)
        handle.write(f"pid {os.getpid()}, {ROOT}\n")
        handle.flush()
        yield
