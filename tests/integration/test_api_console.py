"""/docs: a current Swagger UI served from our own package, nothing fetched from elsewhere."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from fashion_classifier.config import Settings
from fashion_classifier.web import create_app
from tests.conftest import ROOT

PACKAGE_JSON = ROOT / "tests" / "e2e" / "package.json"
NPM_COPY = ROOT / "tests" / "e2e" / "node_modules" / "swagger-ui-dist"


@pytest.fixture
def client(tmp_path: Path, model_path: Path) -> FlaskClient:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/docs.db", model_path=model_path)
    return create_app(settings).test_client()


def fetch(client: FlaskClient, path: str) -> tuple[int, bytes]:
    """Status and body; the response is closed, so that static files are not left open."""
    with client.get(path) as response:
        return response.status_code, response.get_data()


def pinned_version() -> str:
    return str(json.loads(PACKAGE_JSON.read_text())["devDependencies"]["swagger-ui-dist"])


def test_the_docs_page_loads_only_files_of_this_server(client: FlaskClient) -> None:
    page = fetch(client, "/docs")[1].decode()
    sources = re.findall(r'<(?:script|link)[^>]* (?:src|href)="([^"]+)"', page)
    assert any(s.endswith("swagger-ui-bundle.js") for s in sources)
    assert [s for s in sources if "//" in s] == []  # no CDN, no other host
    for source in sources:
        assert fetch(client, source)[0] == 200, source


def test_the_console_is_the_pinned_swagger_ui_release(client: FlaskClient) -> None:
    version = pinned_version()
    assert int(version.split(".")[0]) >= 5  # 4.x (2022) is the one this replaced
    assert fetch(client, "/docs/assets/VERSION")[1].decode().startswith(f"swagger-ui-dist {version} ")
    if not NPM_COPY.exists():
        pytest.skip("tests/e2e/node_modules not installed: (cd tests/e2e && npm ci --ignore-scripts)")
    assert json.loads((NPM_COPY / "package.json").read_text())["version"] == version
    for name in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert fetch(client, f"/docs/assets/{name}")[1] == (NPM_COPY / name).read_bytes(), name
