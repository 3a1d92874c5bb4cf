"""The seed's manual steps, as the README shows them, with podman in place of docker.

The commands are read from README.md (tests/containers/readme.py), so what users copy is what
runs here: the network deewhy-network, Cassandra on it, the app image from deploy/Dockerfile, the
schema migration, the app on that network publishing 8987; then photos uploaded by the form and
by the API, and the rows read with the README's cqlsh command inside the Cassandra container.
"""

from __future__ import annotations

import shlex
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.containers.podman import (
    ENV,
    ROOT,
    inspect,
    logs,
    remove,
    require_free_port,
    require_not_running,
    upload_by_api,
    upload_by_form,
    wait_ready,
)
from tests.containers.readme import Step, manual_steps

pytestmark = [pytest.mark.containers, pytest.mark.timeout(1800)]

NETWORK = "deewhy-network"
CASSANDRA, APP, IMAGE = "cassandra", "fashion-classifier", "fashion-classifier"  # the README's names
CASSANDRA_WITHIN_S = 600


def run(step: Step, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    """A README command, from the repository root as the README runs it."""
    done = subprocess.run(
        step.argv, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, (
        f"{shlex.join(step.argv)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    )
    return done


def poll(step: Step) -> None:
    """Until the README's "once ... answers" command succeeds."""
    started = time.monotonic()
    while time.monotonic() - started < CASSANDRA_WITHIN_S:
        if subprocess.run(step.argv, env=ENV, capture_output=True, timeout=120, check=False).returncode == 0:
            return
        assert inspect(CASSANDRA, "{{.State.Running}}") == "true", f"{CASSANDRA} stopped:\n{logs(CASSANDRA)}"
        time.sleep(2)
    raise AssertionError(f"{shlex.join(step.argv)} got no answer within {CASSANDRA_WITHIN_S} s")


def timed(timings: dict[str, float | str], key: str, started: float) -> None:
    timings[key] = round(time.monotonic() - started, 1)


@pytest.fixture
def read_back(machine_lock: None, base_images: None, timings: dict[str, float | str]) -> Iterator[list[Step]]:
    """Every README step up to the first `exec`, run; yields the `exec` steps, to run after uploads."""
    steps = manual_steps()
    verbs = [step.verb for step in steps]
    assert "migrate" in steps[verbs.index("run", verbs.index("build"))].argv, "README: migrate before serving"
    first_read = next(index for index, step in enumerate(steps) if step.verb == "exec" and not step.wait)
    setup, after = steps[:first_read], steps[first_read:]
    require_not_running(APP, CASSANDRA)
    require_free_port(8987)
    remove(containers=(APP, CASSANDRA), networks=(NETWORK,))
    try:
        cassandra_started = time.monotonic()
        for step in setup:
            started = time.monotonic()
            if step.wait:
                poll(step)
                timed(timings, "seed_cassandra_start_to_cql_s", cassandra_started)
                continue
            run(step)
            if step.verb == "run" and CASSANDRA in step.argv:
                cassandra_started = started
            elif step.verb == "build":
                timed(timings, "app_image_build_s", started)
                timings["app_image_bytes"] = int(inspect(IMAGE, "{{.Size}}"))
            elif "migrate" in step.argv:
                timed(timings, "seed_migrate_s", started)
            elif step.verb == "run" and APP in step.argv:
                wait_ready(APP)  # `podman run -d` to /readyz 200: model loaded, Cassandra reached
                timed(timings, "app_start_to_ready_s", started)
        yield after
    finally:
        remove(containers=(APP, CASSANDRA), networks=(NETWORK,))


def test_uploads_through_8987_are_classified_and_readable_with_cqlsh(read_back: list[Step]) -> None:
    page = upload_by_form("Trouser")
    assert "trouser.jpg" in page
    upload_by_api("Ankle boot", "Bag")

    rows = [run(step, timeout=120).stdout for step in read_back][-1]

    for filename, label in [("trouser.jpg", "Trouser"), ("ankle-boot.jpg", "Ankle boot"), ("bag.jpg", "Bag")]:
        assert any(filename in line and label in line for line in rows.splitlines()), rows
    assert "(3 rows)" in rows
