"""axe-core (WCAG 2.1 A/AA and best practice) over every page, in English and Chinese,
on a desktop and a phone-sized screen: no serious or critical violation."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.e2e.browser import DESKTOP, PHONE, axe_violations, chromium, requirements
from tests.e2e.conftest import Server, start_server, stop_server
from tests.pictures import dataset_png, first_of_class

pytestmark = requirements()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("accessibility")
    running = start_server(f"sqlite:///{folder}/axe.db", folder / "server.log")
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def record_ids(site: Server) -> list[str]:
    """Two records, one of them corrected, so that result, record and history pages show everything."""
    files = [
        ("file", (f"{name}.png", dataset_png(first_of_class(label))[0]))
        for name, label in [("bag", 8), ("coat", 4)]
    ]
    created = requests.post(f"{site.url}/api/v1/predictions", files=files, timeout=60)
    assert created.status_code == 201
    ids = [p["id"] for p in created.json()["predictions"]]
    requests.post(f"{site.url}/api/v1/predictions/{ids[1]}/feedback", json={"label": "Shirt"}, timeout=30)
    return ids


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as running:
        yield running


def every_page(record_ids: list[str]) -> dict[str, str]:
    return {
        "upload": "/upload",
        "result": f"/results?ids={','.join(record_ids)}",
        "record": f"/records/{record_ids[1]}?thanks=1",
        "history": "/history",
        "models": "/models",
        "api console": "/docs",
        "error": f"/records/{uuid.uuid4()}",
    }


def open_every_operation(page: Any) -> None:
    """What a visitor of the console opens: each operation, and the form of one ("Try it out")."""
    page.locator(".swagger-ui .opblock").first.wait_for()
    for summary in page.locator(".swagger-ui .opblock-summary-control").all():
        summary.click()
    page.locator("#operations-default-list_predictions .try-out__btn").click()
    page.locator("#operations-default-list_predictions .execute").wait_for()


@pytest.mark.parametrize("screen", ["desktop", "phone"])
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_no_serious_or_critical_violations(
    browser: Any, site: Server, record_ids: list[str], lang: str, screen: str
) -> None:
    # bypass_csp: axe is injected as a script of our own, which the page's policy rightly refuses.
    context = browser.new_context(**(PHONE if screen == "phone" else DESKTOP), bypass_csp=True)
    context.add_cookies([{"name": "lang", "value": lang, "url": site.url}])
    page = context.new_page()
    found: dict[str, list[str]] = {}
    try:
        for name, path in every_page(record_ids).items():
            page.goto(f"{site.url}{path}")
            if name == "api console":
                open_every_operation(page)
            found[name] = axe_violations(page)
    finally:
        context.close()
    assert {name: problems for name, problems in found.items() if problems} == {}
