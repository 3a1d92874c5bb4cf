"""deploy/compose.yaml run for real with podman-compose, and the app's hardening at run time.

`up -d` builds the app image, both health checks reach healthy, the app starts only once
Cassandra is healthy, uploads go through 8987; Cassandra refuses logins without the passwords;
the records outlive `down` + `up` (the volume) and a restart of the app container alone.
"""

from __future__ import annotations

import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.containers.podman import (
    ENV,
    TOOLS,
    inspect,
    listed_ids,
    podman,
    require_free_port,
    require_not_running,
    upload_by_api,
    upload_by_form,
    wait_healthy,
    wait_ready,
)

pytestmark = [pytest.mark.containers, pytest.mark.timeout(1800)]

PROJECT = "fashion-classifier"  # `name:` in deploy/compose.yaml
CASSANDRA, MIGRATE, APP = (f"{PROJECT}_{service}_1" for service in ("cassandra", "migrate", "app"))
APP_UID = "10001"
# Passwords for this run only, new each run and never written down: compose takes them from the
# environment, as it would from deploy/.env (which the shell's values override).
CREDENTIALS = {
    "CASSANDRA_SUPERUSER_PASSWORD": secrets.token_hex(24),
    "CASSANDRA_USERNAME": "fashion",
    "CASSANDRA_PASSWORD": secrets.token_hex(24),
}
CQL_READY = "SELECT release_version FROM system.local"
STAMP = re.compile(r"(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(?:\.(\d+))?\s*(Z|[+-]\d\d:?\d\d)?")


