"""The rules a newcomer relies on when reading the code (docs/architecture.md), held by tests."""

from __future__ import annotations

import re
from pathlib import Path

from fashion_classifier.config import Limits, Settings

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "fashion_classifier"
MAX_MODULE_LINES = 300


def sources() -> dict[str, str]:
    return {path.relative_to(PACKAGE).as_posix(): path.read_text() for path in PACKAGE.rglob("*.py")}


def test_only_config_reads_or_writes_the_environment() -> None:
    readers = {
        name for name, text in sources().items() if re.search(r"os\.environ|os\.getenv|getenv\(", text)
    }
    assert readers == {"config.py"}


def test_only_the_service_and_storage_open_a_store() -> None:
    openers = {
        name
        for name, text in sources().items()
        if re.search(r"\b(open_store|store_from_settings|SQLiteStore|CassandraStore)\(", text)
    }
    assert openers and all(name == "service.py" or name.startswith("storage/") for name in openers), openers


def test_the_web_app_uses_the_service_only_through_its_methods() -> None:
    web = {name: text for name, text in sources().items() if name.startswith("web/")}
    reaching = {
        name for name, text in web.items() if re.search(r"\.(store|classifier|_store|_classifier)\b", text)
    }
    assert reaching == set()
    assert "fashion_classifier.web.api" not in web["web/pages.py"]


def test_no_module_is_longer_than_the_limit() -> None:
    lengths = {name: text.count("\n") for name, text in sources().items()}
    assert {name: n for name, n in lengths.items() if n > MAX_MODULE_LINES} == {}


def test_the_request_limits_come_from_the_environment_under_their_own_names() -> None:
    settings = Settings.from_env(
        {
            "MAX_PIXELS": "1000",
            "MAX_REQUEST_PIXELS": "2000",
            "MAX_FILES_PER_REQUEST": "3",
            "STORED_IMAGE_MAX_SIDE": "64",
        }
    )
    assert settings.limits == Limits(
        max_pixels=1000, max_request_pixels=2000, max_files_per_request=3, stored_image_max_side=64
    )
    assert Settings.from_env({}).limits == Limits()
