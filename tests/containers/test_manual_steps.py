"""The seed's manual steps, as the README shows them, with podman in place of docker.

A user-defined network deewhy-network, Cassandra on it, the app image from deploy/Dockerfile,
the app on that network publishing 8987; photos uploaded by the form and by the API; the rows
read with cqlsh inside the Cassandra container.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.containers.podman import podman, remove, upload_by_api, upload_by_form, wait_ready

pytestmark = [pytest.mark.containers, pytest.mark.timeout(1800)]

NETWORK = "deewhy-network"
CASSANDRA, APP = "cassandra", "fashion-classifier"  # the README's names
CQL_READY = "SELECT release_version FROM system.local"
CASSANDRA_WITHIN_S = 300


def cqlsh(query: str, *, check: bool = True) -> str:
    return podman("exec", CASSANDRA, "cqlsh", "-e", query, timeout=60, check=check).stdout


def wait_for_cql() -> float:
    """As the README says: wait until cqlsh inside the container answers."""
    started = time.monotonic()
    while time.monotonic() - started < CASSANDRA_WITHIN_S:
        if podman("exec", CASSANDRA, "cqlsh", "-e", CQL_READY, timeout=60, check=False).returncode == 0:
            return time.monotonic() - started
        time.sleep(2)
    raise AssertionError(f"cqlsh in {CASSANDRA} got no answer within {CASSANDRA_WITHIN_S} s")


@pytest.fixture
def seed_stack(app_image: str, timings: dict[str, float | str]) -> Iterator[None]:
    """The README's docker commands, run with podman; removed again afterwards."""
    remove(containers=(APP, CASSANDRA), networks=(NETWORK,))
    podman("network", "create", NETWORK)
    try:
        podman("run", "-d", "--name", CASSANDRA, "--network", NETWORK,
               "-e", "MAX_HEAP_SIZE=1G", "-e", "HEAP_NEWSIZE=256M", "cassandra:5.0")  # fmt: skip
        timings["seed_cassandra_cql_ready_s"] = round(wait_for_cql(), 1)
        podman("run", "-d", "--name", APP, "--network", NETWORK, "-p", "127.0.0.1:8987:8987",
               "-e", "DATABASE_URL=cassandra://cassandra:9042/fashion_classifier", app_image)  # fmt: skip
        timings["seed_app_start_to_ready_s"] = round(wait_ready(APP), 1)
        yield
    finally:
        remove(containers=(APP, CASSANDRA), networks=(NETWORK,))


def test_uploads_through_8987_are_classified_and_readable_with_cqlsh(seed_stack: None) -> None:
    page = upload_by_form("Trouser")
    assert "trouser.jpg" in page
    by_api = upload_by_api("Ankle boot", "Bag")

    rows = cqlsh("SELECT id, filename, label FROM fashion_classifier.records;")

    for filename, label in [("trouser.jpg", "Trouser"), ("ankle-boot.jpg", "Ankle boot"), ("bag.jpg", "Bag")]:
        assert any(filename in line and label in line for line in rows.splitlines()), rows
    for prediction in by_api:
        assert prediction["id"] in rows
    assert "(3 rows)" in rows
