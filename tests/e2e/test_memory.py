"""Memory under hostile pictures, through a real server on SQLite: every process of the server
stays under 600 MB resident at its peak (VmHWM), whatever a request carries."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests
from PIL import Image

from tests.e2e.conftest import Server, start_server, stop_server
from tests.pictures import encode

PEAK_LIMIT_MB = 600
SIDE = 4898  # 24.0 megapixels: just under the per-picture limit


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("memory")
    running = start_server(f"sqlite:///{folder}/memory.db", folder / "server.log")
    yield running
    stop_server(running)


def process_tree(root: int) -> list[int]:
    """The server's process and all its descendants (front, gunicorn master, workers)."""
    parents: dict[int, int] = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue  # ended meanwhile
        parents[int(status.parent.name)] = int(re.search(r"^PPid:\s+(\d+)", text, re.M).group(1))  # type: ignore[union-attr]
    tree = [root]
    for pid in tree:
        tree += [child for child, parent in parents.items() if parent == pid]
    return tree


def peak_mb(pid: int) -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^VmHWM:\s+(\d+) kB", text, re.M).group(1)) / 1024  # type: ignore[union-attr]


def peaks(site: Server) -> dict[int, float]:
    return {pid: peak_mb(pid) for pid in process_tree(site.process.pid)}


@functools.cache
def blank_rgba() -> bytes:
    return encode(Image.new("RGBA", (SIDE, SIDE)))


def sixteen_bit(side: int) -> bytes:
    ramp = np.tile(np.linspace(0, 65535, side, dtype=np.uint16), (side, 1))
    return encode(Image.fromarray(ramp))


def post(site: Server, pictures: list[tuple[str, bytes]]) -> requests.Response:
    files = [("file", (name, content, "application/octet-stream")) for name, content in pictures]
    return requests.post(f"{site.url}/api/v1/predictions", files=files, timeout=120)


def test_sixteen_blank_24_megapixel_rgba_pngs_are_refused_before_decoding(site: Server) -> None:
    pictures = [(f"blank{n}.png", blank_rgba()) for n in range(16)]
    assert sum(len(content) for _, content in pictures) < 2_000_000  # the 1.5 MB request of the issue
    response = post(site, pictures)
    assert response.status_code == 413
    assert "megapixels" in response.json()["error"]["message"]
    assert max(peaks(site).values()) < PEAK_LIMIT_MB, peaks(site)


def test_a_mix_of_hostile_pictures_up_to_the_request_budget_is_classified_within_the_memory_bound(
    site: Server,
) -> None:
    small_alpha = encode(Image.new("RGBA", (1000, 1000), (0, 0, 0, 0)))
    palette = encode(Image.new("P", (1000, 1000)), "GIF")
    pictures = [("big.png", blank_rgba()), ("deep.png", sixteen_bit(3000))]
    pictures += [(f"small{n}.png", small_alpha if n % 2 else palette) for n in range(7)]
    pictures += [(f"deep{n}.png", sixteen_bit(1000)) for n in range(7)]
    response = post(site, pictures)
    assert response.status_code == 201, response.text[:300]
    assert len(response.json()["predictions"]) == 16
    assert max(peaks(site).values()) < PEAK_LIMIT_MB, peaks(site)
