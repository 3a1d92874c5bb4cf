"""The image's command, run as the Dockerfile runs it, against the real local Cassandra node.

No Docker engine here, so the final stage's ENTRYPOINT + CMD run as a subprocess from the
repository root with the stage's ENV. Only what points into the image's file system or would
clash on this machine is replaced: the store (a test keyspace on the local node), the model
path (the checkout's models/), PATH (this venv), the metrics folder, the port (a free one) and
the bind address (loopback: a test must not listen on the machine's other interfaces).
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from PIL import Image, ImageDraw

from fashion_classifier import CLASSES
from tests.deploy.dockerfile import ROOT, Stage

pytestmark = pytest.mark.cassandra

KEYSPACE = "fc_entrypoint_test"
READY_WITHIN_S = 120  # two workers load the model and connect; the machine is shared and slow
STOP_WITHIN_S = 30
# Settings the image sets to paths of its own file system; each is replaced below.
IMAGE_PATHS = ("MODEL_PATH", "DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def replace_option(command: list[str], name: str, value: str) -> list[str]:
    assert name in command, f"the image's command {command} has no {name}"
    index = command.index(name) + 1
    return [*command[:index], value, *command[index + 1 :]]


def trouser_png() -> bytes:
    """A small Fashion-MNIST-like picture: a light pair of trousers on black."""
    image = Image.new("L", (28, 28), 0)
    draw = ImageDraw.Draw(image)
    draw.rectangle((8, 3, 19, 8), fill=200)
    draw.polygon([(8, 8), (13, 8), (12, 25), (8, 25)], fill=210)
    draw.polygon([(14, 8), (19, 8), (19, 25), (15, 25)], fill=210)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def wait_until_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + READY_WITHIN_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode} before it was ready:\n{tail(log)}")
        try:
            if requests.get(f"{url}/readyz", timeout=3).status_code == 200:
                return
        except requests.RequestException:  # not listening yet, or too slow to answer on a busy machine
            pass
        time.sleep(0.5)
    pytest.fail(f"/readyz did not answer 200 within {READY_WITHIN_S} s:\n{tail(log)}")


def tail(log: Path) -> str:
    return log.read_text(errors="replace")[-4000:]


def test_image_command_serves_predictions_and_stops_cleanly_on_sigterm(
    final_stage: Stage, cassandra_hosts: str, tmp_path: Path
) -> None:
    image_env = final_stage.env()
    assert set(IMAGE_PATHS) <= image_env.keys(), (
        "the image must set these (its defaults point into a checkout)"
    )
    bin_dir = Path(sys.executable).parent
    port = free_port()
    env = {
        **os.environ,
        **image_env,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "VIRTUAL_ENV": str(bin_dir.parent),
        "DATABASE_URL": f"cassandra://{cassandra_hosts}/{KEYSPACE}",
        "MODEL_PATH": str(ROOT / "models" / "fashion_cnn.int8.onnx"),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
    }
    command = replace_option(final_stage.command(), "--port", str(port))
    command = replace_option(command, "--host", "127.0.0.1")
    executable = shutil.which(command[0], path=env["PATH"])
    assert executable, f"{command[0]} is not installed in {bin_dir}"
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"

    # As compose and deploy/k8s do: the one-off migration step, then the image's command.
    subprocess.run([executable, "migrate"], cwd=ROOT, env=env, check=True, capture_output=True, timeout=300)
    with log.open("wb") as output:
        # Own session: if the test fails midway, the cleanup below reaches the workers too.
        process = subprocess.Popen(
            [executable, *command[1:]],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until_ready(process, url, log)

        answer = requests.post(
            f"{url}/api/v1/predictions",
            files={"file": ("trousers.png", trouser_png(), "image/png")},
            timeout=30,
        )
        assert answer.status_code == 201, answer.text
        (prediction,) = answer.json()["predictions"]
        assert prediction["label"] in CLASSES

        # The image's HEALTHCHECK command, pointed at this port, passes against the live server.
        healthcheck = final_stage.last("HEALTHCHECK")
        assert healthcheck is not None
        probe = [part.replace(":8987/", f":{port}/") for part in healthcheck.exec_form()]
        probe[0] = shutil.which(probe[0], path=env["PATH"]) or probe[0]
        assert subprocess.run(probe, env=env, timeout=30, check=False).returncode == 0

        process.send_signal(signal.SIGTERM)  # what `docker stop` and Kubernetes send first
        try:
            status = process.wait(timeout=STOP_WITHIN_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running {STOP_WITHIN_S} s after SIGTERM:\n{tail(log)}")
        assert status == 0, f"exit status {status} after SIGTERM:\n{tail(log)}"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
