"""A person's visit in headless Chromium: upload two pictures, read the bars, correct one,
find the correction in the history, switch to Chinese. Screenshots go to test-artifacts/screenshots/ (`make docs-screenshots`
copies them into docs/)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.browser import SCREENSHOTS
from tests.e2e.conftest import Server, start_server, stop_server
from tests.pictures import dataset_png, first_of_class, not_a_garment, product_photo

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [pytest.mark.browser]
if not CHROMIUM.exists() and os.environ.get("CI") != "true":
    pytestmark.append(pytest.mark.skip(reason="needs Debian's chromium: apt-get install chromium"))

playwright_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("browser")
    running = start_server(f"sqlite:///{folder}/browser.db", folder / "server.log")
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def page(site: Server) -> Iterator[object]:
    with playwright_api.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1100, "height": 900}, locale="en-US")
        yield context.new_page()
        browser.close()


def pictures(folder: Path) -> list[Path]:
    boot = folder / "ankle-boot.png"
    boot.write_bytes(dataset_png(first_of_class(9))[0])
    trousers = folder / "trousers-photo.jpg"
    trousers.write_bytes(product_photo(first_of_class(1)))
    return [boot, trousers]


def test_upload_feedback_history_and_language(page: Any, site: Server, tmp_path: Path) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.goto(f"{site.url}/")
    assert page.url.endswith("/upload")
    page.set_input_files("#file", [str(p) for p in pictures(tmp_path)])
    previews = page.locator("#previews li")
    previews.first.wait_for()
    assert previews.count() == 2
    page.screenshot(path=str(SCREENSHOTS / "upload.png"), full_page=True)

    page.click("#upload-button")
    page.wait_for_url("**/results?ids=*")
    results = page.locator("article.result")
    assert results.count() == 2
    assert results.nth(0).locator(".bars meter").count() == 3  # top-3 as bars
    classes = [results.nth(i).locator(".predicted-class").inner_text() for i in range(2)]
    assert classes == ["Ankle boot", "Trouser"]
    page.screenshot(path=str(SCREENSHOTS / "result.png"), full_page=True)

    corrected_id = results.nth(1).get_attribute("data-record-id")
    results.nth(1).locator("select").select_option("Dress")
    results.nth(1).locator("button[type=submit]").click()
    page.wait_for_url(f"**/records/{corrected_id}?thanks=1")
    assert "Dress" in page.locator("dd.correction").inner_text()

    page.goto(f"{site.url}/history")
    row = page.locator(f"tr[data-record-id='{corrected_id}']")
    assert "Dress" in row.locator(".correction").inner_text()
    assert page.locator("table.history tbody tr").count() == 2
    page.screenshot(path=str(SCREENSHOTS / "history.png"), full_page=True)

    page.click("#lang-switch")
    page.wait_for_load_state()
    assert "上传历史" in page.locator("h1").inner_text()
    assert "连衣裙" in page.locator(f"tr[data-record-id='{corrected_id}'] .correction").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "history-zh.png"), full_page=True)
    page.goto(f"{site.url}/lang/en?next=/upload")


PAGES = ["/upload", "/history", "/docs"]


@pytest.mark.parametrize("path", ["/upload", "/history"])
def test_pages_pass_an_accessibility_smoke_check(page: Any, site: Server, path: str) -> None:
    page.goto(f"{site.url}{path}")
    problems = page.evaluate(
        """() => {
          const found = [];
          if (!document.documentElement.lang) found.push('no lang attribute');
          if (document.querySelectorAll('h1').length !== 1) found.push('not exactly one h1');
          for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
            const labelled = (el.id && document.querySelector(`label[for="${el.id}"]`)) || el.getAttribute('aria-label');
            if (!labelled) found.push(`unlabelled ${el.tagName} ${el.name}`);
          }
          for (const img of document.querySelectorAll('img')) {
            if (!img.getAttribute('alt')) found.push(`image without alt: ${img.src}`);
          }
          return found;
        }"""
    )
    assert problems == []


def test_result_and_record_pages_pass_the_same_check(page: Any, site: Server) -> None:
    page.goto(f"{site.url}/history")
    page.locator("table.history tbody tr a").first.click()
    page.wait_for_url("**/records/*")
    assert page.locator("img.full").get_attribute("alt")
    assert page.locator(".bars meter").count() == 10  # all ten probabilities on the record page
    assert page.locator("label[for^='fix-']").count() == 1


def test_a_picture_that_is_no_garment_says_so_and_the_history_filters_it(
    page: Any, site: Server, tmp_path: Path
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    scan = tmp_path / "scanned-page.png"
    scan.write_bytes(not_a_garment())
    page.goto(f"{site.url}/upload")
    page.set_input_files("#file", [str(scan)])
    page.locator("#previews li").first.wait_for()
    page.click("#upload-button")
    page.wait_for_url("**/results?ids=*")
    notice = page.locator("article.result .not-garment")
    assert "does not look like one of the ten garments" in notice.inner_text()
    page.screenshot(path=str(SCREENSHOTS / "not-garment.png"), full_page=True)
    record_id = page.locator("article.result").first.get_attribute("data-record-id")

    page.goto(f"{site.url}/history?garment=false")
    rows = page.locator("table.history tbody tr")
    assert [rows.nth(i).get_attribute("data-record-id") for i in range(rows.count())] == [record_id]
    page.goto(f"{site.url}/history?garment=true")
    assert page.locator(f"tr[data-record-id='{record_id}']").count() == 0
