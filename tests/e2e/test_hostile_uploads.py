"""Hostile uploads through a real server: never a 5xx or a hang; a 4xx that says why."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
import requests
from PIL import Image

from tests.e2e.conftest import Server
from tests.pictures import encode, fmnist_test, product_photo

ROUTES = ["/api/v1/predictions", "/upload"]


def garment(index: int = 0, size: int = 112) -> Image.Image:
    return Image.fromarray(255 - fmnist_test().images[index]).resize((size, size))


def zip_file() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.png", encode(garment()))
    return buffer.getvalue()


def animated_gif() -> bytes:
    buffer = io.BytesIO()
    frames = [garment(i).convert("P") for i in range(3)]
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=80, loop=0)
    return buffer.getvalue()


def sixteen_bit_png() -> bytes:
    wide = np.asarray(garment(), dtype=np.uint16) * 257
    picture = Image.fromarray(wide)
    assert picture.mode.startswith("I;16")
    return encode(picture)


REFUSED = {
    "empty": (b"", "empty"),
    "truncated": (product_photo(0, fmt="PNG")[:3000], "truncated|damaged"),
    "html-named-png": (b"<!doctype html><script>alert(document.cookie)</script>", "not a picture"),
    "svg-named-png": (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "not a picture"),
    "pdf-named-png": (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF", "not a picture"),
    "zip-named-png": (zip_file(), "not a picture"),
    "bomb": (encode(Image.new("L", (12_000, 12_000)), "PNG"), "too many pixels|megapixels"),
}
ACCEPTED = {
    "cmyk.jpg": encode(garment().convert("CMYK"), "JPEG"),
    "sixteen-bit.png": sixteen_bit_png(),
    "palette.png": encode(garment().convert("P")),
    "animated.gif": animated_gif(),
}
HOSTILE_NAMES = [
    "../../../etc/passwd",
    "<script>alert(1)</script>.png",
    "a\x00b.png",
]


def post(server: Server, route: str, name: str, content: bytes) -> requests.Response:
    files = {"file": (name, content, "image/png")}
    headers = {"Accept-Language": "en"}
    return requests.post(f"{server.url}{route}", files=files, headers=headers, timeout=60)


def count(server: Server) -> int:
    return len(requests.get(f"{server.url}/api/v1/predictions?limit=100", timeout=10).json()["predictions"])


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("case", sorted(REFUSED))
def test_invalid_files_get_a_4xx_that_says_why_and_nothing_is_written(
    server: Server, route: str, case: str
) -> None:
    content, reason = REFUSED[case]
    before = count(server)
    response = post(server, route, "picture.png", content)
    assert 400 <= response.status_code < 500, response.text[:300]
    text = response.json()["error"]["message"] if route.startswith("/api") else response.text
    assert any(word in text for word in reason.split("|")), text[:300]
    assert count(server) == before


@pytest.mark.parametrize("route", ROUTES)
def test_thirty_megabytes_is_413_with_a_message(server: Server, route: str) -> None:
    response = post(server, route, "huge.png", b"\x89PNG\r\n\x1a\n" + bytes(30 * 1024 * 1024))
    assert response.status_code == 413
    assert "MB" in response.text


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_unusual_but_valid_pictures_are_classified(server: Server, route: str, name: str) -> None:
    response = post(server, route, name, ACCEPTED[name])
    created = 200 if route == "/upload" else 201  # the form redirects (303) to its results page
    assert response.status_code == created, response.text[:300]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_file_names_are_data_and_shown_escaped(server: Server, name: str) -> None:
    api = post(server, "/api/v1/predictions", name, encode(garment()))
    assert api.status_code == 201
    kept = api.json()["predictions"][0]["filename"]
    assert kept == name.replace("\x00", "")
    page = post(server, "/upload", name, encode(garment()))
    assert page.status_code == 200 and page.history[0].status_code == 303
    assert "<script>alert(1)</script>" not in page.text
    if "<script>" in name:
        assert "&lt;script&gt;alert(1)&lt;/script&gt;.png" in page.text
