"""What an attacker tries cheaply, through a real server on SQLite: refused with a 4xx, no data
changed, never a 5xx; error bodies name no file path and no host."""

from __future__ import annotations

import base64
import io
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from fashion_classifier.config import Settings
from fashion_classifier.web import create_app
from tests.e2e.conftest import Server, start_server, stop_server
from tests.pictures import dataset_png, first_of_class

EVIL = "https://evil.example"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("attacks")
    running = start_server(f"sqlite:///{folder}/attacks.db", folder / "server.log")
    yield running
    stop_server(running)


def upload(site: Server, headers: dict[str, str] | None = None) -> requests.Response:
    png, _ = dataset_png(first_of_class(0))
    files = [("file", ("top0.png", png, "image/png"))]
    return requests.post(f"{site.url}/api/v1/predictions", files=files, headers=headers or {}, timeout=60)


def newest(site: Server) -> dict[str, object]:
    return requests.get(f"{site.url}/api/v1/predictions?limit=1", timeout=10).json()["predictions"][0]


@pytest.mark.parametrize(
    "target",
    ["/%09/evil.example/login", "/%0d%0aSet-Cookie:%20lang=zh", "/%5cevil.example", "//evil.example"],
)
def test_language_switch_never_redirects_to_another_site(site: Server, target: str) -> None:
    response = requests.get(f"{site.url}/lang/en?next={target}", allow_redirects=False, timeout=10)
    assert response.status_code == 302
    assert response.headers["Location"] == "/upload"


def test_language_switch_returns_to_a_page_of_this_site(site: Server) -> None:
    response = requests.get(f"{site.url}/lang/zh?next=/history?label=Coat", allow_redirects=False, timeout=10)
    assert response.headers["Location"] == "/history?label=Coat"


def test_a_form_of_another_site_cannot_change_a_correction(site: Server) -> None:
    record = upload(site).json()["predictions"][0]
    forged = requests.post(
        f"{site.url}/records/{record['id']}/feedback",
        data={"label": "Bag"},
        headers={"Origin": EVIL, "Referer": f"{EVIL}/page"},
        allow_redirects=False,
        timeout=10,
    )
    assert forged.status_code == 403 and "another web site" in forged.text
    assert requests.get(f"{site.url}{record['url']}", timeout=10).json()["corrected_label"] is None


@pytest.mark.parametrize(
    "headers",
    [{"Sec-Fetch-Site": "cross-site", "Origin": EVIL}, {"Origin": "null"}, {"Referer": f"{EVIL}/x"}],
)
def test_cross_site_uploads_are_refused(site: Server, headers: dict[str, str]) -> None:
    before = newest(site)["id"]
    assert upload(site, headers).status_code == 403
    assert newest(site)["id"] == before


def test_the_own_pages_and_curl_can_still_write(site: Server) -> None:
    assert upload(site).status_code == 201  # no Origin: curl, scripts
    assert upload(site, {"Sec-Fetch-Site": "same-origin", "Origin": site.url}).status_code == 201
    host = site.url.removeprefix("http://")
    assert upload(site, {"Origin": site.url, "Referer": f"http://{host}/upload"}).status_code == 201


def test_made_up_methods_add_no_metric_series(site: Server) -> None:
    def series() -> int:
        text = requests.get(f"{site.url}/metrics", timeout=10).text
        return len(re.findall(r"^fashion_http_requests_total\{", text, re.MULTILINE))

    for n in range(3):  # warm up the series these requests add anyway (/metrics' own included)
        requests.request(f"BREW{chr(65 + n)}", f"{site.url}/healthz", timeout=10)
        series()
    before = series()
    for n in range(40):  # letters only: nginx refuses a method with digits itself (400)
        method = f"MADEUP{chr(65 + n // 26)}{chr(65 + n % 26)}"
        assert requests.request(method, f"{site.url}/healthz", timeout=10).status_code == 405
    assert series() == before


def forged_cursor(millis: int) -> str:
    raw = f"{millis}:01890a5d-ac96-774b-bcce-b302099a8057".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("path", ["/api/v1/predictions", "/history"])
@pytest.mark.parametrize("millis", [10**20, -(10**20)])
def test_a_forged_cursor_is_a_400(site: Server, path: str, millis: int) -> None:
    response = requests.get(f"{site.url}{path}", params={"cursor": forged_cursor(millis)}, timeout=10)
    assert response.status_code == 400 and "cursor" in response.text


def test_deeply_nested_feedback_json_is_a_4xx(site: Server) -> None:
    record = upload(site).json()["predictions"][0]
    for body in ("[" * 100_000, "[" * 3000):
        response = requests.post(
            f"{site.url}{record['url']}/feedback",
            data=body,
            headers={"Content-Type": "application/json"},
            timeout=10,
        )
        assert 400 <= response.status_code < 500, response.text[:200]


def test_an_unknown_label_is_not_echoed_back_in_full(site: Server) -> None:
    record = upload(site).json()["predictions"][0]
    label = "x" * 1_000_000
    response = requests.post(f"{site.url}/records/{record['id']}/feedback", data={"label": label}, timeout=30)
    assert response.status_code == 400
    assert len(response.content) < 20_000


def test_too_many_form_parts_says_so(site: Server) -> None:
    files = [("file", (f"{n}.png", b"x", "image/png")) for n in range(60)]
    response = requests.post(f"{site.url}/api/v1/predictions", files=files, timeout=30)
    assert response.status_code == 413
    assert "too many parts" in response.json()["error"]["message"]


def test_bidi_and_zero_width_characters_are_taken_out_of_file_names(site: Server) -> None:
    png, _ = dataset_png(first_of_class(0))
    name = "invoice\u202egnp.exe\u200b\u2060.png"
    response = requests.post(
        f"{site.url}/api/v1/predictions", files={"file": (name, png, "image/png")}, timeout=30
    )
    assert response.json()["predictions"][0]["filename"] == "invoicegnp.exe.png"


def test_a_newline_in_the_path_forges_no_log_line(site: Server) -> None:
    raw = b"GET /nothing%0a2026-01-01%20CRITICAL%20forged HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    port = int(site.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(raw)
        assert sock.recv(100).startswith(b"HTTP/1.1 404")
    lines = Path(site.log).read_text(errors="replace").splitlines()
    assert not any(line.startswith("2026-01-01 CRITICAL forged") for line in lines)


def test_a_broken_store_answers_503_without_naming_its_path(tmp_path: Path, model_path: Path) -> None:
    # In-process: `serve` now refuses to start on a store it cannot create (and says why on the
    # console), so a store that breaks while serving is made here by blocking its folder.
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the database folder should be")
    settings = Settings(database_url=f"sqlite:///{blocker}/secret-name.db", model_path=model_path)
    client = create_app(settings).test_client()
    picture = io.BytesIO(dataset_png(0)[0])
    answers = [
        client.get("/readyz"),
        client.get("/api/v1/predictions"),
        client.get("/history"),
        client.post("/api/v1/predictions", data={"file": (picture, "x.png")}),
    ]
    for answer in answers:
        text = answer.get_data(as_text=True)
        assert answer.status_code == 503, text[:300]
        assert "secret-name" not in text and str(tmp_path) not in text
