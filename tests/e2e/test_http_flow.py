"""The seed's flow and concurrent uploads through a real gunicorn server, on both stores."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import requests

from tests.e2e.conftest import Server
from tests.pictures import dataset_png, first_of_class, product_photo


def test_seed_flow_over_http(server: Server) -> None:
    root = requests.get(f"{server.url}/", allow_redirects=False, timeout=10)
    assert root.status_code == 302 and root.headers["Location"].endswith("/upload")
    form = requests.get(f"{server.url}/upload", timeout=10)
    assert 'type="file"' in form.text and 'name="file"' in form.text

    png, _ = dataset_png(first_of_class(5))  # a sandal
    result = requests.post(
        f"{server.url}/upload", files={"file": ("sandal.png", png, "image/png")}, timeout=30
    )
    assert result.history[0].status_code == 303 and result.status_code == 200  # post/redirect/get
    assert "Sandal" in result.text and "sandal.png" in result.text

    newest = requests.get(f"{server.url}/api/v1/predictions?limit=1", timeout=10).json()["predictions"][0]
    assert newest["filename"] == "sandal.png" and newest["label"] == "Sandal"
    picture = requests.get(f"{server.url}{newest['image_url']}", timeout=10)
    assert picture.status_code == 200 and picture.headers["Content-Type"].startswith("image/")


def all_ids(server: Server) -> set[str]:
    ids: set[str] = set()
    cursor = ""
    while True:
        page = requests.get(f"{server.url}/api/v1/predictions?limit=100&cursor={cursor}", timeout=30).json()
        ids |= {p["id"] for p in page["predictions"]}
        if not page["next_cursor"]:
            return ids
        cursor = page["next_cursor"]


def test_fifty_six_concurrent_uploads_from_eight_clients_are_all_kept(server: Server) -> None:
    pictures = [product_photo(i, fmt="JPEG") for i in range(8)]

    def client(number: int) -> list[str]:
        session = requests.Session()
        ids = []
        for n in range(7):
            response = session.post(
                f"{server.url}/api/v1/predictions",
                files={"file": (f"client{number}-{n}.jpg", pictures[(number + n) % 8], "image/jpeg")},
                timeout=60,
            )
            assert response.status_code == 201, response.text
            ids.append(response.json()["predictions"][0]["id"])
        return ids

    with ThreadPoolExecutor(max_workers=8) as pool:
        acknowledged = [i for ids in pool.map(client, range(8)) for i in ids]
    assert len(set(acknowledged)) == 56
    assert set(acknowledged) <= all_ids(server)
