"""Headless Chromium (Debian's) and axe-core (npm, tests/e2e/package.json) for the browser tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
AXE = ROOT / "tests" / "e2e" / "node_modules" / "axe-core" / "axe.min.js"
# Generated, so never into the tracked docs/: `make docs-screenshots` copies them there when wanted.
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
DESKTOP: dict[str, Any] = {"viewport": {"width": 1100, "height": 900}}
# An iPhone 12-13-14 sized screen, with touch, as a phone's browser reports it.
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 3,
    "is_mobile": True,
    "has_touch": True,
}
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]


def requirements() -> list[pytest.MarkDecorator]:
    """Skip on a developer's machine without the tools, but never in CI, where make test installs them."""
    marks = [pytest.mark.browser]
    if os.environ.get("CI") == "true":
        return marks
    if not CHROMIUM.exists():
        marks.append(pytest.mark.skip(reason="needs Debian's chromium: apt-get install chromium"))
    elif not AXE.exists():
        marks.append(pytest.mark.skip(reason="needs axe-core: (cd tests/e2e && npm ci --ignore-scripts)"))
    return marks


@contextmanager
def chromium() -> Iterator[Any]:
    """A Playwright browser on Debian's Chromium (Playwright's own download is not reachable)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def axe_violations(page: Any, *, impacts: tuple[str, ...] = ("serious", "critical")) -> list[str]:
    """Run axe-core on the page; one line per violation of those impacts: rule, impact, elements."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    result = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_TAGS)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} -> {[n['target'] for n in v['nodes']][:5]}"
        for v in result["violations"]
        if v["impact"] in impacts
    ]
