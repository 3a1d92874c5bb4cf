"""podman for the container tests: commands, health, HTTP readiness, uploads, clean-up by name."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

from fashion_classifier import CLASSES
from tests.pictures import first_of_class, product_photo

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tools" / "containers"
# podman with the project's settings; Docker's image format keeps the Dockerfile's HEALTHCHECK.
ENV = {**os.environ, "CONTAINERS_CONF": str(TOOLS / "containers.conf"), "BUILDAH_FORMAT": "docker"}
# podman plus the health-check timer and `wait --condition=healthy` that podman 4.3 lacks here.
HEALTHY_WAIT = TOOLS / "podman-healthy-wait"
APP_URL = "http://127.0.0.1:8987"


def require_free_port(port: int) -> None:
    """Fail at once, saying why, when something on this machine already listens on `port`, or a
    removed container's port forwarding still sends it elsewhere."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("0.0.0.0", port))
        except OSError as error:
            pytest.fail(
                f"port {port} is taken ({error.strerror}): the containers publish the app there. "
                f"Stop what listens on it (`ss -ltnp 'sport = :{port}'` names it) and run again."
            )
    # A container whose clean-up never ran (its podman process killed) leaves netavark's DNAT
    # rule behind: connections to the port then fail with "No route to host".
    rules = subprocess.run(
        ["iptables", "-t", "nat", "-S", "NETAVARK-HOSTPORT-DNAT"], capture_output=True, text=True, check=False
    ).stdout
    stale = [rule for rule in rules.splitlines() if f"--dport {port} " in rule]
    if stale:
        pytest.fail(
            f"no container publishes {port}, yet podman's port forwarding for it is still there "
            f"(a container removed without its clean-up):\n{stale[0]}\n"
            f"Delete it with `iptables -t nat -D {stale[0].removeprefix('-A ')}` and run again."
        )


def require_not_running(*names: str) -> None:
    """Fail at once when a container of these names runs: someone else's stack, never to be removed here."""
    running = set(podman("ps", "--format", "{{.Names}}").stdout.split()) & set(names)
    if running:
        pytest.fail(
            f"{', '.join(sorted(running))} already running on this machine: another test run or a "
            f"user's stack uses the names and port deploy/ fixes. Stop it (`podman rm -f NAME`, or "
            f"`tools/containers/compose.sh down`) when it is done, and run again."
        )


def podman(*args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run `podman ARGS`; on failure the assertion shows podman's own message."""
    done = subprocess.run(
        ["podman", *args], check=False, env=ENV, capture_output=True, text=True, timeout=timeout
    )
    if check:
        assert done.returncode == 0, f"podman {' '.join(args)} failed:\n{done.stderr[-3000:]}"
    return done


def inspect(name: str, template: str) -> str:
    return podman("inspect", "--format", template, name).stdout.strip()


def wait_healthy(*names: str, timeout: float = 300) -> float:
    """Seconds until podman records every container healthy (each by its own health check)."""
    started = time.monotonic()
    done = subprocess.run(
        [str(HEALTHY_WAIT), "wait", "--condition=healthy", *names],
        check=False,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, f"{', '.join(names)} did not become healthy:\n{done.stderr}\n{logs(*names)}"
    return time.monotonic() - started


def wait_ready(container: str, *, url: str = APP_URL, timeout: float = 180) -> float:
    """Seconds until the app's /readyz answers 200 (model loaded, store reachable)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        assert inspect(container, "{{.State.Running}}") == "true", f"{container} stopped:\n{logs(container)}"
        try:
            if requests.get(f"{url}/readyz", timeout=3).status_code == 200:
                return time.monotonic() - started
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url}/readyz did not answer 200 within {timeout} s:\n{logs(container)}")


def logs(*names: str) -> str:
    return "\n".join(podman("logs", "--tail", "40", name, check=False).stderr[-3000:] for name in names)


def remove(
    *, containers: tuple[str, ...] = (), networks: tuple[str, ...] = (), volumes: tuple[str, ...] = ()
) -> None:
    """Remove what a test made, by name; what is already gone is fine."""
    if containers:
        podman("rm", "--force", "--volumes", "--time", "10", *containers, check=False)
    for network in networks:
        podman("network", "rm", "--force", network, check=False)
    for volume in volumes:
        podman("volume", "rm", "--force", volume, check=False)


def photo(label: str) -> tuple[str, bytes, str]:
    """A product-style JPEG of a test-set garment of class `label`, as (filename, bytes, type)."""
    name = label.lower().replace(" ", "-").replace("/", "-")
    return f"{name}.jpg", product_photo(first_of_class(CLASSES.index(label))), "image/jpeg"


def upload_by_api(*labels: str, url: str = APP_URL) -> list[dict]:
    """POST photos of these classes to the JSON API; the predictions, in order."""
    files = [("file", photo(label)) for label in labels]
    answer = requests.post(f"{url}/api/v1/predictions", files=files, timeout=60)
    assert answer.status_code == 201, answer.text
    predictions = answer.json()["predictions"]
    assert [p["label"] for p in predictions] == list(labels)
    return predictions


def upload_by_form(label: str, *, url: str = APP_URL) -> str:
    """POST one photo through the upload page's form; the result page it redirects to."""
    answer = requests.post(f"{url}/upload", files={"file": photo(label)}, timeout=60)
    # Post/redirect/get: 303 to the results page, which shows the picture and its class.
    assert [step.status_code for step in answer.history] == [303], answer.text[:2000]
    assert answer.status_code == 200, answer.text[:2000]
    assert label in answer.text
    return answer.text


def listed_ids(url: str = APP_URL) -> set[str]:
    """The ids of the newest records the API lists (first page of 100)."""
    answer = requests.get(f"{url}/api/v1/predictions", params={"limit": 100}, timeout=30)
    assert answer.status_code == 200, answer.text
    return {item["id"] for item in answer.json()["predictions"]}