def compose(*args: str, timeout: float = 1800) -> None:
    """tools/containers/compose.sh ARGS: podman-compose on deploy/compose.yaml, as the README runs it."""
    env = {**ENV, **CREDENTIALS, "PODMAN_COMPOSE": str(Path(sys.executable).with_name("podman-compose"))}
    command = [str(TOOLS / "compose.sh"), *args]
    done = subprocess.run(command, check=False, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, (
        f"compose.sh {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    )


def up(timings: dict[str, float | str], key: str, *args: str) -> None:
    """`up -d`, then both containers healthy; the times go to the timings."""
    started = time.monotonic()
    compose("up", "-d", *args)
    wait_healthy(CASSANDRA, APP)
    timings[key] = round(time.monotonic() - started, 1)


def cqlsh(*args: str) -> subprocess.CompletedProcess[str]:
    """cqlsh ARGS inside the Cassandra container (on 127.0.0.1, as its health check runs it)."""
    return podman("exec", CASSANDRA, "cqlsh", *args, timeout=120, check=False)


def timestamp(text: str) -> datetime:
    """podman's time stamps ('2026-11-25T16:34:16.879678291Z', '2026-11-25 16:34:16.46 +0000 UTC')."""
    found = STAMP.match(text)
    assert found, f"not a podman time stamp: {text!r}"
    date, clock, fraction, zone = found.groups()
    zone = "+00:00" if zone in (None, "Z") else zone
    return datetime.fromisoformat(f"{date}T{clock}.{(fraction or '0')[:6].ljust(6, '0')}{zone}")


@pytest.fixture(scope="module")
def stack(machine_lock: None, base_images: None, timings: dict[str, float | str]) -> Iterator[None]:
    """The compose stack from an empty volume; removed with its volume afterwards."""
    require_not_running(CASSANDRA, MIGRATE, APP)
    require_free_port(8987)
    compose("down", "-v")
    try:
        up(timings, "compose_up_build_to_healthy_s", "--build")
        yield
    finally:
        compose("down", "-v")


@pytest.fixture(scope="module")
def first_uploads(stack: None) -> set[str]:
    """Ids of photos uploaded by the API and by the form."""
    ids = {p["id"] for p in upload_by_api("Sneaker", "Dress")}
    upload_by_form("Coat")
    assert ids <= listed_ids()
    return ids


def test_app_starts_only_after_cassandra_is_healthy(stack: None) -> None:
    checks = podman(
        "inspect", "--format", "{{range .State.Health.Log}}{{.ExitCode}} {{.End}}\n{{end}}", CASSANDRA
    )
    passed = [
        timestamp(line.split(" ", 1)[1]) for line in checks.stdout.splitlines() if line.startswith("0 ")
    ]
    assert passed, f"no passing health check of {CASSANDRA}: {checks.stdout}"
    app_started = timestamp(inspect(APP, "{{.State.StartedAt}}"))
    assert app_started >= min(passed), (
        f"the app started at {app_started}, Cassandra was healthy at {min(passed)}"
    )


def test_uploads_through_8987_are_listed(first_uploads: set[str]) -> None:
    assert len(first_uploads) == 2


def test_cassandra_admits_only_the_passwords_given(first_uploads: set[str]) -> None:
    roles = podman("logs", CASSANDRA)
    assert "cassandra-roles: role fashion ready" in roles.stdout + roles.stderr, roles.stderr[-3000:]
    for refused in (cqlsh("-e", CQL_READY), cqlsh("-u", "cassandra", "-p", "cassandra", "-e", CQL_READY)):
        assert refused.returncode != 0, refused.stdout
        assert "authenticat" in (refused.stdout + refused.stderr).lower(), refused.stderr

    superuser = cqlsh("-u", "cassandra", "-p", CREDENTIALS["CASSANDRA_SUPERUSER_PASSWORD"], "-e", CQL_READY)
    assert superuser.returncode == 0, superuser.stderr
    user, password = CREDENTIALS["CASSANDRA_USERNAME"], CREDENTIALS["CASSANDRA_PASSWORD"]
    rows = cqlsh("-u", user, "-p", password, "-e", "SELECT id FROM fashion_classifier.records;")
    assert rows.returncode == 0, rows.stderr
    assert all(record in rows.stdout for record in first_uploads), rows.stdout


def test_credentials_come_from_the_environment_not_the_image(stack: None) -> None:
    image_env = podman(
        "image", "inspect", "--format", "{{json .Config.Env}}", "fashion-classifier:local"
    ).stdout
    assert "CASSANDRA_PASSWORD" not in image_env and "CASSANDRA_USERNAME" not in image_env, image_env
    app_env = podman("exec", APP, "printenv", "CASSANDRA_PASSWORD").stdout.strip()
    assert app_env == CREDENTIALS["CASSANDRA_PASSWORD"]


def test_app_runs_as_uid_10001_on_a_read_only_root(stack: None) -> None:
    status = podman("exec", APP, "cat", "/proc/1/status").stdout
    uids = next(line.split()[1:] for line in status.splitlines() if line.startswith("Uid:"))
    assert set(uids) == {APP_UID}, status
    assert inspect(APP, "{{.HostConfig.ReadonlyRootfs}}") == "true"
    refused = podman("exec", APP, "touch", "/app/written", check=False)
    assert refused.returncode != 0
    assert "Read-only file system" in refused.stderr
    podman("exec", APP, "touch", "/tmp/written")  # the one writable place: a tmpfs


def test_healthcheck_reports_healthy(stack: None) -> None:
    podman("healthcheck", "run", APP)
    assert inspect(APP, "{{.State.Health.Status}}") == "healthy"


def test_app_restarted_alone_reconnects_and_serves(
    first_uploads: set[str], timings: dict[str, float | str]
) -> None:
    cassandra_started = inspect(CASSANDRA, "{{.State.StartedAt}}")
    podman("restart", "--time", "30", APP)
    timings["compose_app_restart_to_ready_s"] = round(wait_ready(APP), 1)

    (again,) = upload_by_api("Pullover")
    assert first_uploads | {again["id"]} <= listed_ids()
    assert inspect(CASSANDRA, "{{.State.StartedAt}}") == cassandra_started  # Cassandra untouched


def test_records_outlive_down_and_up(first_uploads: set[str], timings: dict[str, float | str]) -> None:
    compose("down")
    assert podman("volume", "exists", f"{PROJECT}_cassandra-data", check=False).returncode == 0
    up(timings, "compose_up_existing_volume_to_healthy_s")
    wait_ready(APP)

    assert first_uploads <= listed_ids()
