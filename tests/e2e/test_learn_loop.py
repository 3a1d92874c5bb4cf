"""Users correct wrong answers, `fashion-classifier learn --promote` makes a version that takes them
in, every worker switches to it while uploads go on, and `models rollback` brings the old one back.

A real `fashion-classifier serve` (2 workers, MODEL_POLL_SECONDS=1) over SQLite and over the real
Cassandra node. 300 photos staged by renderer B (training/studio.py: never trained or tuned on) of
validation garments, seed 101 as in bench/learn.py: the shipped model gets about one in seven of
them wrong, and learning from them passes the gate (docs/learning.md). The learn and models commands
run as subprocesses against the server's DATABASE_URL, as an operator would run them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests

from fashion_classifier.labels import CLASSES
from fashion_classifier.training import data, studio
from fashion_classifier.training.studio import StudioPhoto
from tests.cassandra_node import cassandra_test_url
from tests.e2e.conftest import ROOT, Server, start_server, stop_server
from tests.e2e.live_uploads import Uploads, models_cli, served_versions

pytest.importorskip("onnx", reason="learn needs onnx (the train extra)")

# `learn` scores the candidate on the 10,000 test images: slow by the marker's definition.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

PER_KIND, SEED = 60, 101  # 300 uploads, 5 kinds of file
STEPS = 100  # learn's default is 300; on these uploads 100 pass the gate with the same figures
CLIENTS, PAUSE_S = 2, 0.2  # uploads that go on while learn runs, and leave it CPU to run with
LEARN_TIMEOUT_S = 600  # the first run renders the gate's 2,000 studio photos (minutes on a busy machine)


@pytest.fixture(scope="module")
def photos() -> list[StudioPhoto]:
    """The users' uploads, in the order they come: the kinds of file mixed in time."""
    _, validation = data.train_validation_split(data.load().train)
    shots = studio.shoot_set(validation.images, validation.labels, per_kind=PER_KIND, seed=SEED)
    return [shots[i] for i in np.random.default_rng(SEED).permutation(len(shots))]


@pytest.fixture(scope="module")
def learn_output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """learn's --output for both stores: the gate's studio photos, rendered once, are kept in it."""
    return tmp_path_factory.mktemp("candidates")


@pytest.fixture(params=["sqlite", pytest.param("cassandra", marks=pytest.mark.cassandra)])
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Server, str]]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/learn.db"
    else:
        url = cassandra_test_url(f"fc_learn_{uuid.uuid4().hex[:8]}")
    running = start_server(url, tmp_path / "server.log", WEB_CONCURRENCY="2", MODEL_POLL_SECONDS="1")
    yield running, url
    stop_server(running)


def test_corrections_learned_promoted_to_every_worker_and_rolled_back_without_a_failed_upload(
    site: tuple[Server, str], photos: list[StudioPhoto], learn_output: Path, tmp_path: Path
) -> None:
    server, url = site
    shipped = active_version(server)
    corrected = upload_and_correct_the_wrong(server, photos)
    assert len(corrected) >= 20, "too few wrong answers to learn from: pick another seed"

    uploads = Uploads(server.url, pause=PAUSE_S)
    clients, learning = [], start_learn(url, learn_output, tmp_path)
    try:
        wait_until_uploads_read(learning, tmp_path)  # what is uploaded from now on is not learnt from
        clients = uploads.start(CLIENTS)
        uploads.wait_for(shipped)
        version = promoted_version(learning, tmp_path)
        uploads.wait_for(version)
        assert active_version(server) == version
        assert served_versions(server) == {version}  # every worker, not just those we reached
        learned = [classify(server, photo) for photo, _ in corrected]
        assert {record["model_version"] for record in learned} == {version}
        now_right = sum(r["label"] == CLASSES[p.label] for r, (p, _) in zip(learned, corrected, strict=True))
        print(f"{version} answers {now_right} of the {len(corrected)} corrected pictures as corrected")
        assert now_right > 0, f"the learned version answers none of the {len(corrected)} as corrected"

        rolled_back = models_cli(url, "rollback")
        assert rolled_back.returncode == 0, rolled_back.stderr
        uploads.wait_for(shipped)
        assert active_version(server) == shipped
        assert served_versions(server) == {shipped}
        again = [classify(server, photo) for photo, _ in corrected]
        assert {record["model_version"] for record in again} == {shipped}
        assert [record["label"] for record in again] == [first for _, first in corrected]
    finally:
        uploads.stop(clients)
        if learning.poll() is None:
            learning.kill()
            learning.wait()
    assert uploads.failed() == []
    assert {v for _, v, _ in uploads.answers} == {shipped, version}


