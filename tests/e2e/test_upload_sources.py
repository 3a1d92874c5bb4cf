"""Pictures from the clipboard and from a phone's camera take the upload path of chosen files;
the navigation fits a 390-px phone screen. Screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.browser import DESKTOP, PHONE, SCREENSHOTS, chromium, requirements
from tests.e2e.conftest import Server, start_server, stop_server
from tests.pictures import dataset_png, first_of_class, product_photo

pytestmark = requirements()
COPY_PICTURE = """async b64 => {
  const bytes = Uint8Array.from(atob(b64), ch => ch.charCodeAt(0));
  await navigator.clipboard.write([new ClipboardItem({"image/png": new Blob([bytes], {type: "image/png"})})]);
}"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("upload-sources")
    running = start_server(f"sqlite:///{folder}/sources.db", folder / "server.log")
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as running:
        yield running


@pytest.fixture
def desktop(browser: Any, site: Server) -> Iterator[Any]:
    context = browser.new_context(**DESKTOP)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site.url)
    yield context.new_page()
    context.close()


@pytest.fixture
def phone(browser: Any, site: Server) -> Iterator[Any]:
    context = browser.new_context(**PHONE)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site.url)
    yield context.new_page()
    context.close()


def copy_picture(page: Any, png: bytes) -> None:
    """Put a PNG on the system clipboard, as 'Copy image' in another program would."""
    page.evaluate(COPY_PICTURE, base64.b64encode(png).decode())


def upload_and_read_classes(page: Any) -> list[str]:
    page.click("#upload-button")
    page.wait_for_url("**/results?ids=*")
    return page.locator("article.result .predicted-class").all_inner_texts()


def test_a_picture_pasted_with_ctrl_v_is_classified(desktop: Any, site: Server) -> None:
    desktop.goto(f"{site.url}/upload")
    copy_picture(desktop, dataset_png(first_of_class(9))[0])
    desktop.locator("h1").click()  # focus on the page, not in a field: Ctrl+V anywhere works
    desktop.keyboard.press("Control+V")
    preview = desktop.locator("#previews li")
    preview.first.wait_for()
    assert preview.count() == 1 and preview.first.inner_text().startswith("pasted-")
    assert upload_and_read_classes(desktop) == ["Ankle boot"]
    assert desktop.locator("article.result .filename").inner_text().startswith("pasted-")


def test_the_paste_field_takes_pictures_and_explains_text(phone: Any, site: Server) -> None:
    phone.goto(f"{site.url}/upload")
    field = phone.locator("#paste-target")
    phone.evaluate("() => navigator.clipboard.writeText('a coat')")
    field.focus()  # a long press on a phone ends in the same paste event on this field
    phone.keyboard.press("Control+V")
    assert "no picture" in phone.locator("#upload-error").inner_text()
    assert field.input_value() == "" and phone.locator("#previews li").count() == 0

    copy_picture(phone, dataset_png(first_of_class(5))[0])
    field.focus()
    phone.keyboard.press("Control+V")
    phone.locator("#previews li").first.wait_for()
    assert field.input_value() == "" and phone.locator("#upload-error").is_hidden()
    assert upload_and_read_classes(phone) == ["Sandal"]


def test_a_phone_offers_its_camera_and_a_photo_is_classified(
    phone: Any, site: Server, tmp_path: Path
) -> None:
    phone.goto(f"{site.url}/upload")
    camera = phone.locator("#camera")
    assert camera.get_attribute("capture") == "environment"
    assert camera.get_attribute("accept") == "image/*"
    assert phone.locator("label[for=camera]").is_visible()
    assert phone.locator("#file").get_attribute("capture") is None  # choosing files keeps the gallery
    photo = tmp_path / "camera.jpg"
    photo.write_bytes(product_photo(first_of_class(1)))
    camera.set_input_files(str(photo))  # what the camera app hands back
    phone.locator("#previews li").first.wait_for()
    assert upload_and_read_classes(phone) == ["Trouser"]


def test_a_desktop_shows_no_camera_button(desktop: Any, site: Server) -> None:
    desktop.goto(f"{site.url}/upload")
    assert desktop.locator("label[for=file]").is_visible()
    assert not desktop.locator("label[for=camera]").is_visible()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_navigation_fits_a_390_px_screen(phone: Any, site: Server, lang: str) -> None:
    phone.goto(f"{site.url}/lang/{lang}?next=/upload")
    width = phone.evaluate("() => document.documentElement.scrollWidth")
    lines = phone.evaluate(
        """() => [...document.querySelectorAll('.topbar a')].map(a => {
             const height = parseFloat(getComputedStyle(a).lineHeight);
             return [a.textContent.trim(), Math.round(a.getBoundingClientRect().height / height)];
           })"""
    )
    assert width <= 390
    assert [label for label, count in lines if count != 1] == []  # no label broken over two lines
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    phone.screenshot(path=str(SCREENSHOTS / f"phone-upload{'-zh' if lang == 'zh' else ''}.png"))
