"""The API console (/docs) in a browser: it renders our document and its "Execute" calls the API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.browser import DESKTOP, chromium, requirements
from tests.e2e.conftest import Server, start_server, stop_server

pytestmark = requirements()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("console")
    running = start_server(f"sqlite:///{folder}/console.db", folder / "server.log")
    yield running
    stop_server(running)


def test_try_it_out_calls_the_api_under_our_content_security_policy(site: Server) -> None:
    with chromium() as browser:
        page = browser.new_context(**DESKTOP).new_page()
        errors: list[str] = []
        page.on(
            "console",
            lambda m: errors.append(f"{m.text} {m.location['url']}") if m.type == "error" else None,
        )
        page.goto(f"{site.url}/docs")
        operation = page.locator("#operations-default-get_model_card")
        operation.locator(".opblock-summary-control").click()
        operation.locator(".try-out__btn").click()
        operation.locator(".execute").click()
        live = operation.locator(".live-responses-table tr.response .response-col_status").first
        live.wait_for()
        assert live.inner_text().strip() == "200"
        assert '"version"' in operation.locator(".live-responses-table .microlight").first.inner_text()
    # No script or style refused by the policy, no missing file (the site has no favicon: not ours to add here).
    assert [e for e in errors if not e.endswith("/favicon.ico")] == []