def active_version(server: Server) -> str:
    return str(requests.get(f"{server.url}/readyz", timeout=10).json()["model"])


def classify(server: Server, photo: StudioPhoto, name: str = "photo") -> dict:
    files = {"file": (f"{name}.{photo.kind}", photo.data)}
    answer = requests.post(f"{server.url}/api/v1/predictions", files=files, timeout=60)
    assert answer.status_code == 201, answer.text
    return dict(answer.json()["predictions"][0])


def upload_and_correct_the_wrong(server: Server, photos: list[StudioPhoto]) -> list[tuple[StudioPhoto, str]]:
    """Each photo uploaded in turn; a wrong answer corrected through the JSON API, as a user would.

    One at a time: which uploads learn holds back (the newest fifth) follows their order.
    Returns the corrected photos with the answer they first got.
    """
    corrected = []
    for number, photo in enumerate(photos):
        record = classify(server, photo, f"photo-{number}")
        truth = CLASSES[photo.label]
        if record["label"] != truth:
            feedback = requests.post(
                f"{server.url}/api/v1/predictions/{record['id']}/feedback", json={"label": truth}, timeout=30
            )
            assert feedback.status_code == 200, feedback.text
            corrected.append((photo, str(record["label"])))
    return corrected


def start_learn(database_url: str, output: Path, logs: Path) -> subprocess.Popen[bytes]:
    """`fashion-classifier learn --promote`, its output in `logs` (learn.out, learn.err)."""
    command = [sys.executable, "-m", "fashion_classifier.cli", "learn", "--promote"]
    command += ["--output", str(output), "--steps", str(STEPS)]
    environment = {**os.environ, "DATABASE_URL": database_url, "PYTHONUNBUFFERED": "1"}
    with (logs / "learn.out").open("wb") as out, (logs / "learn.err").open("wb") as err:
        return subprocess.Popen(command, cwd=ROOT, env=environment, stdout=out, stderr=err)


def wait_until_uploads_read(learning: subprocess.Popen[bytes], logs: Path) -> None:
    """Until learn says it has read the uploads ("read N uploads, M corrected ...")."""
    deadline = time.monotonic() + LEARN_TIMEOUT_S
    while time.monotonic() < deadline and learning.poll() is None:
        if re.search(r"^read \d+ uploads", (logs / "learn.err").read_text(), re.MULTILINE):
            return
        time.sleep(0.2)
    raise AssertionError(f"learn did not read the uploads:\n{learn_output_text(logs)}")


def promoted_version(learning: subprocess.Popen[bytes], logs: Path) -> str:
    """The version learn promoted; its gate's figures and reasons in the failure message if none."""
    try:
        status = learning.wait(timeout=LEARN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        learning.kill()
        learning.wait()
        raise
    printed = learn_output_text(logs)
    print(printed)  # the gate's figures, shown with -s or when the test fails
    promoted = re.search(r"^promoted (\S+):", printed, re.MULTILINE)
    assert status == 0 and promoted, f"learn --promote exited with {status}:\n{printed}"
    return promoted.group(1)


def learn_output_text(logs: Path) -> str:
    return (logs / "learn.out").read_text() + (logs / "learn.err").read_text()[-3000:]
