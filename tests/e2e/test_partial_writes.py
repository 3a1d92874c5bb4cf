"""A multi-file upload lands whole or not at all, through a real server on SQLite.

The failure is real: a trigger in the database refuses one of the pictures' records, as a
full disk or a lost connection would refuse it midway through the upload.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import Server, start_server, stop_server
from tests.pictures import dataset_png, first_of_class

POISON = "third.png"


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    folder = tmp_path_factory.mktemp("partial")
    path = folder / "partial.db"
    running = start_server(f"sqlite:///{path}", folder / "server.log")
    yield running, path
    stop_server(running)


def files() -> list[tuple[str, tuple[str, bytes, str]]]:
    names = ["first.png", "second.png", POISON, "fourth.png"]
    return [("file", (name, dataset_png(first_of_class(n))[0], "image/png")) for n, name in enumerate(names)]


def kept_names(site: Server) -> list[str]:
    listed = requests.get(f"{site.url}/api/v1/predictions?limit=100", timeout=10).json()["predictions"]
    return [p["filename"] for p in listed]


@pytest.mark.parametrize("route", ["/api/v1/predictions", "/upload"])
def test_a_store_failure_midway_keeps_none_of_the_upload_and_a_retry_keeps_it_once(
    database: tuple[Server, Path], route: str
) -> None:
    site, path = database
    before = kept_names(site)
    with sqlite3.connect(path) as db:
        db.execute(
            f"CREATE TRIGGER refuse_poison BEFORE INSERT ON records WHEN NEW.filename = '{POISON}' "
            "BEGIN SELECT RAISE(ABORT, 'disk full (injected)'); END"
        )
    try:
        failed = requests.post(f"{site.url}{route}", files=files(), timeout=60)
        assert failed.status_code == 503, failed.text[:300]
        assert kept_names(site) == before
    finally:
        with sqlite3.connect(path) as db:
            db.execute("DROP TRIGGER refuse_poison")
    retried = requests.post(f"{site.url}{route}", files=files(), timeout=60)
    assert retried.status_code in (200, 201)
    assert sorted(kept_names(site)) == sorted([*before, "first.png", "second.png", POISON, "fourth.png"])
